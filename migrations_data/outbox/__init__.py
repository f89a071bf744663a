"""The monolith's transactional outbox: trigger-written rows (triggers), the relay to the broker
(relay), and the sync status and lag (status)."""

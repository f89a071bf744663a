"""The Payment service's HTTP API: /api/v1/payments (the monolith's contract), /internal/v1 (charges for
the Order service's saga, sync), and the shadow candidate of checkout."""

"""Mechanisms several processes run: the hash-chained audit log, circuit breakers, bulkheads and retries
with exponential backoff and full jitter, key material and AES-256-GCM sealing, atomic file writes.

Pure Python: no Django, no mitmproxy, and nothing of the project (import-linter enforces it).
"""

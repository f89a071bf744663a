"""Mechanisms several processes run, pure Python: no Django, no mitmproxy, and nothing of the project
(import-linter enforces it).

- `kernel.audit`: the hash-chained audit log (HMAC-SHA256 under a key per log, signed head and
  checkpoints, one verify) that the flags, the gateway and the services keep their logs with.
- `kernel.resilience`: circuit breakers and bulkheads.
- `kernel.retry`: retry with exponential backoff, full jitter, a cap and the caller's deadline (on
  tenacity). Three entry points, nothing else:
  - `retry_call(fn, *args, retry_on=..., attempts=5, base=0.1, cap=5.0, deadline=None, **kwargs)`: call
    and retry; the result, or the last exception once the attempts or the deadline (a
    `time.monotonic()` instant) are spent.
  - `retrying(retry_on=..., ...)`: the same policy as a tenacity `Retrying` (`for attempt in ...: with
    attempt: ...`; extra tenacity options such as `before_sleep` pass through).
  - `backoff_delay(attempt, base=..., cap=...)`: the sleep after failed attempt n, uniform in
    [0, min(cap, base * 2**(n-1))], for loops that sleep by themselves (relays, pollers).
  Retry only what is idempotent (or carries an idempotency key), and give the deadline of the work the
  retry serves, so a retry never outlives its caller.
- `kernel.crypto`: key material and AES-256-GCM sealing; `kernel.files`: atomic file writes.
- `kernel.lockout`: the failed-login lockout rule and its one counter per username (Redis, or a SQLite
  file without it), shared by the monolith's logins and the Auth service's (through chassis.lockout).
"""

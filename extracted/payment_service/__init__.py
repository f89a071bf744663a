"""The Payment service: card payments extracted from the monolith. Charges are asynchronous (202, then
`payment.*` events and a status endpoint), the monolith's /api/v1/payments contract is kept, provider calls
retry as Celery tasks bounded by the order's deadline, a reconciler settles what a timeout or a lost webhook
left open, and mirrored shadow requests move no money. Run it with `python -m extracted.payment_service`."""

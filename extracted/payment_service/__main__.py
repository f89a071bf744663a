"""`python -m extracted.payment_service <command>`: migrate, serve [--bind host:port], relay_outbox,
payments reconcile [--since] [--dry-run], keys rotate|reencrypt|list, audit verify, ...

Django's commands plus the chassis' (`serve` is gunicorn on :8104 by default), all with this service's
settings."""

from chassis.runner import main

if __name__ == "__main__":
    main("extracted.payment_service.settings")

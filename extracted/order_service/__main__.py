"""`python -m extracted.order_service <command>`: migrate, serve (gunicorn on :8103), consume
order_service.saga_participants|order_service.saga_orchestrator, relay_outbox, worker, beat, sagas, events."""

from chassis.runner import main

if __name__ == "__main__":
    main("extracted.order_service.settings")

"""`python -m extracted.notification_service <command>`: migrate, serve [--bind host:port] (:8105),
consume notification_service.events|notification_service.deliveries, worker, beat, events dlq ...

Django's commands plus the chassis', all with this service's settings."""

from chassis.runner import main

if __name__ == "__main__":
    main("extracted.notification_service.settings")

"""`python -m extracted.product_service <command>`: migrate, serve [--bind host:port], consume, ...

Django's commands plus the chassis' `serve` (gunicorn on :8101 by default) and `consume` (the catalog and
stock event consumers), all with this service's settings."""

from chassis.runner import main

if __name__ == "__main__":
    main("extracted.product_service.settings")

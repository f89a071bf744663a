"""`python -m extracted.auth_service <command>`: migrate, serve [--bind host:port], auth keys rotate,
auth audit verify, auth clients create, ...

Django's commands plus the chassis' `serve` (gunicorn on :8102 by default), all with this service's
settings."""

from chassis.runner import main

if __name__ == "__main__":
    main("extracted.auth_service.settings")

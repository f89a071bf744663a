"""Where the processes of a local stack listen, and how their addresses follow `<NAME>_PORT` (one table, so
`make monolith|gateway|...`, each service's `serve`, the gateway's upstreams and AUTH_ISSUER agree).

`<NAME>_URL` wins when set (another host, https); else `http://127.0.0.1:<NAME>_PORT`; else the default
port below. `.env.example` runs a whole stack on other ports by setting only the `*_PORT` variables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

DEFAULT_PORTS = {
    "MONOLITH": 8000,
    "GATEWAY": 8080,
    "PRODUCT_SERVICE": 8101,
    "AUTH_SERVICE": 8102,
    "ORDER_SERVICE": 8103,
    "PAYMENT_SERVICE": 8104,
    "NOTIFICATION_SERVICE": 8105,
    "SANDBOX": 8900,
}


def port_of(name: str, env: Mapping[str, str] | None = None) -> int:
    """`<NAME>_PORT`, else the default port of `name` (MONOLITH, PRODUCT_SERVICE, ...)."""
    env = os.environ if env is None else env
    raw = (env.get(f"{name}_PORT") or "").strip()
    if raw:
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise ValueError(f"{name}_PORT={raw!r} is not a port from 1 to 65535")
        return int(raw)
    return DEFAULT_PORTS[name]


def url_of(name: str, env: Mapping[str, str] | None = None) -> str:
    """`<NAME>_URL`, else http://127.0.0.1:<port_of(name)>."""
    env = os.environ if env is None else env
    return (env.get(f"{name}_URL") or "").strip() or f"http://127.0.0.1:{port_of(name, env)}"


def auth_issuer(env: Mapping[str, str] | None = None) -> str:
    """AUTH_ISSUER, else the Auth service's address: the `iss` its tokens carry and everyone checks."""
    env = os.environ if env is None else env
    return (env.get("AUTH_ISSUER") or "").strip() or url_of("AUTH_SERVICE", env)


def urls_from_ports(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """`<NAME>_URL` for every process whose `<NAME>_PORT` is set and whose URL is not: what a process
    that reads URLs (the gateway's routes.yaml) adds to its environment so it follows the ports too."""
    env = os.environ if env is None else env
    return {
        f"{name}_URL": url_of(name, env)
        for name in DEFAULT_PORTS
        if (env.get(f"{name}_PORT") or "").strip() and not (env.get(f"{name}_URL") or "").strip()
    }

"""Settings shared by every extracted service, read from the environment once.

A service's settings module does `globals().update(service_settings("product_service", ...))` and may then
adjust the result. Defaults give the embedded profile (SQLite and a filesystem broker under var/);
development defaults marked DEV-ONLY are refused when DEBUG is off.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from chassis.forwarded import DEFAULT_TRUSTED_PROXIES
from chassis.logging import json_logging
from contracts.cli import EnvironmentUnusable
from kernel.mtls import MutualTls, MutualTlsError

BASE_DIR = Path(__file__).resolve().parents[1]
EVENTS_EXCHANGE = "strangler.events"
DEV_INTERNAL_API_TOKEN = "dev-only-internal-api-token"  # DEV-ONLY


def dev_secret_key(name: str) -> str:
    return f"dev-only-insecure-{name}-secret-key"  # DEV-ONLY


def env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    return default if raw is None else raw.strip().lower() in {"1", "true", "yes", "on"}


def env_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    return default if raw in (None, "") else int(raw)


def env_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    return default if raw in (None, "") else float(raw)


def filesystem_broker_options(folder: Path) -> dict[str, Any]:
    """kombu filesystem transport options: one folder shared by every process of the embedded profile."""
    for sub in ("queue", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
        "store_processed": False,
        # kombu lists the folder once a second by default: a payment (process, then capture) took ~2 s,
        # past the saga's synchronous wait for it. Ten looks a second cost next to nothing.
        "polling_interval": 0.1,
    }


def internal_tls_from_env(env: Mapping[str, str]) -> MutualTls | None:
    """INTERNAL_TLS_CERT/KEY/CA (+ INTERNAL_TRUST_DOMAIN): mutual TLS on the internal hops, or None."""
    try:
        return MutualTls.from_env(env)
    except MutualTlsError as exc:
        raise ImproperlyConfigured(str(exc)) from None


SQLITE_BUSY_TIMEOUT_SECONDS = 20


# DEV-ONLY (base64url of "dev-only-event-signing-kek-32byt"): seals the event-signing keys in development.
DEV_EVENT_KEY_ENCRYPTION_KEY = "ZGV2LW9ubHktZXZlbnQtc2lnbmluZy1rZWstMzJieXQ"
EVENT_SIGNATURE_MODES = ("enforce", "off")


def event_signing_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """The signed-events settings of a service or the monolith (chassis/event_keys.py, README table).

    EVENT_SIGNATURES: `enforce` (consumers refuse a critical event that is unsigned, forged, or from a
    source contracts/event_trust.py does not allow) or `off` (only the digest is checked); publishers
    sign critical events either way (with EVENT_SIGNATURES=enforce and DEBUG off, the development
    EVENT_KEY_ENCRYPTION_KEY is refused). EVENT_KEYS_URLS: `source=url,...`, the JWKS of a publishing source,
    else `<SOURCE>_URL` (contracts/addresses.py) + /.well-known/event-keys.json."""
    from contracts.addresses import DEFAULT_PORTS, url_of
    from contracts.event_trust import EVENT_KEYS_PATH
    from kernel.crypto import KeyMaterialError, parse_encryption_key

    mode = env.get("EVENT_SIGNATURES", "off").strip().lower() or "off"
    if mode not in EVENT_SIGNATURE_MODES:
        raise ImproperlyConfigured(
            f"EVENT_SIGNATURES must be one of {', '.join(EVENT_SIGNATURE_MODES)}, not {mode!r}"
        )
    encryption_key = env.get("EVENT_KEY_ENCRYPTION_KEY", DEV_EVENT_KEY_ENCRYPTION_KEY)
    if (
        mode == "enforce"
        and not env_bool(env, "DEBUG", True)
        and encryption_key == DEV_EVENT_KEY_ENCRYPTION_KEY
    ):
        raise ImproperlyConfigured(
            "DEBUG is off and EVENT_SIGNATURES=enforce but EVENT_KEY_ENCRYPTION_KEY still holds the "
            "development default (anyone could unseal the event-signing keys)"
        )
    try:
        parse_encryption_key(encryption_key)
    except KeyMaterialError as exc:
        raise ImproperlyConfigured(f"EVENT_KEY_ENCRYPTION_KEY: {exc}") from None
    urls = {name.lower(): url_of(name, env) + EVENT_KEYS_PATH for name in DEFAULT_PORTS}
    for item in env.get("EVENT_KEYS_URLS", "").split(","):
        if not item.strip():
            continue
        source, sep, url = item.partition("=")
        if not sep or not source.strip() or not url.strip().startswith(("http://", "https://")):
            raise ImproperlyConfigured(f"EVENT_KEYS_URLS: {item.strip()!r} is not source=http(s)://...")
        urls[source.strip()] = url.strip()
    return {
        "EVENT_SIGNATURES": mode,
        "EVENT_KEY_ENCRYPTION_KEY": encryption_key,
        "EVENT_KEY_ROTATION_OVERLAP_SECONDS": env_int(
            env, "EVENT_KEY_ROTATION_OVERLAP_SECONDS", 7 * 24 * 3600
        ),
        "EVENT_KEYS_URLS": urls,
        "EVENT_KEYS_MAX_AGE_SECONDS": env_int(env, "EVENT_KEYS_MAX_AGE_SECONDS", 300),
    }


def database_config(setting: str, url: str, *, conn_max_age: int = 60) -> dict[str, Any]:
    """One DATABASES entry from the URL in `setting` (DATABASE_URL, PRODUCT_DATABASE_URL, ...).

    A URL that is not a database URL is refused by name (one line from every command). SQLite (the
    embedded profile) runs in WAL mode with a busy timeout and IMMEDIATE write transactions, so concurrent
    requests wait for the write lock instead of failing with `database is locked`; PostgreSQL gets a
    connect timeout so a server that does not answer fails a command in seconds."""
    try:
        database = dj_database_url.parse(url, conn_max_age=conn_max_age)
    except (ValueError, KeyError) as exc:  # UnknownSchemeError is a ValueError
        scheme = url.split("://", 1)[0] if "://" in url else url[:20]
        raise EnvironmentUnusable(  # not ImproperlyConfigured: Django would turn it into "Unknown command"
            "invalid_setting",
            f"{setting}: {scheme!r} is not a database URL ({type(exc).__name__}); expected "
            "postgres://USER@HOST:PORT/NAME or sqlite:///PATH",
        ) from None
    options = database.setdefault("OPTIONS", {})
    if database["ENGINE"].endswith("sqlite3"):
        if database["NAME"] and database["NAME"] != ":memory:":
            Path(database["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        options.setdefault("timeout", SQLITE_BUSY_TIMEOUT_SECONDS)
        options.setdefault("transaction_mode", "IMMEDIATE")
        options.setdefault("init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
    elif database["ENGINE"].endswith("postgresql"):
        options.setdefault("connect_timeout", 3)
        _postgres_mutual_tls(options)
    return database


def _postgres_mutual_tls(options: dict[str, Any]) -> None:
    """`?sslmode=verify-full` (or verify-ca) on a PostgreSQL URL, in a process with its internal certificate
    (INTERNAL_TLS_CERT/KEY/CA): unless the URL names other files, that certificate is presented, the
    internal CA is the one trusted and TLS 1.3 is the least accepted (mutual TLS to the database, as on
    every internal hop). Without sslmode in the URL nothing changes."""
    if options.get("sslmode") not in ("verify-full", "verify-ca"):
        return
    tls = internal_tls_from_env(os.environ)
    if tls is None:
        return
    options.setdefault("sslrootcert", tls.ca)
    options.setdefault("sslcert", tls.cert)
    options.setdefault("sslkey", tls.key)
    options.setdefault("ssl_min_protocol_version", "TLSv1.3")


def service_settings(
    name: str,
    *,
    database_env: str,
    root_urlconf: str,
    default_port: int,
    apps: Sequence[str] = (),
    with_auth: bool = False,
    consumers: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The settings of service `name` (e.g. "product_service") as a dict of upper-case names."""
    env = os.environ if env is None else env
    var_dir = Path(env.get("STRANGLER_VAR_DIR", BASE_DIR / "var"))
    debug = env_bool(env, "DEBUG", True)
    secret_key = env.get("SECRET_KEY", dev_secret_key(name))
    internal_token = env.get("INTERNAL_API_TOKEN", DEV_INTERNAL_API_TOKEN)
    if not debug:
        insecure = [
            var
            for var, value, dev in (
                ("SECRET_KEY", secret_key, dev_secret_key(name)),
                ("INTERNAL_API_TOKEN", internal_token, DEV_INTERNAL_API_TOKEN),
            )
            if value == dev
        ]
        if insecure:
            raise ImproperlyConfigured(
                f"DEBUG is off but {', '.join(insecure)} still hold development defaults"
            )

    internal_tls = internal_tls_from_env(env)

    database_url = env.get(database_env)
    if not database_url:
        var_dir.mkdir(parents=True, exist_ok=True)
        database_url = f"sqlite:///{var_dir / f'{name}.sqlite3'}"
    database = database_config(
        database_env, database_url, conn_max_age=env_int(env, "DATABASE_CONN_MAX_AGE", 60)
    )

    redis_url = env.get("REDIS_URL", "")
    broker_url = env.get("BROKER_URL", "")
    broker_options = {} if broker_url else filesystem_broker_options(var_dir / "broker")
    if broker_url.startswith(("amqp", "pyamqp")):
        broker_options = {"confirm_publish": True}
    max_body = env_int(env, "MAX_REQUEST_BODY_BYTES", 1024 * 1024)
    log_level = env.get("LOG_LEVEL", "INFO")

    base_apps = ["django.contrib.contenttypes"]
    if with_auth:
        base_apps.append("django.contrib.auth")
    base_apps += ["rest_framework", "chassis", "chassis.outbox"]
    return {
        "SERVICE_NAME": name,
        "SERVICE_PORT": int(env.get(f"{name.upper()}_PORT") or default_port),  # e.g. PRODUCT_SERVICE_PORT
        "BASE_DIR": BASE_DIR,
        "VAR_DIR": var_dir,
        "DEBUG": debug,
        "SECRET_KEY": secret_key,
        "ALLOWED_HOSTS": [h.strip() for h in env.get("ALLOWED_HOSTS", "*").split(",") if h.strip()],
        "TRUSTED_PROXIES": env.get("TRUSTED_PROXIES") or DEFAULT_TRUSTED_PROXIES,
        "DATABASES": {"default": database},
        "INSTALLED_APPS": [*base_apps, *apps],
        "MIDDLEWARE": [
            "chassis.errors.JsonErrorsMiddleware",  # outermost: sees every response, DEBUG or not
            "chassis.forwarded.ForwardedHeadersMiddleware",  # first: the client's address, host, scheme
            "chassis.middleware.HeadResponseMiddleware",
            "chassis.middleware.RequestIdMiddleware",
            "chassis.ports.InternalPortMiddleware",
            "chassis.metrics.MetricsMiddleware",
            "chassis.middleware.BodySizeLimitMiddleware",
            "django.middleware.security.SecurityMiddleware",
            "django.middleware.common.CommonMiddleware",
        ],
        "ROOT_URLCONF": root_urlconf,
        "WSGI_APPLICATION": "chassis.wsgi.application",
        "DEFAULT_AUTO_FIELD": "django.db.models.BigAutoField",
        "USE_TZ": True,
        "TIME_ZONE": "UTC",
        "LANGUAGE_CODE": "en-us",
        "APPEND_SLASH": False,
        "STATIC_URL": "static/",
        "MAX_REQUEST_BODY_BYTES": max_body,
        "DATA_UPLOAD_MAX_MEMORY_SIZE": max_body,
        "REDIS_URL": redis_url,
        # the X-Strangler-Identity replay guard: every verifier must name the same Redis (chassis.identity)
        "IDENTITY_REPLAY_REDIS_URL": env.get("IDENTITY_REPLAY_REDIS_URL") or redis_url,
        "READINESS_OPTIONAL": set(),  # /readyz checks reported but not required (chassis.health)
        "CACHES": {
            "default": (
                {
                    "BACKEND": "django.core.cache.backends.redis.RedisCache",
                    "LOCATION": redis_url,
                    "KEY_PREFIX": name,
                }
                if redis_url
                else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
            )
        },
        "BROKER_URL": broker_url or "filesystem://",
        "BROKER_CONFIGURED": bool(broker_url),
        "BROKER_TRANSPORT_OPTIONS": broker_options,
        "EVENTS_EXCHANGE": EVENTS_EXCHANGE,
        "EVENT_SOURCE": name,
        "CONSUMERS": list(consumers),
        "CONSUMER_MAX_ATTEMPTS": env_int(env, "CONSUMER_MAX_ATTEMPTS", 5),
        "CONSUMER_RETRY_BASE_MS": env_int(env, "CONSUMER_RETRY_BASE_MS", 1000),
        **event_signing_settings(env),
        "INTERNAL_API_TOKEN": internal_token,
        "INTERNAL_TLS": internal_tls,  # kernel.mtls.MutualTls, or None: plain HTTP on the internal hops
        "PROMETHEUS_MULTIPROC_DIR": env.get("PROMETHEUS_MULTIPROC_DIR", ""),
        "REST_FRAMEWORK": {
            "DEFAULT_AUTHENTICATION_CLASSES": [],
            "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
            "DEFAULT_PARSER_CLASSES": ["chassis.parsers.BoundedJSONParser"],
            "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
            "EXCEPTION_HANDLER": "chassis.exceptions.exception_handler",
            "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser" if with_auth else None,
        },
        "LOG_LEVEL": log_level,
        "LOGGING": json_logging(log_level, static_fields={"service": name}),
    }

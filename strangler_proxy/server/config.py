"""The runner's configuration: command line and GATEWAY_* environment defaults, parsed once into a frozen
RunnerConfig that the parent hands to every worker (as JSON)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from mitmproxy.utils import human

from contracts import cli
from contracts.addresses import port_of, url_of

ADDON_SETS = ("auto", "gateway", "passthrough")
RUNNER_OWNED_OPTIONS = frozenset({"mode", "listen_host", "listen_port", "server"})


class ConfigError(cli.UsageError):
    """The runner's own configuration is invalid (the message says which setting and why): exit 2."""


@dataclass(frozen=True, slots=True)
class RunnerConfig:
    """Everything a worker needs to build its master; the parent validates it before binding the port."""

    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    upstream: str = "http://127.0.0.1:8000"
    routes: str | None = None
    settings: tuple[str, ...] = ()  # extra mitmproxy/addon options, "name=value"
    addon_set: str = "auto"
    stream_large_bodies: str | None = "1m"
    body_size_limit: str | None = None
    backlog: int = 1024
    graceful_timeout: float = 10.0
    worker_header: bool = False
    optimize: bool = True
    loop: str = "auto"
    malloc: str = "malloc"
    log_level: str = "warning"
    max_restarts: int = 5
    restart_window: float = 60.0
    startup_timeout: float = 60.0
    # TLS at the edge and towards upstreams (strangler_proxy.server.tls); the parent validates the files
    # and fills tls_options (JSON of mitmproxy options) for the workers
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_min_version: str = "TLS1_3"
    hsts_max_age: int = 31536000
    upstream_client_cert: str | None = None
    upstream_client_key: str | None = None
    upstream_ca: str | None = None
    tls_options: str = ""

    @property
    def tls_files(self):
        from .tls import TlsFiles

        return TlsFiles(
            cert=self.tls_cert,
            key=self.tls_key,
            min_version=self.tls_min_version,
            hsts_max_age=self.hsts_max_age,
            upstream_client_cert=self.upstream_client_cert,
            upstream_client_key=self.upstream_client_key,
            upstream_ca=self.upstream_ca,
        )

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, raw: str) -> RunnerConfig:
        data = json.loads(raw)
        data["settings"] = tuple(data.get("settings") or ())
        return cls(**data)

    @property
    def mode(self) -> str:
        """mitmproxy's mode spec: reverse proxy to the default upstream (the address is in listen_host/port:
        addons parse this spec to learn the legacy upstream, so it carries no @listen suffix)."""
        return f"reverse:{self.upstream}"


def parse_listen(raw: str) -> tuple[str, int]:
    """`HOST:PORT`, `[V6]:PORT` or `PORT` (on 127.0.0.1)."""
    text = raw.strip()
    if text.isdigit():
        host, port_text = "127.0.0.1", text
    elif text.startswith("["):
        host, sep, port_text = text[1:].partition("]:")
        if not sep:
            raise ConfigError(f"--listen {raw!r}: expected [IPV6]:PORT")
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep or not host:
            raise ConfigError(f"--listen {raw!r}: expected HOST:PORT")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError(f"--listen {raw!r}: the port must be a number within 0..65535")
    return host, int(port_text)


def check_upstream(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"--upstream {url!r}: expected http://HOST[:PORT] or https://HOST[:PORT]")
    if parts.path not in ("", "/") or parts.query:
        raise ConfigError(f"--upstream {url!r}: a reverse-proxy target has no path or query")
    return f"{parts.scheme}://{parts.netloc}"


def _check_size(name: str, value: str | None) -> str | None:
    if value in (None, "", "0", "none", "off"):
        return None
    try:
        human.parse_size(value)
    except ValueError:
        raise ConfigError(f"{name} {value!r}: expected a size such as 512k, 1m or 2g") from None
    return value


def default_workers() -> int:
    """One worker per CPU this process may run on."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # pragma: no cover (not Linux)
        return os.cpu_count() or 1


def build_parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = cli.ArgumentParser(
        prog="python -m strangler_proxy",
        error_prog="strangler_proxy",
        description="The strangler gateway: mitmproxy's proxy core with the gateway addons, "
        "in several worker processes sharing one listening port.",
    )
    parser.add_argument(
        "--listen",
        default=env.get("GATEWAY_LISTEN") or f"127.0.0.1:{port_of('GATEWAY', env)}",
        help="HOST:PORT to listen on (GATEWAY_LISTEN, default 127.0.0.1:GATEWAY_PORT (8080); port 0 picks a "
        "free one)",
    )
    parser.add_argument(
        "--workers",
        type=cli.positive_int,
        default=int(env["GATEWAY_WORKERS"]) if env.get("GATEWAY_WORKERS") else None,
        help="worker processes (GATEWAY_WORKERS, default: one per CPU)",
    )
    parser.add_argument(
        "--upstream",
        default=url_of("MONOLITH", env),
        help="the default (legacy) upstream, mitmproxy's reverse target (MONOLITH_URL, default "
        "http://127.0.0.1:8000)",
    )
    parser.add_argument(
        "--routes",
        default=env.get("ROUTES_FILE") or None,
        help="routes.yaml for the gateway addons (ROUTES_FILE; default: the addons' own default)",
    )
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any mitmproxy or gateway addon option, as with mitmdump --set (repeatable)",
    )
    parser.add_argument(
        "--addons",
        dest="addon_set",
        choices=ADDON_SETS,
        default=env.get("GATEWAY_ADDONS", "auto"),
        help="gateway: strangler_proxy/addon.py's addons (required); passthrough: none, a plain reverse "
        "proxy; auto (default): the gateway's when addon.py lists any (GATEWAY_ADDONS)",
    )
    parser.add_argument(
        "--stream-large-bodies",
        default=env.get("GATEWAY_STREAM_LARGE_BODIES", "1m"),
        help="bodies above this size are streamed, not buffered, so memory stays flat "
        "(GATEWAY_STREAM_LARGE_BODIES, default 1m; 0 buffers everything)",
    )
    parser.add_argument(
        "--body-size-limit",
        default=env.get("GATEWAY_BODY_SIZE_LIMIT") or None,
        help="refuse bodies above this size with 413 (GATEWAY_BODY_SIZE_LIMIT, default: no limit)",
    )
    parser.add_argument(
        "--backlog",
        type=cli.positive_int,
        default=1024,
        help="listen backlog of each worker's socket (1024)",
    )
    parser.add_argument(
        "--graceful-timeout",
        type=cli.non_negative_float,
        default=float(env.get("GATEWAY_GRACEFUL_TIMEOUT", "10")),
        help="seconds a stopping worker waits for requests in flight (GATEWAY_GRACEFUL_TIMEOUT, 10)",
    )
    parser.add_argument(
        "--worker-header",
        action="store_true",
        default=env.get("GATEWAY_WORKER_HEADER", "") in ("1", "true", "yes"),
        help="add X-Strangler-Worker: <pid> to every response (debugging; GATEWAY_WORKER_HEADER=1)",
    )
    parser.add_argument(
        "--no-optimize",
        dest="optimize",
        action="store_false",
        help="run workers without python -O (keeps mitmproxy's per-message type checks and asserts)",
    )
    parser.add_argument(
        "--loop",
        choices=("auto", "uvloop", "asyncio"),
        default=env.get("GATEWAY_LOOP", "auto"),
        help="event loop of the workers: uvloop (faster I/O and task scheduling), asyncio, or auto "
        "(default: uvloop when installed; GATEWAY_LOOP)",
    )
    parser.add_argument(
        "--malloc",
        choices=("malloc", "pymalloc"),
        default=env.get("GATEWAY_MALLOC", "malloc"),
        help="the workers' memory allocator (PYTHONMALLOC): malloc (default), glibc's, so the memory a storm "
        "of hostile connections used goes back to the system when it ends; pymalloc, CPython's own, keeps "
        "part of it but costs ~13%% less CPU per request (GATEWAY_MALLOC)",
    )
    parser.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default=env.get("GATEWAY_LOG_LEVEL", "warning"),
        help="workers' log level (GATEWAY_LOG_LEVEL, default warning: nothing per request)",
    )
    parser.add_argument(
        "--max-restarts",
        type=cli.positive_int,
        default=5,
        help="give up (exit 1) when workers crash more than this often within --restart-window (5)",
    )
    parser.add_argument("--restart-window", type=cli.non_negative_float, default=60.0, help="seconds (60)")
    tls = parser.add_argument_group("TLS (edge and upstreams)")
    tls.add_argument(
        "--tls-cert",
        default=env.get("GATEWAY_TLS_CERT") or None,
        help="serve HTTPS with this PEM certificate chain (GATEWAY_TLS_CERT); plain HTTP is then refused",
    )
    tls.add_argument(
        "--tls-key", default=env.get("GATEWAY_TLS_KEY") or None, help="its key (GATEWAY_TLS_KEY)"
    )
    tls.add_argument(
        "--tls-min-version",
        default=env.get("GATEWAY_TLS_MIN_VERSION", "TLS1_3"),
        help="lowest TLS version clients may use: TLS1_3 (default) or TLS1_2 (GATEWAY_TLS_MIN_VERSION)",
    )
    tls.add_argument(
        "--hsts-max-age",
        type=int,
        default=int(env.get("GATEWAY_HSTS_MAX_AGE", "31536000")),
        help="Strict-Transport-Security max-age on HTTPS answers, 0 = none (GATEWAY_HSTS_MAX_AGE, a year)",
    )
    tls.add_argument(
        "--upstream-client-cert",
        default=env.get("GATEWAY_UPSTREAM_CLIENT_CERT") or None,
        help="mutual TLS to https upstreams: this PEM client certificate (GATEWAY_UPSTREAM_CLIENT_CERT)",
    )
    tls.add_argument(
        "--upstream-client-key",
        default=env.get("GATEWAY_UPSTREAM_CLIENT_KEY") or None,
        help="its key, unless in the certificate's file (GATEWAY_UPSTREAM_CLIENT_KEY)",
    )
    tls.add_argument(
        "--upstream-ca",
        default=env.get("GATEWAY_UPSTREAM_CA") or None,
        help="pin the CA https upstreams must present a certificate of (GATEWAY_UPSTREAM_CA)",
    )
    parser.add_argument(
        "--startup-timeout",
        type=cli.non_negative_float,
        default=60.0,
        help="seconds a worker may take to start serving (60)",
    )
    return parser


def parse_config(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> RunnerConfig:
    """RunnerConfig from the command line; raises ConfigError on a bad value, SystemExit on bad syntax."""
    env = os.environ if env is None else env
    args = build_parser(env).parse_args(argv)
    host, port = parse_listen(args.listen)
    if args.routes is not None and not os.path.isfile(args.routes):
        raise ConfigError(f"--routes {args.routes!r}: no such file")
    for spec in args.settings:
        if "=" not in spec:
            raise ConfigError(f"--set {spec!r}: expected NAME=VALUE")
        if spec.split("=", 1)[0] in RUNNER_OWNED_OPTIONS:
            raise ConfigError(f"--set {spec!r}: the runner sets this itself (use --listen / --upstream)")
    from .tls import TlsConfigError, TlsFiles, validate

    files = TlsFiles(
        cert=args.tls_cert,
        key=args.tls_key,
        min_version=args.tls_min_version,
        hsts_max_age=args.hsts_max_age,
        upstream_client_cert=args.upstream_client_cert,
        upstream_client_key=args.upstream_client_key,
        upstream_ca=args.upstream_ca,
    )
    try:
        validate(files)
    except TlsConfigError as exc:
        raise ConfigError(str(exc)) from None
    return RunnerConfig(
        tls_cert=files.cert and os.path.abspath(files.cert),
        tls_key=files.key and os.path.abspath(files.key),
        tls_min_version=files.min_version,
        hsts_max_age=files.hsts_max_age,
        upstream_client_cert=files.upstream_client_cert and os.path.abspath(files.upstream_client_cert),
        upstream_client_key=files.upstream_client_key and os.path.abspath(files.upstream_client_key),
        upstream_ca=files.upstream_ca and os.path.abspath(files.upstream_ca),
        host=host,
        port=port,
        workers=args.workers or default_workers(),
        upstream=check_upstream(args.upstream),
        routes=os.path.abspath(args.routes) if args.routes else None,
        settings=tuple(args.settings),
        addon_set=args.addon_set,
        stream_large_bodies=_check_size("--stream-large-bodies", args.stream_large_bodies),
        body_size_limit=_check_size("--body-size-limit", args.body_size_limit),
        backlog=args.backlog,
        graceful_timeout=args.graceful_timeout,
        worker_header=args.worker_header,
        optimize=args.optimize,
        loop=args.loop,
        malloc=args.malloc,
        log_level=args.log_level,
        max_restarts=args.max_restarts,
        restart_window=args.restart_window,
        startup_timeout=args.startup_timeout,
    )

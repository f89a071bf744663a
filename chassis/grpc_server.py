"""The chassis' gRPC server for the internal hot calls (issue 20): one rule for every method, as the REST
internal endpoints have (chassis.internal_auth), so a service declares only its servicers.

Each method, wrapped by `internal_method(callers=...)`:
- checks `authorization: Bearer <INTERNAL_API_TOKEN>` in the metadata (UNAUTHENTICATED otherwise);
- with mutual TLS configured (INTERNAL_TLS), reads the caller's service from its certificate's URI SAN
  (kernel.mtls, as the REST side) and refuses any service not in `callers` (PERMISSION_DENIED
  caller_not_allowed), even with the right token;
- validates the request with the protovalidate rules of its .proto (INVALID_ARGUMENT, a
  google.rpc.BadRequest naming each violation);
- maps an ApplicationError to the standard code of its HTTP status (409 -> FAILED_PRECONDITION, 404 ->
  NOT_FOUND, ...), the REST error's `code` as the google.rpc.ErrorInfo reason, its `extra` as metadata,
  plus whatever typed details the method adds (`details_for`).

The standard health service (grpc.health.v1) is served for Kubernetes' gRPC probes. Server TLS: the same
INTERNAL_TLS_CERT/KEY/CA, client certificates required, only the internal CA trusted. gRPC's Python API
cannot set a minimum TLS version, so a TLS 1.2 handshake completes, but every method refuses it
(PERMISSION_DENIED tls_version_refused, read from the call's auth context) before anything runs.
"""

from __future__ import annotations

import functools
import hmac
import logging
import signal
import threading
from collections.abc import Callable, Iterable
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
import protovalidate
from cryptography import x509
from django.conf import settings
from django.db import OperationalError, close_old_connections
from google.protobuf.message import Message
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from chassis.grpc_errors import (
    HTTP_TO_GRPC,
    RpcAbort,
    abort_for_error,
    bad_request,
    error_reason,
    send_abort,
    status_details,
)
from contracts.errors import ApplicationError
from kernel.mtls import MutualTls, peer_service

__all__ = [
    "HTTP_TO_GRPC", "GrpcServer", "Registration", "RpcAbort", "build_server", "error_reason",
    "internal_method", "serve_forever", "status_details",
]  # fmt: skip

log = logging.getLogger(__name__)


def bearer_token(context: grpc.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata():
        if key == "authorization":
            scheme, _, token = value.partition(" ")
            return token.strip() if scheme.lower() == "bearer" else ""
    return None


def peer_of(context: grpc.ServicerContext, trust_domain: str) -> str | None:
    """The caller's service from its verified client certificate's spiffe:// URI SAN (kernel.mtls)."""
    pems = context.auth_context().get("x509_pem_cert") or []
    if not pems:
        return None
    try:
        certificate = x509.load_pem_x509_certificate(pems[0])
        sans = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return None
    uris = sans.get_values_for_type(x509.UniformResourceIdentifier)
    return peer_service({"subjectAltName": tuple(("URI", uri) for uri in uris)}, trust_domain)


def check_caller(context: grpc.ServicerContext, callers: tuple[str, ...]) -> None:
    """The bearer token, then (mutual TLS configured) the certificate's identity against `callers`."""
    token = bearer_token(context)
    if not token:
        raise RpcAbort(grpc.StatusCode.UNAUTHENTICATED, "not_authenticated", "A bearer token is required")
    if not hmac.compare_digest(token.encode(), settings.INTERNAL_API_TOKEN.encode()):
        raise RpcAbort(grpc.StatusCode.UNAUTHENTICATED, "authentication_failed", "Invalid internal API token")
    mutual: MutualTls | None = getattr(settings, "INTERNAL_TLS", None)
    if mutual is None:
        return
    version = context.auth_context().get("ssl_tls_version") or [b""]
    if version[0] != b"TLSv1.3":  # gRPC's Python API cannot refuse TLS 1.2 in the handshake: refused here
        abort = RpcAbort(
            grpc.StatusCode.PERMISSION_DENIED,
            "tls_version_refused",
            f"Internal calls need TLS 1.3, not {version[0].decode() or 'plaintext'}",
        )
        abort.extra = {"tls_version": version[0].decode()}
        raise abort
    peer = peer_of(context, mutual.trust_domain)
    if peer is None:
        raise RpcAbort(
            grpc.StatusCode.PERMISSION_DENIED,
            "caller_not_allowed",
            "This internal method needs a client certificate naming a service of this trust domain",
        )
    if peer not in callers:
        abort = RpcAbort(
            grpc.StatusCode.PERMISSION_DENIED,
            "caller_not_allowed",
            f"The service {peer!r} may not call this method",
        )
        abort.extra = {"caller": peer, "allowed": sorted(callers)}
        raise abort


def internal_method(
    *, callers: tuple[str, ...], details_for: Callable[[ApplicationError], Iterable[Message]] | None = None
):
    """Wrap a unary servicer method `(self, request, context) -> response` with the chassis' rules."""

    def wrap(method):
        @functools.wraps(method)
        def handler(self, request, context):
            close_old_connections()
            try:
                check_caller(context, callers)
                violations = protovalidate.collect_violations(request)
                if violations:
                    raise bad_request(violations)
                try:
                    return method(self, request, context)
                except ApplicationError as exc:
                    raise abort_for_error(exc, details_for(exc) if details_for else ()) from exc
                except OperationalError as exc:  # the database is down or went away: worth a retry
                    log.warning("%s: database unavailable: %s", method.__name__, exc)
                    raise RpcAbort(
                        grpc.StatusCode.UNAVAILABLE, "database_unavailable", "The database is unavailable"
                    ) from exc
                except Exception as exc:  # like REST's 500: logged here, never detailed to the caller
                    log.exception("%s failed", method.__name__)
                    raise RpcAbort(grpc.StatusCode.INTERNAL, "internal_error", "Internal error") from exc
            except RpcAbort as abort:
                send_abort(context, abort)
            finally:
                close_old_connections()

        handler.internal_callers = callers
        return handler

    return wrap


def server_credentials(mutual: MutualTls) -> grpc.ServerCredentials:
    """TLS with client certificates required, trusting only the internal CA."""
    with open(mutual.key, "rb") as key, open(mutual.cert, "rb") as cert, open(mutual.ca, "rb") as ca:
        pair = (key.read(), cert.read())
        return grpc.ssl_server_credentials([pair], root_certificates=ca.read(), require_client_auth=True)


@dataclass
class Registration:
    """One service on the server: its full name (health) and the generated `add_*_to_server` function."""

    name: str
    add: Callable[[Any, grpc.Server], None]
    servicer: Any


@dataclass
class GrpcServer:
    server: grpc.Server
    port: int
    health: health.HealthServicer
    names: list[str] = field(default_factory=list)

    def stop(self, grace: float = 5.0) -> None:
        for name in ["", *self.names]:
            self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        self.server.stop(grace).wait()


def build_server(
    registrations: Iterable[Registration],
    *,
    bind: str,
    threads: int,
    mutual: MutualTls | None,
    reuse_port: bool = False,
) -> GrpcServer:
    """A started server on `bind` (port 0: a free one) with the health service, SERVING. `reuse_port`: several
    processes share the port (SO_REUSEPORT, the kernel spreads connections over them)."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="grpc"),
        options=[
            ("grpc.so_reuseport", int(reuse_port)),
            ("grpc.max_receive_message_length", 4 * 1024 * 1024),
        ],
    )
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = []
    for registration in registrations:
        registration.add(registration.servicer, server)
        names.append(registration.name)
    port = (
        server.add_secure_port(bind, server_credentials(mutual)) if mutual else server.add_insecure_port(bind)
    )
    if port == 0:
        raise OSError(f"cannot listen on {bind}")
    server.start()
    for name in ["", *names]:
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return GrpcServer(server, port, health_servicer, names)


def serve_forever(running: GrpcServer) -> None:
    """Until SIGTERM or SIGINT: then NOT_SERVING, and in-flight calls get 5 s to finish."""
    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopped.set())
    stopped.wait()
    running.stop()

"""Mutual TLS on the internal hops: TLS 1.3 only, a client certificate required, the peer's identity read
from its certificate's URI SAN. Both ends trust only the internal CA (never the system's roots), so a
certificate from any other CA fails the handshake. Pure `ssl`, no project imports."""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from kernel.pki import TRUST_DOMAIN, service_of

PEER_ENVIRON_KEY = "strangler.peer_service"  # the WSGI environ key a server puts the peer's service in


class MutualTlsError(ValueError):
    """The configured files do not make a usable TLS context (the message names the file)."""


@dataclass(frozen=True, slots=True)
class MutualTls:
    """INTERNAL_TLS_CERT, INTERNAL_TLS_KEY, INTERNAL_TLS_CA and INTERNAL_TRUST_DOMAIN of one process."""

    cert: str
    key: str
    ca: str
    trust_domain: str = TRUST_DOMAIN

    @classmethod
    def from_env(cls, env: Any) -> MutualTls | None:
        """None when INTERNAL_TLS_CERT is unset (plain HTTP inside, the embedded profile)."""
        cert = (env.get("INTERNAL_TLS_CERT") or "").strip()
        if not cert:
            return None
        key = (env.get("INTERNAL_TLS_KEY") or "").strip()
        ca = (env.get("INTERNAL_TLS_CA") or "").strip()
        if not key or not ca:
            raise MutualTlsError("INTERNAL_TLS_CERT needs INTERNAL_TLS_KEY and INTERNAL_TLS_CA as well")
        domain = (env.get("INTERNAL_TRUST_DOMAIN") or "").strip() or TRUST_DOMAIN
        return cls(cert, key, ca, domain)

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._configure(context)
        context.verify_mode = ssl.CERT_REQUIRED
        return context

    def client_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # check_hostname and CERT_REQUIRED by default
        self._configure(context)
        return context

    def _configure(self, context: ssl.SSLContext) -> None:
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        try:
            context.load_cert_chain(self.cert, self.key)
        except (OSError, ssl.SSLError) as exc:
            raise MutualTlsError(f"INTERNAL_TLS_CERT/KEY {self.cert!r}: {exc}") from None
        try:
            context.load_verify_locations(cafile=self.ca)
        except (OSError, ssl.SSLError) as exc:
            raise MutualTlsError(f"INTERNAL_TLS_CA {self.ca!r}: {exc}") from None


def peer_identities(peercert: dict[str, Any] | None) -> tuple[str, ...]:
    """The spiffe:// URI SANs of a verified peer certificate (`SSLSocket.getpeercert()`)."""
    if not peercert:
        return ()
    return tuple(
        value
        for kind, value in peercert.get("subjectAltName", ())
        if kind == "URI" and value.startswith("spiffe://")
    )


def peer_service(peercert: dict[str, Any] | None, trust_domain: str = TRUST_DOMAIN) -> str | None:
    """The service a verified peer certificate names in our trust domain; None when it names none or
    several (an ambiguous identity is no identity)."""
    names = {service_of(uri, trust_domain) for uri in peer_identities(peercert)}
    names.discard(None)
    return names.pop() if len(names) == 1 else None


def amqp_ssl(url: str, tls: MutualTls | None = None) -> dict[str, Any] | None:
    """The `ssl` options of a kombu Connection (py-amqp's) to `url`: None for anything but `amqps://`; for
    `amqps://`, TLS 1.3 with the broker's certificate and host name checked, and, when this process has its
    internal certificate (INTERNAL_TLS_CERT/KEY/CA, read from the environment unless `tls` is given), that
    certificate presented and the internal CA as the only one trusted: mutual TLS to RabbitMQ. Without one,
    the system's CAs (a managed broker)."""
    if not url.startswith("amqps://"):
        return None
    tls = tls if tls is not None else MutualTls.from_env(os.environ)
    options: dict[str, Any] = {
        "cert_reqs": ssl.CERT_REQUIRED,
        "server_hostname": urlsplit(url).hostname,
        "tls_minimum_version": ssl.TLSVersion.TLSv1_3,
    }
    if tls is not None:
        options.update(ca_certs=tls.ca, certfile=tls.cert, keyfile=tls.key)
    return options

"""TLS at the edge: the gateway serves HTTPS with a configured certificate and key (never one minted by
mitmproxy's CA), TLS 1.3 only unless a lower minimum is configured, HSTS on every HTTPS answer and a 400 for
plain HTTP sent to the TLS port; optionally mutual TLS towards upstreams (a client certificate, and the
upstreams' CA pinned instead of the system's).

The parent validates the files once (they exist, the key matches the certificate, the certificate is not
expired) and writes the key and chain into one private file in mitmproxy's `certs` format; workers only read
it. Everything here becomes mitmproxy options (`certs`, `tls_version_client_min`, `client_certs`,
`ssl_verify_upstream_trusted_ca`) plus the EdgeTls addon.
"""

from __future__ import annotations

import datetime
import os
import tempfile
from dataclasses import dataclass
from typing import Any

from mitmproxy import http

TLS_VERSIONS = ("TLS1_2", "TLS1_3")  # what the minimum may be; nothing older is offered
HSTS_HEADER = "Strict-Transport-Security"


class TlsConfigError(ValueError):
    """A TLS setting is unusable (the message names the setting and why)."""


@dataclass(frozen=True, slots=True)
class TlsFiles:
    cert: str | None = None  # PEM chain served to clients
    key: str | None = None  # its private key
    min_version: str = "TLS1_3"
    hsts_max_age: int = 31536000  # a year; 0 sends no HSTS
    upstream_client_cert: str | None = None  # PEM cert (+ key, or upstream_client_key) for upstreams
    upstream_client_key: str | None = None
    upstream_ca: str | None = None  # PEM CA bundle the upstreams' certificates must chain to

    @property
    def enabled(self) -> bool:
        return bool(self.cert)


def _read(setting: str, path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise TlsConfigError(f"{setting} {path!r}: {exc.strerror}") from None


def _check_pair(setting: str, cert_path: str, key_path: str | None) -> tuple[bytes, bytes]:
    """(key PEM, chain PEM) after checking that the key opens and matches the certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    chain = _read(setting, cert_path)
    key_pem = _read(setting, key_path) if key_path else chain
    try:
        certificate = x509.load_pem_x509_certificates(chain)[0]
    except ValueError:
        raise TlsConfigError(f"{setting} {cert_path!r}: not a PEM certificate") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        where = key_path or cert_path
        raise TlsConfigError(f"{setting}: {where!r} holds no unencrypted PEM private key") from None
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if key.public_key().public_bytes(der, public) != certificate.public_key().public_bytes(der, public):
        raise TlsConfigError(f"{setting}: the private key does not match the certificate {cert_path!r}")
    if certificate.not_valid_after_utc < datetime.datetime.now(datetime.UTC):
        expired = certificate.not_valid_after_utc
        raise TlsConfigError(f"{setting} {cert_path!r}: the certificate expired {expired}")
    key_only = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_only, chain


def validate(files: TlsFiles) -> TlsFiles:
    if files.min_version not in TLS_VERSIONS:
        raise TlsConfigError(f"--tls-min-version {files.min_version!r}: one of {', '.join(TLS_VERSIONS)}")
    if files.hsts_max_age < 0:
        raise TlsConfigError("--hsts-max-age must be zero or more")
    if bool(files.cert) != bool(files.key):
        raise TlsConfigError("--tls-cert and --tls-key go together")
    if files.cert:
        _check_pair("--tls-cert", files.cert, files.key)
    if files.upstream_client_key and not files.upstream_client_cert:
        raise TlsConfigError("--upstream-client-key needs --upstream-client-cert")
    if files.upstream_client_cert:
        _check_pair("--upstream-client-cert", files.upstream_client_cert, files.upstream_client_key)
    if files.upstream_ca:
        from cryptography import x509

        try:
            x509.load_pem_x509_certificates(_read("--upstream-ca", files.upstream_ca))
        except ValueError:
            raise TlsConfigError(f"--upstream-ca {files.upstream_ca!r}: not a PEM certificate") from None
    return files


def _private_file(prefix: str, content: bytes) -> str:
    fd, path = tempfile.mkstemp(prefix=prefix, suffix=".pem")
    with os.fdopen(fd, "wb") as handle:  # mkstemp: mode 0600
        handle.write(content)
    return path


def mitmproxy_settings(files: TlsFiles) -> tuple[dict[str, Any], list[str]]:
    """The mitmproxy options these files become, and the private files written for them (the parent deletes
    them when it stops). mitmproxy wants a key and its chain in one file."""
    settings: dict[str, Any] = {}
    written: list[str] = []
    if files.cert:
        key, chain = _check_pair("--tls-cert", files.cert, files.key)
        path = _private_file("strangler-edge-", key + chain)
        written.append(path)
        settings["certs"] = [f"*={path}"]
        settings["tls_version_client_min"] = files.min_version
    if files.upstream_client_cert:
        cert, key_path = files.upstream_client_cert, files.upstream_client_key
        key, chain = _check_pair("--upstream-client-cert", cert, key_path)
        path = _private_file("strangler-upstream-client-", chain + key)
        written.append(path)
        settings["client_certs"] = path
    if files.upstream_ca:
        settings["ssl_verify_upstream_trusted_ca"] = files.upstream_ca
        settings["ssl_insecure"] = False
    return settings, written


class EdgeTls:
    """On a TLS listener: HSTS on answers to TLS clients; plain HTTP refused with 400 `tls_required`."""

    name = "strangler_edge_tls"

    def __init__(self, hsts_max_age: int) -> None:
        self.hsts = f"max-age={hsts_max_age}; includeSubDomains" if hsts_max_age else None

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if flow.response is None and not flow.client_conn.tls_established:
            flow.response = http.Response.make(
                400,
                b'{"code": "tls_required", "message": "This port speaks HTTPS only", "extra": {}}',
                {"Content-Type": "application/json", "Connection": "close"},
            )

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        if self.hsts and flow.response is not None and flow.client_conn.tls_established:
            flow.response.headers[HSTS_HEADER] = self.hsts

    response = responseheaders  # answers an addon made itself in a request hook

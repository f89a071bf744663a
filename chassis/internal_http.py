"""The client side of mutual TLS for `requests`: a transport adapter whose TLS context is kernel.mtls's
(TLS 1.3, this process's certificate, the internal CA only).

It ignores `verify`/`cert` from the session or the environment on purpose: requests lets
REQUESTS_CA_BUNDLE override a session's `verify`, which would widen the trust of an internal hop to a
public bundle."""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import DEFAULT_POOLBLOCK, HTTPAdapter

from kernel.mtls import MutualTls


class MutualTlsAdapter(HTTPAdapter):
    def __init__(self, mutual: MutualTls, **kwargs: Any) -> None:
        self._context = mutual.client_context()
        super().__init__(**kwargs)

    def init_poolmanager(self, connections, maxsize, block=DEFAULT_POOLBLOCK, **pool_kwargs) -> None:
        super().init_poolmanager(connections, maxsize, block, ssl_context=self._context, **pool_kwargs)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, _ = super().build_connection_pool_key_attributes(request, True, None)
        return host_params, {"cert_reqs": "CERT_REQUIRED"}

    def cert_verify(self, conn, url, verify, cert) -> None:
        """Nothing: the context already holds the CA and the client certificate."""


def mount_internal_tls(
    session: requests.Session, mutual: MutualTls | None, **adapter: Any
) -> requests.Session:
    """With mutual TLS configured, https:// on `session` goes through MutualTlsAdapter."""
    if mutual is not None:
        session.mount("https://", MutualTlsAdapter(mutual, **adapter))
    return session

"""gunicorn's gthread worker that hands the verified peer's identity to the application.

gunicorn verifies the client certificate (chassis.gunicorn_conf's `ssl_context`: TLS 1.3, CERT_REQUIRED,
the internal CA only) but puts nothing of it in the WSGI environ. This worker reads the service named by
the peer certificate's URI SAN once per request, on the thread that runs it, and the application sees it as
`environ["strangler.peer_service"]` (chassis.internal_auth checks it against each endpoint's callers)."""

from __future__ import annotations

import os
import threading

from gunicorn.workers.gthread import ThreadWorker

from kernel.mtls import PEER_ENVIRON_KEY, peer_service
from kernel.pki import TRUST_DOMAIN

_current = threading.local()


class MutualTlsWorker(ThreadWorker):
    def load_wsgi(self) -> None:
        super().load_wsgi()
        application = self.wsgi
        trust_domain = os.environ.get("INTERNAL_TRUST_DOMAIN", "").strip() or TRUST_DOMAIN

        def with_peer(environ, start_response):
            peercert = getattr(_current, "peercert", None)
            environ[PEER_ENVIRON_KEY] = peer_service(peercert, trust_domain)
            return application(environ, start_response)

        self.wsgi = with_peer

    def handle_request(self, req, conn):
        getpeercert = getattr(conn.sock, "getpeercert", None)
        _current.peercert = getpeercert() if getpeercert else None
        try:
            return super().handle_request(req, conn)
        finally:
            _current.peercert = None

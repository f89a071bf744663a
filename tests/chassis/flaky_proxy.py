"""One TCP fault proxy for broker drills (and any TCP server): faults on the client's network path while the
server itself keeps running, no restart needed.

- `drop_first=N`: the first N new connections are closed at once (an outage that heals by itself);
- `cut()`: every live connection is dropped and new ones are refused until `restore()`.

Shared by the chassis tests (tests/chassis) and the outbox relay tests (tests/migrations_data).
"""

from __future__ import annotations

import contextlib
import socket
import threading

RABBITMQ = ("127.0.0.1", 5672)


class FlakyProxy:
    def __init__(self, target: tuple[str, int] = RABBITMQ, drop_first: int = 0):
        self.target = target
        self.drop_first = drop_first
        self.accepted = 0
        self.refusing = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def amqp_url(self) -> str:
        """The guest URL of a RabbitMQ target through this proxy."""
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:  # closed
                return
            self.accepted += 1
            if self.refusing or self.accepted <= self.drop_first:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Drop every live connection and refuse new ones until restore()."""
        self.refusing = True
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def restore(self) -> None:
        self.refusing = False

    def close(self) -> None:
        self.cut()
        self._server.close()

    def __enter__(self) -> FlakyProxy:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

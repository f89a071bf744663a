"""A real gRPC server (chassis.grpc_server, the StockService) on a free port inside the test process, so its
calls reach the test database; and a client stub with the internal token."""

from __future__ import annotations

from contextlib import contextmanager

import grpc
from django.conf import settings
from django.db import connections

from chassis.grpc_server import build_server
from contracts.rpc.techstore.stock.v1 import stock_pb2_grpc
from extracted.product_service.rpc import registrations


@contextmanager
def stock_server(*, mutual=None):
    """The server's worker threads open their own connections to the test database; CONN_MAX_AGE=0 closes
    them after each call, so flushing and dropping the test database never waits on them."""
    database = connections.settings["default"]
    previous_age, database["CONN_MAX_AGE"] = database.get("CONN_MAX_AGE", 0), 0
    running = build_server(registrations(), bind="127.0.0.1:0", threads=4, mutual=mutual)
    try:
        yield running
    finally:
        running.stop(grace=1)
        database["CONN_MAX_AGE"] = previous_age


def token_metadata(token: str | None = None) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token or settings.INTERNAL_API_TOKEN}"),)


def plain_stub(port: int) -> tuple[grpc.Channel, stock_pb2_grpc.StockServiceStub]:
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    return channel, stock_pb2_grpc.StockServiceStub(channel)

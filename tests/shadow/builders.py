"""Crafted shadow pairs: JSON answers with chosen differences, built through the real pair format."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from shadow.pairs import Exchange, ShadowPair
from shadow.rules import Rules
from shadow.rules_file import parse_rules

JSON = (("content-type", "application/json"),)


def answer(
    body: Any = None,
    *,
    status: int = 200,
    headers: tuple[tuple[str, str], ...] = JSON,
    raw: bytes | None = None,
    limit: int = 64 * 1024,
    elapsed_ms: float = 5.0,
) -> Exchange:
    data = raw if raw is not None else orjson.dumps(body)
    return Exchange.answered(status, headers, data, elapsed_ms, limit=limit)


def make_pair(
    primary: Exchange,
    candidate: Exchange,
    *,
    secondary: Exchange | None = None,
    candidate2: Exchange | None = None,
    route: str = "catalog.read",
    pair_id: str | None = None,
    trace_id: str | None = None,
    captured_at: str | None = None,
) -> ShadowPair:
    pair = ShadowPair.build(
        route=route,
        trace_id=trace_id or uuid.uuid4().hex,
        user="7",
        method="GET",
        path="/api/v1/catalog/products/1",
        query="",
        header_fields=(("accept", "application/json"),),
        body=None,
        primary=primary,
        candidate=candidate,
        secondary=secondary,
        candidate2=candidate2,
    )
    changes = {k: v for k, v in {"id": pair_id, "captured_at": captured_at}.items() if v}
    return ShadowPair.from_dict({**pair.to_dict(), **changes}) if changes else pair


def rules_from(text: str) -> Rules:
    return parse_rules(text, source="test-rules.yaml")

"""/api/v2 cursors: the store's keyset position, signed (tamper-checked) and bound to the query that
issued it, as one opaque URL-safe token. A token that was altered, or is replayed with other filters or
ordering, is a 400 invalid_cursor."""

from __future__ import annotations

from django.core import signing

from contracts.errors import ApplicationError
from extracted.product_service.store.common import query_fingerprint
from extracted.product_service.store.port import ProductQuery

SALT = "product_service.v2.cursor"
MAX_CURSOR_LENGTH = 2048


def encode_cursor(position: str, query: ProductQuery) -> str:
    return signing.dumps({"p": position, "q": query_fingerprint(query)}, salt=SALT, compress=True)


def decode_cursor(token: str, query: ProductQuery) -> str:
    """The store position inside `token`; 400 invalid_cursor when it was not issued for `query`."""
    if len(token) > MAX_CURSOR_LENGTH:
        raise _invalid("The cursor is too long")
    try:
        payload = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        raise _invalid("The cursor is not one this service issued") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("p"), str):
        raise _invalid("The cursor is not one this service issued")
    if payload.get("q") != query_fingerprint(query):
        raise _invalid("The cursor belongs to another query: keep the filters and ordering it came with")
    return payload["p"]


def _invalid(message: str) -> ApplicationError:
    return ApplicationError("invalid_cursor", message, extra={"field": "cursor"})

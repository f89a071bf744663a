"""Field paths: the one stable form the comparator reports, and the patterns the rules file matches with.

A stable path names a place in a response, with every list index written `[*]` so that the same field in
different list elements (and in different pairs) counts as one path:

    status                      the HTTP status
    error                       the upstream failed (timeout, refused connection) instead of answering
    headers.content-type        a compared response header (lower-case name)
    body                        the whole body (non-JSON bodies, capped bodies, a JSON/non-JSON mismatch)
    body.items[*].price         a JSON field; keys that are not plain names are quoted: body["a.b"]

Patterns (rules file) use the same syntax plus wildcards:
    .*    any one key         body.meta.*
    [*]   any list element    body.items[*].updated_at
    .**   any depth, also none   body.**.etag   (matches body.etag and body.items[*].etag)
A pattern must match the whole path.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_$@-]+")
_ROOT = re.compile(r"[a-z]+")
_TOKEN = re.compile(r'\.(\*\*|\*|[A-Za-z0-9_$@-]+)|\[\*\]|\[("(?:[^"\\]|\\.)*")\]')

_ANY_KEY = r'(?:\.[A-Za-z0-9_$@-]+|\["(?:[^"\\]|\\.)*"\])'
_ANY_SEGMENTS = r'(?:\.[A-Za-z0-9_$@-]+|\["(?:[^"\\]|\\.)*"\]|\[\*\])*'

ITEM = "[*]"


@lru_cache(maxsize=65536)
def key_segment(key: str) -> str:
    """The path segment of one object key: `.name`, or `["odd key"]` when it is not a plain name."""
    if _PLAIN_KEY.fullmatch(key):
        return "." + key
    return "[" + json.dumps(key, ensure_ascii=False) + "]"


def parse_pattern(text: str, *, roots: frozenset[str]) -> re.Pattern[str]:
    """A path pattern -> a compiled regex over stable paths; ValueError says what is wrong with it."""
    if not isinstance(text, str) or not text:
        raise ValueError("a path must be a non-empty string")
    root = _ROOT.match(text)
    if root is None or root.group() not in roots:
        raise ValueError(f"path {text!r} must start with {' or '.join(sorted(roots))}")
    parts = [re.escape(root.group())]
    position = root.end()
    while position < len(text):
        token = _TOKEN.match(text, position)
        if token is None:
            raise ValueError(f"path {text!r}: unexpected {text[position:]!r} at column {position + 1}")
        name, quoted = token.group(1), token.group(2)
        if name == "**":
            parts.append(_ANY_SEGMENTS)
        elif name == "*":
            parts.append(_ANY_KEY)
        elif name is not None:
            parts.append(re.escape("." + name))
        elif quoted is not None:
            try:
                key = json.loads(quoted)
            except ValueError:
                raise ValueError(f"path {text!r}: bad quoted key {quoted}") from None
            parts.append(re.escape(key_segment(key)))
        else:
            parts.append(re.escape(ITEM))
        position = token.end()
    return re.compile("".join(parts))

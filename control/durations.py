"""Durations as people write them in commands and files: `500ms`, `30s`, `5m`, `24h`, `7d`, or seconds."""

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")


def parse_duration(text: object) -> float:
    """Seconds; raises ValueError naming the accepted forms."""
    if isinstance(text, bool):
        raise ValueError(f"not a duration: {text!r}")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError(f"a duration cannot be negative: {text!r}")
        return float(text)
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"not a duration: {text!r} (write e.g. 500ms, 30s, 5m, 24h, 7d)")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def show_duration(seconds: float) -> str:
    """In the largest unit it reaches, to one decimal at most: 500ms, 45s, 1.5m, 3h (for 10803 s), 2d."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            value = round(seconds / size, 1 if seconds / size < 10 else 0)
            return f"{value:g}{unit}"
    return f"{seconds:g}s"

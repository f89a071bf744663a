"""argparse value types shared by the project's command-line tools."""

import argparse


def _whole_number(raw: str, minimum: int, rule: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be {rule}, not {value}")
    return value


def count(raw: str) -> int:
    """A whole number, zero or more."""
    return _whole_number(raw, 0, "zero or more")


def positive(raw: str) -> int:
    """A whole number, one or more."""
    return _whole_number(raw, 1, "at least 1")

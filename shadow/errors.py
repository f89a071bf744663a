"""The one error type of the shadow comparator: a stable code, a human message and extra details."""

from typing import Any


class ShadowError(Exception):
    """A comparator operation that cannot be done; the CLI prints `message` on one line and exits 2."""

    def __init__(self, code: str, message: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra or {}

    def __str__(self) -> str:
        return self.message


class RulesError(ShadowError):
    """The rules file is unusable. `problems` are (line, message) pairs; the message names file and line."""

    def __init__(self, source: str, problems: list[tuple[int, str]]) -> None:
        self.source = source
        self.problems = sorted(problems)
        lines = [f"{source}:{line}: {message}" for line, message in self.problems]
        super().__init__("invalid_rules", "invalid shadow rules:\n" + "\n".join(lines), {"problems": lines})

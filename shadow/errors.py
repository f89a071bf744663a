"""The shadow comparator's errors: the project's one application error type (a stable code, a human
message, extra details); the CLI prints the message on one line and exits 2."""

from contracts.errors import ApplicationError


class ShadowError(ApplicationError):
    def __init__(self, code: str, message: str, extra: dict | None = None) -> None:
        super().__init__(code, message, extra=extra)

    def __str__(self) -> str:
        return self.message


class RulesError(ShadowError):
    """The rules file is unusable. `problems` are (line, message) pairs; the message names file and line."""

    def __init__(self, source: str, problems: list[tuple[int, str]]) -> None:
        self.source = source
        self.problems = sorted(problems)
        lines = [f"{source}:{line}: {message}" for line, message in self.problems]
        super().__init__("invalid_rules", "invalid shadow rules:\n" + "\n".join(lines), {"problems": lines})

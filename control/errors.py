"""The control app's one error type: a stable code, a human message, extra details. Commands print the
message on one line and exit 2 (bad usage or an unusable environment)."""

from contracts.errors import ApplicationError


class ControlError(ApplicationError):
    def __init__(self, code: str, message: str, extra: dict | None = None) -> None:
        super().__init__(code, message, extra=extra)

    def __str__(self) -> str:
        return self.message


class FileProblems(ControlError):
    """A configuration file (rollout policy, gates) is invalid: every problem as `file:line: message`."""

    def __init__(self, source: str, problems: list[tuple[int, str]]) -> None:
        self.source = source
        self.problems = sorted(problems)
        lines = [f"{source}:{line}: {message}" for line, message in self.problems]
        super().__init__("invalid_file", "\n".join(lines), {"problems": lines})

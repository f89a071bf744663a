"""The control app's one error type: a stable code, a human message, extra details. Commands print the
message on one line and exit 2 (bad usage or an unusable environment), or 1 for a failed check
(GatesRefused)."""

from contracts.cli import EXIT_CHECK_FAILED
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


class GatesRefused(ControlError):
    """A route's evidence gates said no: a failed check (exit 1), one line per failed gate."""

    exit_code = EXIT_CHECK_FAILED

    def __init__(self, route: str, failed: list[str], extra: dict | None = None) -> None:
        plural = "s" if len(failed) != 1 else ""
        super().__init__(
            "gate_refused", f"route {route}: refused by {len(failed)} gate{plural}:", extra=extra or {}
        )
        self.detail_lines = tuple(failed)

"""The embedded profile's queue: append-only JSONL segments in a directory, one writer per segment (named
after the writer's pid and start time, so several gateway workers never share a file), rotated at
`segment_bytes`; a writer seals a segment it leaves (`<segment>.sealed`). One consumer (an exclusive lock
file) keeps its read positions in `<name>.offsets.json`, replaced atomically; it only ever reads complete
lines, so a writer that crashed mid-line leaves at most one torn line, which is skipped once the segment is
sealed or its writer is gone. Fully read sealed segments are deleted."""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from shadow.pairs import ShadowPair

from .addresses import DEFAULT_SEGMENT_BYTES, SEALED_SUFFIX, SEGMENT_SUFFIX, Message

logger = logging.getLogger(__name__)


class FileQueueWriter:
    """Appends pairs to this writer's own segment (one os.write of a whole line per pair, O_APPEND)."""

    def __init__(self, directory: Path, *, segment_bytes: int = DEFAULT_SEGMENT_BYTES, fsync: bool = False):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.segment_bytes = segment_bytes
        self.fsync = fsync
        self.writer_id = f"{os.getpid()}-{time.time_ns()}"
        self._sequence = 0
        self._fd: int | None = None
        self._size = 0
        self._path: Path | None = None

    def publish(self, pair: ShadowPair) -> None:
        self.append(pair.to_json())

    def append(self, record: bytes) -> None:
        if self._fd is None or self._size >= self.segment_bytes:
            self._rotate()
        line = record + b"\n"
        written = os.write(self._fd, line)
        if written != len(line):  # a short write (disk full): seal here so the torn line is skipped
            self._seal()
            raise OSError(errno.ENOSPC, "short write to the shadow queue segment")
        self._size += written
        if self.fsync:
            os.fsync(self._fd)

    def _rotate(self) -> None:
        self._seal()
        self._sequence += 1
        self._path = self.directory / f"{self.writer_id}-{self._sequence:06d}{SEGMENT_SUFFIX}"
        self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        self._size = 0

    def _seal(self) -> None:
        if self._fd is None:
            return
        os.close(self._fd)
        self._fd = None
        self._path.with_name(self._path.name + SEALED_SUFFIX).touch()

    def close(self) -> None:
        self._seal()


class FileQueueReader:
    """The one consumer of a file queue directory (an exclusive flock on `<name>.lock`)."""

    def __init__(self, directory: Path, *, name: str = "comparator", commit_every: int = 100) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.commit_every = commit_every
        self._offsets_path = self.directory / f"{name}.offsets.json"
        self._lock = open(self.directory / f"{name}.lock", "a+b")  # noqa: SIM115 -- held until close()
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise RuntimeError(f"another consumer {name!r} is reading {self.directory}") from None
        self.offsets: dict[str, int] = self._read_offsets()
        self._acked: dict[str, int] = dict(self.offsets)
        self._since_commit = 0
        self._torn: dict[str, tuple[int, int]] = {}  # segment -> (start, end) of its skipped torn line
        self.torn_lines = 0

    def _read_offsets(self) -> dict[str, int]:
        try:
            data = orjson.loads(self._offsets_path.read_bytes())
        except FileNotFoundError:
            return {}
        except orjson.JSONDecodeError:
            logger.error(
                "shadow queue offsets %s are unreadable; starting from the beginning", self._offsets_path
            )
            return {}
        return {k: v for k, v in data.items() if isinstance(k, str) and type(v) is int and v >= 0}

    def segments(self) -> list[Path]:
        return sorted(self.directory.glob(f"*{SEGMENT_SUFFIX}"))

    def poll(self, max_messages: int = 1000) -> list[Message]:
        """Complete lines not handed out yet, up to `max_messages`, oldest segment first."""
        messages: list[Message] = []
        for segment in self.segments():
            if len(messages) >= max_messages:
                break
            messages.extend(self._read_segment(segment, max_messages - len(messages)))
        return messages

    def _read_segment(self, segment: Path, limit: int) -> list[Message]:
        name = segment.name
        position = self.offsets.get(name, 0)
        messages: list[Message] = []
        try:
            handle = open(segment, "rb")  # noqa: SIM115 -- closed below
        except FileNotFoundError:
            return []
        with handle:
            handle.seek(position)
            while len(messages) < limit:
                line = handle.readline()
                if not line.endswith(b"\n"):  # end of the segment, or a line still being written
                    break
                position += len(line)
                if line.strip():
                    messages.append(Message(line[:-1], self._acker(name, position), source=name))
            at_end = not messages or len(messages) < limit
            size = os.fstat(handle.fileno()).st_size
        self.offsets[name] = position
        if at_end and size > position and self._finished(segment):
            # A torn last line: its writer crashed mid-write or stopped after a short write.
            self.torn_lines += 1
            logger.warning("shadow queue %s: skipping a torn last line of %d bytes", name, size - position)
            self.offsets[name] = size
            self._torn[name] = (position, size)
            self._advance(name, self._acked.get(name, 0))
        return messages

    def _advance(self, name: str, position: int) -> None:
        """Acknowledged up to `position`; a torn line right after it counts as done too."""
        torn = self._torn.get(name)
        if torn is not None and position >= torn[0]:
            position = max(position, torn[1])
        if position > self._acked.get(name, 0):
            self._acked[name] = position

    def _acker(self, name: str, position: int) -> Callable[[], None]:
        def ack() -> None:
            self._advance(name, position)
            self._since_commit += 1
            if self._since_commit >= self.commit_every:
                self.commit()

        return ack

    def _finished(self, segment: Path) -> bool:
        """Sealed by its writer, or its writer process is gone."""
        if segment.with_name(segment.name + SEALED_SUFFIX).exists():
            return True
        pid = segment.name.split("-", 1)[0]
        if not pid.isdigit():
            return True
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def commit(self) -> None:
        """Write the acknowledged positions (atomic replace); delete sealed segments read to the end."""
        self._since_commit = 0
        for segment in self.segments():
            name = segment.name
            done = self._acked.get(name, 0)
            if done and self._finished(segment) and done >= segment.stat().st_size:
                segment.unlink(missing_ok=True)
                segment.with_name(name + SEALED_SUFFIX).unlink(missing_ok=True)
                self._acked.pop(name, None)
                self.offsets.pop(name, None)
        live = {name: position for name, position in self._acked.items() if (self.directory / name).exists()}
        temporary = self._offsets_path.with_suffix(".tmp")
        with open(temporary, "wb") as handle:
            handle.write(orjson.dumps(live))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self._offsets_path)

    def rewind(self) -> None:
        """Forget positions handed out but not acknowledged (after a handler failed)."""
        self.offsets = dict(self._acked)

    def close(self) -> None:
        if self._lock.closed:
            return
        self.commit()
        fcntl.flock(self._lock, fcntl.LOCK_UN)
        self._lock.close()

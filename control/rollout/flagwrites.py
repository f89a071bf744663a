"""The controller's flag writes, through the flags commands' own functions: the same stores (flags file or
Unleash), the same gate check on a raise, the same hash-chained audit log, with the judge's evidence as
the audit entry's note. A rollback is ONE write: the flag switched off."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flags.audit import AuditLog
from flags.commands.rollout import flag_rollout
from flags.commands.toggle import flag_toggle
from flags.config import FlagsConfig
from flags.gates import effective_percentage
from flags.store import FlagStore, open_store


@dataclass
class FlagWriter:
    config: FlagsConfig
    store: FlagStore
    audit: AuditLog

    @classmethod
    def from_env(cls) -> FlagWriter:
        config = FlagsConfig.from_env()
        return cls(config, open_store(config), AuditLog.from_config(config))

    @property
    def propagation_seconds(self) -> float:
        """How long a write takes to reach every gateway: the file poll, or the server's tick plus the
        client's poll; the gateway's own memo (0.25 s) on top."""
        if self.config.uses_server:
            return 1.0 + self.config.refresh_interval + 0.25
        return self.config.file_poll_interval + 0.25

    def percentage(self, flag: str) -> tuple[int, str]:
        state = self.store.get_flag(flag)
        return effective_percentage(state), state.summary()

    def raise_to(self, flag: str, percentage: int, *, actor: str, note: dict[str, Any]) -> None:
        """Gated like `flags rollout` (GateRefused when a gate fails)."""
        flag_rollout(self.store, self.audit, name=flag, percentage=percentage, actor=actor, note=note)

    def switch_off(self, flag: str, *, actor: str, note: dict[str, Any]) -> None:
        flag_toggle(self.store, self.audit, name=flag, enabled=False, actor=actor, note=note)

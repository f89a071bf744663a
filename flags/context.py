"""The evaluation context of one request, in the facade's words and in Unleash's."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_ALIASES = {
    "user_id": "user_id",
    "userId": "user_id",
    "session_id": "session_id",
    "sessionId": "session_id",
    "remote_address": "remote_address",
    "remoteAddress": "remote_address",
    "properties": "properties",
}


@dataclass(frozen=True, slots=True)
class FlagContext:
    """Who is asking: user id (token or session), session id, client address, and free properties."""

    user_id: str | None = None
    session_id: str | None = None
    remote_address: str | None = None
    properties: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "FlagContext":
        """Accept either spelling (`user_id` or Unleash's `userId`); other keys become properties."""
        known: dict[str, Any] = {}
        properties = dict(data.get("properties") or {})
        for key, value in data.items():
            attr = _ALIASES.get(key)
            if attr is None:
                properties[key] = value
            elif attr != "properties":
                known[attr] = value
        return cls(**known, properties=properties)

    def to_unleash(self) -> dict[str, Any]:
        """Unleash's context. Without a user or a session, the client address stands in as the session,
        because Unleash's `default` stickiness falls back to a random number, not to remoteAddress."""
        context: dict[str, Any] = {}
        if self.user_id:
            context["userId"] = str(self.user_id)
        if self.session_id:
            context["sessionId"] = str(self.session_id)
        elif not self.user_id and self.remote_address:
            context["sessionId"] = str(self.remote_address)
        if self.remote_address:
            context["remoteAddress"] = str(self.remote_address)
        if self.properties:
            context["properties"] = {str(k): str(v) for k, v in self.properties.items()}
        return context

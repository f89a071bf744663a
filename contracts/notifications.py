"""What the Notification service consumes besides `order.*` and `payment.*`: account events.

`account.registered` (welcome) and `account.password_reset_requested` carry the address they go to, so a
message never waits for the user directory to catch up:

    {"user_id": int, "email": str, "first_name": str, "locale": "pt-BR" | "en" | "",
     "reset_url": str (password reset only)}

Categories a user may opt out of, per channel (`*` = every category / every channel). A transactional
message (a password reset) ignores every opt-out: the user asked for it.
"""

from __future__ import annotations

from typing import Any

ACCOUNT_REGISTERED = "account.registered"
ACCOUNT_PASSWORD_RESET_REQUESTED = "account.password_reset_requested"
ACCOUNT_EVENTS = (ACCOUNT_REGISTERED, ACCOUNT_PASSWORD_RESET_REQUESTED)
CHANNELS = ("email", "push", "sms")
CATEGORIES = ("account", "orders", "payments", "marketing")
LOCALES = ("pt-BR", "en")
ANY = "*"
STATES = ("queued", "sending", "sent", "delivered", "failed", "bounced", "suppressed")


def validate_account_event(event_type: str, data: Any) -> dict[str, Any]:
    """The data of an account event, checked; ValueError naming the first problem otherwise."""
    if not isinstance(data, dict):
        raise ValueError("data must be an object")
    user_id = data.get("user_id")
    if isinstance(user_id, bool) or not isinstance(user_id, int) or user_id < 1:
        raise ValueError("user_id must be a positive integer")
    email = data.get("email")
    if not isinstance(email, str) or "@" not in email or len(email) > 254:
        raise ValueError("email must be an email address")
    for name in ("first_name", "locale"):
        if not isinstance(data.get(name, ""), str):
            raise ValueError(f"{name} must be a string")
    if data.get("locale") and data["locale"] not in LOCALES:
        raise ValueError(f"locale must be one of {', '.join(LOCALES)}")
    if event_type == ACCOUNT_PASSWORD_RESET_REQUESTED and not (
        isinstance(data.get("reset_url"), str) and data["reset_url"].startswith(("https://", "http://"))
    ):
        raise ValueError("reset_url must be an http(s) URL")
    return data

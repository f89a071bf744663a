"""Calls to other processes' /internal/v1 endpoints (bearer INTERNAL_API_TOKEN): pooled keep-alive sessions
per thread, connect/read timeouts, and one rule for failures: unreachable, a timeout or a 5xx is
`ParticipantUnavailable` (the saga retries the step), any other answer is returned for the adapter to read."""

from __future__ import annotations

import threading
from typing import Any

import requests
from django.conf import settings

from chassis.tracing import outbound_headers

from .payments import ParticipantUnavailable

_local = threading.local()


def _session() -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session


def internal_post(base_url: str, path: str, body: dict[str, Any], *, what: str) -> tuple[int, dict[str, Any]]:
    """POST JSON to `<base_url><path>`; (status, JSON body) for answers below 500."""
    try:
        response = _session().post(
            base_url.rstrip("/") + path,
            json=body,
            headers={"Authorization": f"Bearer {settings.INTERNAL_API_TOKEN}", **outbound_headers()},
            timeout=(settings.ORDER_PARTICIPANT_CONNECT_TIMEOUT, settings.ORDER_PARTICIPANT_READ_TIMEOUT),
        )
    except requests.RequestException as exc:
        raise ParticipantUnavailable(f"{what} unreachable: {type(exc).__name__}: {exc}"[:300]) from exc
    if response.status_code >= 500:
        raise ParticipantUnavailable(f"{what} answered {response.status_code}")
    try:
        payload = response.json()
    except ValueError:
        raise ParticipantUnavailable(f"{what} answered {response.status_code} without JSON") from None
    if not isinstance(payload, dict):
        raise ParticipantUnavailable(f"{what} answered an unexpected body")
    if response.status_code in (401, 403):
        raise ParticipantUnavailable(f"{what} refused our credentials ({response.status_code})")
    return response.status_code, payload

"""Reading Prometheus endpoints for the controller's evidence (the gateway's, the Order service's)."""

from __future__ import annotations

import requests

from control.errors import ControlError


class EvidenceUnavailable(ControlError):
    def __init__(self, message: str) -> None:
        super().__init__("evidence_unavailable", message)


def scrape(urls: list[str], timeout: float) -> list[tuple[str, str]]:
    """(url, exposition text) of each Prometheus endpoint; EvidenceUnavailable naming the first that does
    not answer. No proxy from the environment: these are the platform's own addresses."""
    texts = []
    with requests.Session() as session:
        session.trust_env = False
        for url in urls:
            try:
                answer = session.get(url, timeout=timeout)
                answer.raise_for_status()
            except requests.RequestException as exc:
                raise EvidenceUnavailable(f"cannot read the metrics at {url}: {exc}") from None
            texts.append((url, answer.text))
    return texts

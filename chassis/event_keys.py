"""Signed critical events, the Django side: this service's event-signing keyring, the signer its outbox relay
runs every event through, the public JWKS it serves at /.well-known/event-keys.json, and the verifier its
consumers check every event with (the rules are contracts/event_trust.py).

- Keys: a chassis keyring (chassis/keyring.py) over `chassis_event_signing_key`, private halves sealed
  with AES-256-GCM under EVENT_KEY_ENCRYPTION_KEY; `events keys rotate` makes a new active key and the old
  one verifies for EVENT_KEY_ROTATION_OVERLAP_SECONDS (default 7 days: longer than an event waits in a
  queue or its retries).
- Signer: critical types only (contracts.event_trust.PUBLISHERS); the active key is re-read at most every
  ACTIVE_KEY_SECONDS, so a rotation takes effect within that without a restart.
- Verifier: with EVENT_SIGNATURES=enforce, a JWKS cache (contracts.jwks.JwksCache) per publishing source at
  EVENT_KEYS_URLS[source]; an unknown kid refetches that source's set once (a rotation), at most every
  JWKS_MIN_REFETCH_SECONDS.
- Fetching keys: over this process's mutual TLS client (settings.INTERNAL_TLS, chassis/internal_http.py)
  when one is configured, so an https:// EVENT_KEYS_URLS entry reaches a publisher's internal mTLS port
  like any other internal call; plain HTTP otherwise.
- Rolling upgrades: an event that arrived without a digest (its publisher not yet upgraded) is refused
  (`no_digest`) only with EVENT_SIGNATURES=enforce; otherwise it is accepted, counted in
  `events_without_digest_total{source}` and logged once per source and process. A digest that is present
  but wrong is refused whatever the mode (when the envelope is parsed).
"""

from __future__ import annotations

import functools
import logging
import threading
import time

import requests
from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from chassis.internal_http import mount_internal_tls
from chassis.keyring import Keyring, SigningMaterial
from chassis.metrics import counter
from contracts import event_trust
from contracts.events import Envelope
from contracts.jwks import JwksCache, http_fetch
from kernel.mtls import MutualTls

log = logging.getLogger(__name__)

ACTIVE_KEY_SECONDS = 5.0
JWKS_MIN_REFETCH_SECONDS = 5.0
WITHOUT_DIGEST = counter(
    "events_without_digest_total",
    "Events accepted without a digest (a publisher not yet upgraded), by source",
    ["source"],
)
_undigested_sources: set[str] = set()  # the sources already logged as sending events without a digest
_undigested_lock = threading.Lock()


def _rotated(data: dict) -> None:
    log.info("event-signing keys rotated: %s", data)


def _keyring() -> Keyring:
    from chassis.models import EventSigningKey

    return Keyring(
        EventSigningKey,
        encryption_key=lambda: settings.EVENT_KEY_ENCRYPTION_KEY,
        overlap_seconds=lambda: settings.EVENT_KEY_ROTATION_OVERLAP_SECONDS,
        on_rotated=_rotated,
    )


class _Lazy:
    ring: Keyring | None = None


def event_keyring() -> Keyring:
    if _Lazy.ring is None:
        _Lazy.ring = _keyring()
    return _Lazy.ring


class EventSigner:
    """Envelope -> Envelope: a critical event signed with this service's active key, anything else as is."""

    def __init__(self, keyring: Keyring | None = None, *, refresh_seconds: float = ACTIVE_KEY_SECONDS):
        self.keyring = keyring or event_keyring()
        self.refresh_seconds = refresh_seconds
        self._material: SigningMaterial | None = None
        self._read_at = float("-inf")

    def material(self) -> SigningMaterial:
        now = time.monotonic()
        if self._material is None or now - self._read_at >= self.refresh_seconds:
            self._material, self._read_at = self.keyring.active(), now
        return self._material

    def __call__(self, envelope: Envelope) -> Envelope:
        if not event_trust.is_critical(envelope.type):
            return envelope
        material = self.material()
        return event_trust.sign(envelope, kid=material.kid, key=material.private_key)


class KeysUnavailable(Exception):
    """A publisher's JWKS could not be fetched yet: the event is retried (not dead-lettered at once)."""


class _FromSettings:
    """EventVerifier's default `tls`: settings.INTERNAL_TLS."""


class EventVerifier:
    """Checks an event before its handler runs; `check` raises event_trust.Refused with the reason."""

    def __init__(
        self,
        mode: str | None = None,
        urls: dict[str, str] | None = None,
        *,
        tls: MutualTls | type[_FromSettings] | None = _FromSettings,
        **cache_options,
    ) -> None:
        self.mode = mode or settings.EVENT_SIGNATURES
        self.urls = dict(settings.EVENT_KEYS_URLS if urls is None else urls)
        if tls is _FromSettings:
            tls = getattr(settings, "INTERNAL_TLS", None)
        # one session per verifier: its https:// hops present this process's client certificate
        self.session = mount_internal_tls(requests.Session(), tls, pool_connections=4, max_retries=0)
        self._cache_options = {
            "default_max_age": settings.EVENT_KEYS_MAX_AGE_SECONDS,
            "min_refetch_seconds": JWKS_MIN_REFETCH_SECONDS,
            "fetch": functools.partial(http_fetch, session=self.session),
            **cache_options,
        }
        self._caches: dict[str, JwksCache] = {}
        self._lock = threading.Lock()

    @property
    def enforcing(self) -> bool:
        return self.mode == "enforce"

    def key_for(self, source: str, kid: str):
        with self._lock:
            cache = self._caches.get(source)
            if cache is None:
                url = self.urls.get(source)
                if url is None:
                    return None  # a source nobody publishes keys for: unknown_key
                cache = self._caches[source] = JwksCache(url, **self._cache_options)
        key = cache.key_for_kid(kid)
        if key is None and not cache.holds_keys:
            raise KeysUnavailable(f"{source}'s event keys at {cache.url} could not be fetched")
        return key

    def check(self, envelope: Envelope) -> None:
        if envelope.arrived_without_digest:
            if self.enforcing:
                raise event_trust.Refused(
                    "no_digest",
                    f"{envelope.type} {envelope.id} from {envelope.source} carries no digest "
                    "(EVENT_SIGNATURES=enforce)",
                )
            _accepted_without_digest(envelope)
        if self.enforcing:
            event_trust.verify(envelope, self.key_for)


def _accepted_without_digest(envelope: Envelope) -> None:
    WITHOUT_DIGEST.labels(envelope.source).inc()
    with _undigested_lock:
        first = envelope.source not in _undigested_sources
        _undigested_sources.add(envelope.source)
    if first:
        log.warning(
            "events from %s arrive without a digest (a publisher not yet upgraded?): accepted while "
            "EVENT_SIGNATURES is not enforce, counted in events_without_digest_total; first: %s %s",
            envelope.source,
            envelope.type,
            envelope.id,
        )


@require_GET
def event_keys_view(request):
    """This service's event-signing JWKS: the keys that verify now (public halves only)."""
    response = JsonResponse(event_keyring().jwks())
    response["Cache-Control"] = f"public, max-age={settings.EVENT_KEYS_MAX_AGE_SECONDS}"
    return response

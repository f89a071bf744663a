"""The lean master a worker runs: mitmproxy's proxy core with only the addons a reverse-proxy gateway needs,
hook dispatch precomputed per hook name, and a listener on a socket the parent bound.

Targets mitmproxy 12.x. Two internals are relied on, and check_mitmproxy() verifies both before anything
starts (an unsupported version is refused with a clear message instead of misbehaving):
- `mitmproxy.proxy.mode_servers.ReverseInstance.listen(self, host, port)` returns the list of servers the
  instance owns; it is replaced, in worker processes only, to serve on the inherited socket;
- `mitmproxy.addonmanager.AddonManager` keeps its addons in `.chain` and dispatches with `trigger_event` /
  `handle_lifecycle`, which DispatchingAddonManager overrides.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import socket
from collections.abc import Callable, Iterable
from typing import Any

from mitmproxy import addonmanager, exceptions, flow, hooks, master, options
from mitmproxy.addons import tlsconfig

logger = logging.getLogger(__name__)

SUPPORTED_MITMPROXY = ((12, 0), (13, 0))  # [lowest, first unsupported)


class UnsupportedMitmproxy(RuntimeError):
    """The installed mitmproxy is not one the runner's hooks into its internals were written for."""


def check_mitmproxy() -> str:
    """Return the mitmproxy version, or raise UnsupportedMitmproxy naming what does not match."""
    from mitmproxy import version
    from mitmproxy.proxy import mode_servers

    found = version.VERSION
    try:
        major_minor = tuple(int(part) for part in found.split(".")[:2])
    except ValueError:
        raise UnsupportedMitmproxy(f"cannot read the mitmproxy version {found!r}") from None
    lowest, beyond = SUPPORTED_MITMPROXY
    if not lowest <= major_minor < beyond:
        raise UnsupportedMitmproxy(
            f"mitmproxy {found} is not supported by strangler_proxy.server (it needs >= "
            f"{lowest[0]}.{lowest[1]}, < {beyond[0]}.{beyond[1]}): its listener hook and hook dispatch "
            "rely on mitmproxy internals. Run the gateway with plain mitmdump (make gateway) or install "
            "a supported mitmproxy."
        )
    listen = getattr(getattr(mode_servers, "ReverseInstance", None), "listen", None)
    if listen is None or list(inspect.signature(listen).parameters) != ["self", "host", "port"]:
        raise UnsupportedMitmproxy(
            f"mitmproxy {found}: mode_servers.ReverseInstance.listen(self, host, port) is missing or changed"
        )
    for name in ("trigger_event", "handle_lifecycle", "add", "remove", "clear", "_configure_all"):
        if not callable(getattr(addonmanager.AddonManager, name, None)):
            raise UnsupportedMitmproxy(f"mitmproxy {found}: AddonManager.{name} is missing")
    if not callable(getattr(addonmanager, "traverse", None)):
        raise UnsupportedMitmproxy(f"mitmproxy {found}: mitmproxy.addonmanager.traverse is missing")
    return found


# ---------------------------------------------------------------- the listener


def serve_on_inherited_socket(sock: socket.socket, backlog: int) -> None:
    """Make mitmproxy's reverse-proxy server accept on `sock` instead of binding its own port.

    Called once in a worker process, before the master starts its servers. The parent bound `sock` with
    SO_REUSEPORT (one socket per worker), so the kernel spreads new connections over the workers.
    Only TCP is served: a reverse:https:// mode would also open a UDP (HTTP/3) listener, which the runner
    does not share between workers.
    """
    from mitmproxy.proxy import mode_servers

    async def listen(self: Any, host: str, port: int) -> list[asyncio.Server]:
        return [await asyncio.start_server(self.handle_stream, sock=sock, backlog=backlog)]

    mode_servers.ReverseInstance.listen = listen  # type: ignore[method-assign]


# ---------------------------------------------------------------- hook dispatch

Hook = tuple[Any, Callable[..., Any]]


class DispatchingAddonManager(addonmanager.AddonManager):
    """AddonManager whose per-hook handler list is computed once, not for every event.

    mitmproxy's trigger_event walks every addon (and its children) for every hook of every request, with a
    context manager, a generator and getattr per addon; the notes measured most of mitmdump's CPU there.
    Here each hook name maps to the bound handlers in chain order, rebuilt when addons are added or
    removed and whenever options are configured. Semantics are kept: handlers run in chain order, async
    ones are awaited, AddonHalt stops the chain, OptionsError propagates, any other error is logged
    and the next handler runs. The `update` hook after each flow event is skipped when nobody handles it.
    """

    def __init__(self, master: master.Master) -> None:
        super().__init__(master)
        self._handlers: dict[str, tuple[Hook, ...]] = {}

    def invalidate(self) -> None:
        self._handlers = {}

    def handlers(self, name: str) -> tuple[Hook, ...]:
        found = self._handlers.get(name)
        if found is None:
            found = self._handlers[name] = tuple(self._collect(name))
        return found

    def _collect(self, name: str) -> Iterable[Hook]:
        for addon in addonmanager.traverse(self.chain):
            func = getattr(addon, name, None)
            if func and callable(func):
                yield addon, func

    def add(self, *addons: Any) -> None:
        self.invalidate()
        try:
            super().add(*addons)
        finally:
            self.invalidate()

    def remove(self, addon: Any) -> None:
        self.invalidate()
        try:
            super().remove(addon)
        finally:
            self.invalidate()

    def clear(self) -> None:
        super().clear()
        self.invalidate()

    def _configure_all(self, updated: Any) -> None:
        self.invalidate()  # an addon may rebuild its children when configured
        super()._configure_all(updated)

    async def trigger_event(self, event: hooks.Hook) -> None:
        if isinstance(event, hooks.ConfigureHook):
            self.invalidate()
        handlers = self.handlers(event.name)
        if not handlers:
            return
        args = event.args()
        for _addon, func in handlers:
            try:
                result = func(*args)
                if result is not None and inspect.isawaitable(result):
                    await result
            except exceptions.AddonHalt:
                return
            except exceptions.OptionsError:
                raise
            except Exception as exc:
                tb = addonmanager.cut_traceback(exc.__traceback__, "trigger_event")
                logger.error(f"Addon error: {exc}", exc_info=(type(exc), exc, tb))

    async def handle_lifecycle(self, event: hooks.Hook) -> None:
        await self.trigger_event(event)
        if self.handlers("update"):
            message = event.args()[0]
            if isinstance(message, flow.Flow):
                await self.trigger_event(hooks.UpdateHook([message]))


class LeanMaster(master.Master):
    """A master with the dispatching addon manager and no addons of its own (see lean_addons())."""

    def __init__(self, opts: options.Options, *, with_termlog: bool = True) -> None:
        super().__init__(opts, with_termlog=False)
        self.addons = DispatchingAddonManager(self)
        if with_termlog:
            from mitmproxy.addons import termlog

            self._termlog_addon = termlog.TermLog()
            self.addons.add(self._termlog_addon)


class UpstreamTlsConfig(tlsconfig.TlsConfig):
    """mitmproxy's TlsConfig (TLS towards https upstreams and, if configured, clients) minus its `request`
    hook, which answers any path ending in the CA's CRL name: per-request work a gateway does not want."""

    name = "tlsconfig"
    request = None  # type: ignore[assignment]


def lean_addons() -> list[Any]:
    """The mitmproxy addons a reverse-proxy gateway needs, and nothing else.

    Core (option validation, commands), Proxyserver (listeners, connection handling, body size options),
    NextLayer (picks the HTTP layer for each connection), TlsConfig (https upstreams), ErrorCheck (exit
    when start-up logged an error). Left out of mitmdump's ~36: the dumper, flow saving, replay, map
    local/remote, modify headers/body, anticache/anticomp, sticky auth/cookies, proxyauth, blocklists,
    onboarding, the script loader, KeepServing (only watches replay/rfile runs) and the DNS resolver.
    """
    from mitmproxy.addons import core, errorcheck, next_layer, proxyserver

    return [
        core.Core(),
        proxyserver.Proxyserver(),
        next_layer.NextLayer(),
        UpstreamTlsConfig(),
        errorcheck.ErrorCheck(),
    ]

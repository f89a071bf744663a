"""Test-only mitmproxy script (`-s` after strangler_proxy/addon.py): every request hook of every gateway addon
raises when the request's X-Inject-Fault header names it ("<Class>.<hook>"). Used by test_fail_closed.py;
never loaded by the gateway itself."""

from __future__ import annotations

import importlib
import inspect

from strangler_proxy.addon import CHAIN
from strangler_proxy.fail_closed import REQUEST_HOOKS

FAULT_HEADER = "X-Inject-Fault"


def _inject(cls: type, hook: str) -> None:
    original = getattr(cls, hook)
    where = f"{cls.__name__}.{hook}"

    if inspect.iscoroutinefunction(original):

        async def faulty(self, flow):
            if flow.request.headers.get(FAULT_HEADER) == where:
                raise RuntimeError(f"injected fault in {where}")
            return await original(self, flow)

    else:

        def faulty(self, flow):
            if flow.request.headers.get(FAULT_HEADER) == where:
                raise RuntimeError(f"injected fault in {where}")
            return original(self, flow)

    setattr(cls, hook, faulty)


def request_hooks() -> list[str]:
    """Every "<Class>.<hook>" of the chain, in chain order."""
    found = []
    for module_name, class_name in CHAIN:
        cls = getattr(importlib.import_module(module_name), class_name)
        found += [f"{class_name}.{hook}" for hook in REQUEST_HOOKS if getattr(cls, hook, None) is not None]
    return found


for _module_name, _class_name in CHAIN:
    _cls = getattr(importlib.import_module(_module_name), _class_name)
    for _hook in REQUEST_HOOKS:
        if getattr(_cls, _hook, None) is not None and not getattr(_cls, "_faults_injected", False):
            _inject(_cls, _hook)
    _cls._faults_injected = True

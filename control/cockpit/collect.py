"""One view of the whole migration (`manage.py migration status`, the status page and its JSON API), built
from the toolkit's own status functions: the flags store, the gateway's metrics (cockpit/gateway.py), the
shadow comparator's results (`shadow status`), the sync status and the last clean verifies (`sync ...
status`, the verify gate's record), the Order service's saga figures (the rollout judge's feed), the
consumers' dead-letter queues, the rollout controller's rollouts, and the runbooks.

Each area is read on its own: one that cannot be read (a gateway whose metrics do not answer, a broker
that is down) says so in its place as `{"ok": false, "error": ...}`, and the rest still renders."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from control.cockpit.stages import STAGES, stage_state

DLQ_CONSUMERS = (
    "product_service.catalog",
    "product_service.stock",
    "order_service.saga_orchestrator",
    "order_service.saga_participants",
    "payment_service.payment",
)
SYNC_ENTITIES = ("products", "users", "orders", "payments")


def _area(read: Callable[[], Any]) -> dict[str, Any]:
    started = time.monotonic()
    try:
        data = read()
    except Exception as exc:  # an area that cannot be read says why, in its place
        text = " ".join(str(getattr(exc, "message", None) or exc).split())[:300]
        return {"ok": False, "error": f"{type(exc).__name__}: {text}", "ms": _ms(started)}
    return {"ok": True, "data": data, "ms": _ms(started)}


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def read_flags() -> dict[str, Any]:
    from flags.config import FlagsConfig
    from flags.gates import effective_percentage
    from flags.store import open_store

    store = open_store(FlagsConfig.from_env())
    return {
        state.name: {"percentage": effective_percentage(state), "summary": state.summary()}
        for state in store.list_flags()
    }


def read_gateway() -> dict[str, Any]:
    from control.cockpit.gateway import gateway_status

    return gateway_status()


def read_shadow() -> dict[str, Any]:
    from django.conf import settings

    from shadow.commands.status import shadow_status
    from shadow.rules_file import load_rules
    from shadow.transport.addresses import queue_url_from_env

    result = shadow_status(rules=load_rules(settings.SHADOW_RULES), queue_url=queue_url_from_env())
    return {"routes": {r.route: r.to_dict() for r in result.routes}, "dead_letters": result.dead_letters}


def read_sync() -> dict[str, Any]:
    from migrations_data.outbox.status import sync_status

    return sync_status().as_dict()


def read_verifies() -> dict[str, Any]:
    from migrations_data.engine.checkpoint import verify_last_clean

    found = {}
    for entity in SYNC_ENTITIES:
        at = verify_last_clean(entity)
        found[entity] = at.isoformat() if at else None
    return found


def read_sagas() -> dict[str, Any]:
    from control.rollout.sagas import SagaFeed

    counts = SagaFeed.from_env().snapshot()
    return {
        "completed": int(counts.completed),
        "compensated": int(counts.compensated),
        "stuck": int(counts.stuck),
    }


def read_dlq() -> dict[str, Any]:
    from chassis.broker import broker_connection
    from migrations_data.outbox.relay import broker_connection_args

    consumers = [c.strip() for c in os.environ.get("COCKPIT_DLQ_CONSUMERS", "").split(",") if c.strip()]
    depths: dict[str, int | None] = {}
    with broker_connection(*broker_connection_args()) as conn:
        conn.ensure_connection(max_retries=1)
        for consumer in consumers or DLQ_CONSUMERS:
            channel = conn.channel()
            try:
                _name, messages, _n = channel.queue_declare(queue=f"{consumer}.dlq", passive=True)
                depths[consumer] = int(messages)
            except Exception as exc:
                if "NOT_FOUND" not in str(exc) and "no queue" not in str(exc).lower():
                    raise
                depths[consumer] = None  # no consumer has run: no dead-letter queue yet
            finally:
                channel.close()
    return depths


def read_rollouts() -> dict[str, Any]:
    from control.rollout.selectors import rollout_list

    latest: dict[str, Any] = {}
    for rollout in rollout_list(limit=100):
        if rollout.route in latest:
            continue
        verdict = rollout.last_verdict or {}
        latest[rollout.route] = {
            "id": rollout.pk,
            "state": rollout.state,
            "percentage": rollout.percentage,
            "last_decision": verdict.get("action"),
            "reasons": list(verdict.get("reasons") or []),
            "reason": rollout.reason,
            "open_rollback": rollout.state == "rolled_back" and rollout.closed_at is None,
        }
    return latest


def read_runbooks() -> list[dict[str, Any]]:
    from control.runbooks.model import runbook_list
    from control.runbooks.runner import read_state

    return [
        {"name": b.name, "title": b.title, "kind": b.kind, "stage": b.stage, "last_run": read_state(b.name)}
        for b in runbook_list()
    ]


def read_decommissions() -> list[dict[str, Any]] | str:
    """The routes retired from the monolith (`manage.py decommission`), from the control database."""
    from control.models import Decommission

    rows = [
        {
            "route": d.route,
            "state": d.state,
            "applied_at": d.applied_at.isoformat(timespec="seconds"),
            "tables": len(d.tables),
            "archive": d.archive_path or None,
        }
        for d in Decommission.objects.order_by("applied_at", "id")
    ]
    return rows or "no route decommissioned yet"


READERS: dict[str, Callable[[], Any]] = {
    "flags": read_flags,
    "gateway": read_gateway,
    "shadow": read_shadow,
    "sync": read_sync,
    "verify": read_verifies,
    "sagas": read_sagas,
    "dlq": read_dlq,
    "rollouts": read_rollouts,
    "runbooks": read_runbooks,
}


def migration_status(readers: dict[str, Callable[[], Any]] | None = None) -> dict[str, Any]:
    """Every area, then the stages built from them."""
    from control.routes_file import load_route_infos

    areas = {name: _area(read) for name, read in (readers or READERS).items()}
    routes = _area(load_route_infos)
    infos = routes["data"] if routes["ok"] else {}
    flags = areas["flags"]["data"] if areas["flags"]["ok"] else {}
    percentages = {name: flag["percentage"] for name, flag in flags.items()}
    modes = {rid: (info.mode, info.flag) for rid, info in infos.items()}
    gateway = areas["gateway"]["data"] if areas["gateway"]["ok"] else None
    stages = []
    for stage in STAGES:
        route_rows = []
        for rid in stage.routes:
            info = infos.get(rid)
            flag = info.flag if info else None
            observed = (gateway or {}).get("routes", {}).get(rid) if gateway else None
            route_rows.append(
                {
                    "id": rid,
                    "mode": info.mode if info else None,
                    "flag": flag,
                    "percentage": percentages.get(flag) if flag else None,
                    "legacy": info.legacy if info else None,
                    "target": info.target if info else None,
                    "observed": observed,
                }
            )
        state = stage_state(modes, percentages, stage) if areas["flags"]["ok"] else "unknown"
        if stage.number == 1:
            state = "done" if areas["gateway"]["ok"] else "unknown"
        stages.append(
            {
                "number": stage.number,
                "name": stage.name,
                "title": stage.title,
                "state": state,
                "routes": route_rows,
                "flags": {f: flags.get(f) for f in stage.flags},
                "entity": stage.entity,
                "upstream": stage.upstream,
                "sagas": stage.sagas,
            }
        )
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "stages": stages,
        "areas": areas,
        "route_table": {"ok": routes["ok"], "error": routes.get("error")},
        "decommission": _area(read_decommissions),
    }

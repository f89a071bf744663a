"""Reads of the control database: rollouts and their events."""

from __future__ import annotations

from control.errors import ControlError
from control.models import Rollout, RolloutEvent


def rollout_active(route: str) -> Rollout | None:
    return Rollout.objects.filter(route=route, state__in=Rollout.ACTIVE).first()


def rollout_get_active(route: str) -> Rollout:
    rollout = rollout_active(route)
    if rollout is None:
        raise ControlError("no_active_rollout", f"route {route} has no running or paused rollout")
    return rollout


def rollout_list(route: str | None = None, *, limit: int = 20) -> list[Rollout]:
    query = Rollout.objects.all()
    if route:
        query = query.filter(route=route)
    return list(query.order_by("-created_at", "-id")[:limit])


def rollout_events(rollout: Rollout, *, limit: int = 10) -> list[RolloutEvent]:
    return list(reversed(list(RolloutEvent.objects.filter(rollout=rollout).order_by("-at", "-id")[:limit])))

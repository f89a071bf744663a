"""Builders of flags in Unleash's client features format, for the flags tests."""


def feature(name: str, *, enabled: bool = True, strategies: list | None = None, **extra) -> dict:
    """One flag in Unleash's client format; by default on for everyone (flexibleRollout 100%)."""
    if strategies is None:
        strategies = [rollout_strategy(100, group_id=name)]
    return {"name": name, "type": "release", "enabled": enabled, "strategies": strategies, **extra}


def rollout_strategy(
    percentage: int, stickiness: str = "default", group_id: str = "", constraints=()
) -> dict:
    return {
        "name": "flexibleRollout",
        "parameters": {"rollout": str(percentage), "stickiness": stickiness, "groupId": group_id},
        "constraints": list(constraints),
    }

"""The control loop a migration engineer works from: guarded rollouts (`rollout/`: controller, judge,
policy), evidence gates on every flag raise (`gates/`) and traffic record/replay (`traffic/`).

A Django app whose state lives in its own database alias `control` (CONTROL_DATABASE_URL), never in the
monolith's tables: the toolkit keeps running after the monolith is decommissioned. It reads the gateway
over HTTP (its Prometheus endpoint), never through the gateway's code."""

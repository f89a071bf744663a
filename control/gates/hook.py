"""The control app's gate check, registered into the flags commands (flags/gates.py) when Django starts:
every raise of a route flag that the gates file lists is checked against that route's gates."""

from __future__ import annotations

from flags.gates import GateFailure, RaiseRequest, register_gate_check


def gate_check(request: RaiseRequest) -> list[GateFailure]:
    from control.errors import ControlError
    from control.gates.checks import evaluate_gates
    from control.gates.spec import load_gates
    from control.routes_file import load_route_infos

    try:
        routes = load_route_infos()
        gates = load_gates(routes=routes).for_flag(request.flag, routes)
    except ControlError as exc:  # an invalid gates file or route table: nothing may be raised
        return [GateFailure("gates_file", exc.message.replace("\n", "; "))]
    if gates is None:
        return []
    return [GateFailure(r.gate, r.message) for r in evaluate_gates(gates) if not r.passed]


def install() -> None:
    register_gate_check(gate_check)

"""The request audit log: keyed hash chain, verification that catches edits (the shared tampering suite of
tests/kernel/audit_tampering.py), rotation, restarts, one chain per process, the route table recorded at
start, and what a line holds (no query values)."""

from __future__ import annotations

import hashlib
import json

import pytest
from mitmproxy import exceptions
from mitmproxy.test import taddons, tflow

from kernel.audit import GENESIS, FileCheckpoints, canonical, entry_hash
from kernel.audit.files import default_checkpoints, head_path
from strangler_proxy.audit import Audit, ChainWriter, audit_entry, backups, chains, verify_chain
from strangler_proxy.audit_log import LINK_EVENT, chain_id, dev_key
from strangler_proxy.forwarding import ForwardResult
from strangler_proxy.ratelimit import RATE_LIMIT_KEY, Refusal
from strangler_proxy.routes import Decision, Identity, TraceContext, Upstream
from strangler_proxy.routing import DECISION_KEY, FORWARD_KEY, IDENTITY_KEY, Router
from strangler_proxy.tracing import TRACE_KEY
from tests.kernel.audit_tampering import TAMPERINGS, legacy_chain_is_linked_then_vouched_for
from tests.strangler_proxy.conftest import write_flags_file

LEGACY = Upstream("legacy", "http", "127.0.0.1", 8000)
PRODUCT = Upstream("product", "http", "127.0.0.1", 8101)


def write_entries(path, count, **writer_options):
    writer = ChainWriter(path, **{"max_bytes": 10_000_000, "keep": 3, "flush_lines": 2, **writer_options})
    for number in range(count):
        writer.append({"n": number, "path": f"/api/v1/catalog/products/{number}", "status": 200})
    writer.close()
    return writer.path


def lines_of(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def rewrite(path, lines: list[dict]) -> None:
    path.write_text("".join(json.dumps(line, sort_keys=True) + "\n" for line in lines))


class GatewayLog:
    """The gateway's audit log (one chain, its rotated files) as a tampering target."""

    edit = ("status", 500)

    def __init__(self, path) -> None:
        self.path, self.key, self.chain = path, dev_key(), chain_id(path)
        self.store = FileCheckpoints(default_checkpoints(path))

    def write(self, count: int) -> None:
        write_entries(self.path, count)

    def write_legacy(self, count: int) -> None:
        """What the gateway wrote before audit keys: unkeyed SHA-256, no seq, an unsigned head."""
        prev, out = GENESIS, []
        for number in range(count):
            entry = {"n": number, "path": "/old", "status": 200, "prev_hash": prev}
            entry["hash"] = prev = entry_hash(entry)
            out.append(canonical(entry) + b"\n")
        self.path.write_bytes(b"".join(out))
        head_path(self.path).write_text(json.dumps({"entries": count, "hash": prev}))

    def entries(self) -> list[dict]:
        return lines_of(self.path)

    def replace(self, entries: list[dict]) -> None:
        self.path.write_bytes(b"".join(canonical(entry) + b"\n" for entry in entries))

    def replace_head(self, record: dict) -> None:
        head_path(self.path).write_text(json.dumps(record))

    def verify(self):
        return verify_chain(self.path)

    def link_of(self, entry: dict) -> dict | None:
        return entry["legacy"] if entry.get("event") == LINK_EVENT else None


@pytest.mark.parametrize("tampering", TAMPERINGS.values(), ids=TAMPERINGS.keys())
def test_tampering_with_the_gateway_log_is_caught(tmp_path, tampering):
    tampering(GatewayLog(tmp_path / "gateway.jsonl"))


def test_an_unkeyed_gateway_log_is_linked_to_a_keyed_chain_when_a_writer_opens_it(tmp_path):
    legacy_chain_is_linked_then_vouched_for(GatewayLog(tmp_path / "gateway.jsonl"))


def test_lines_are_chained_and_verify(tmp_path):
    path = write_entries(tmp_path / "gateway.jsonl", 5)
    entries = lines_of(path)
    assert entries[0]["prev_hash"] == GENESIS
    assert [e["prev_hash"] for e in entries[1:]] == [e["hash"] for e in entries[:-1]]
    assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5]
    result = verify_chain(path)
    assert (result.ok, result.entries) == (True, 5)
    assert result.checkpoints >= 2  # the first batch's, and the one written when the writer closed


def test_checkpoints_can_go_to_another_store_and_verify_needs_it(tmp_path):
    store = FileCheckpoints(tmp_path / "elsewhere" / "audit.checkpoints")
    writer = ChainWriter(
        tmp_path / "gateway.jsonl", max_bytes=10_000, keep=1, flush_lines=1, checkpoints=store
    )
    for number in range(3):
        writer.append({"n": number})
    writer.close()
    assert [c.seq for c in store.checkpoints(chain_id(writer.path))][-1] == 3
    assert verify_chain(writer.path, checkpoints=store).ok
    assert verify_chain(writer.path).reason == "no checkpoint anchors the chain"


def test_verify_finds_an_edited_line(tmp_path):
    path = write_entries(tmp_path / "gateway.jsonl", 5)
    entries = lines_of(path)
    entries[2]["status"] = 500
    rewrite(path, entries)
    result = verify_chain(path)
    assert (result.ok, result.bad_line) == (False, 3)
    assert "hash does not match" in result.reason


def test_verify_finds_a_removed_line(tmp_path):
    path = write_entries(tmp_path / "gateway.jsonl", 5)
    entries = lines_of(path)
    del entries[1]
    rewrite(path, entries)
    result = verify_chain(path)
    assert (result.ok, result.bad_line) == (False, 2)
    assert "prev_hash" in result.reason


def test_verify_finds_lines_cut_from_the_end(tmp_path):
    path = write_entries(tmp_path / "gateway.jsonl", 5)
    rewrite(path, lines_of(path)[:-2])
    result = verify_chain(path)
    assert not result.ok
    assert "5 entries were written" in result.reason


def test_verify_finds_a_line_that_is_not_json(tmp_path):
    path = write_entries(tmp_path / "gateway.jsonl", 3)
    path.write_text(path.read_text().replace('"status":200', '"status":20', 1))
    assert not verify_chain(path).ok


def test_the_chain_runs_on_across_rotated_files(tmp_path):
    path = write_entries(tmp_path / "gateway.jsonl", 40, max_bytes=2000, keep=20)
    older = backups(path)
    assert len(older) >= 2
    result = verify_chain(path)
    assert (result.ok, result.entries) == (True, 40)
    first_of_current = lines_of(path)[0]
    assert first_of_current["prev_hash"] == lines_of(older[-1])[-1]["hash"]


def test_rotation_keeps_only_the_configured_backups_and_the_rest_still_verifies(tmp_path):
    path = write_entries(tmp_path / "gateway.jsonl", 60, max_bytes=1000, keep=2)
    assert len(backups(path)) == 2
    assert verify_chain(path).ok


def test_an_edit_in_a_rotated_file_is_found(tmp_path):
    path = write_entries(tmp_path / "gateway.jsonl", 40, max_bytes=2000, keep=20)
    oldest = backups(path)[0]
    entries = lines_of(oldest)
    entries[0]["path"] = "/somewhere/else"
    rewrite(oldest, entries)
    result = verify_chain(path)
    assert (result.ok, result.bad_line) == (False, 1)
    assert oldest.name in result.reason


def test_a_restarted_writer_continues_the_chain(tmp_path):
    path = write_entries(tmp_path / "gateway.jsonl", 3)
    last = lines_of(path)[-1]["hash"]
    write_entries(path, 2)
    entries = lines_of(path)
    assert len(entries) == 5
    assert entries[3]["prev_hash"] == last
    assert verify_chain(path).ok


def test_a_second_process_gets_its_own_chain_file(tmp_path):
    path = tmp_path / "gateway.jsonl"
    first = ChainWriter(path, max_bytes=10_000, keep=1, flush_lines=1)
    second = ChainWriter(path, max_bytes=10_000, keep=1, flush_lines=1)  # the lock is taken
    try:
        assert first.path == path
        assert second.path != path
        assert second.path.name.startswith("gateway.p")
        first.append({"n": 1})
        second.append({"n": 1})
    finally:
        first.close()
        second.close()
    assert chains(path) == [path, second.path]
    assert all(verify_chain(chain).ok for chain in chains(path))


def finished_flow():
    flow = tflow.tflow(resp=True)
    flow.request.path = "/api/v1/catalog/products?q=secret-token&page=2&page=3"
    flow.client_conn.peername = ("10.1.2.3", 5555)
    flow.metadata[TRACE_KEY] = TraceContext("req-1", "a" * 32, "b" * 16, f"00-{'a' * 32}-{'b' * 16}-01")
    flow.metadata[IDENTITY_KEY] = Identity("42", "ada", ("customer",), "session")
    flow.metadata[DECISION_KEY] = Decision(
        "catalog.read", "route", "route.catalog.read", True, PRODUCT, LEGACY, None, 5.0, 10, True
    )
    flow.metadata[FORWARD_KEY] = ForwardResult(
        "legacy", 200, 12.5, True, "open", "breaker_open; fallback: ok"
    )
    return flow


def test_an_audit_line_says_who_what_where_and_how_without_query_values():
    flow = finished_flow()
    entry = audit_entry(flow, flow.request.timestamp_start + 0.05)
    assert entry["trace_id"] == "a" * 32
    assert entry["request_id"] == "req-1"
    assert entry["user"] == "42"
    assert entry["client"] == "10.1.2.3"
    assert (entry["method"], entry["path"]) == ("GET", "/api/v1/catalog/products")
    assert entry["query_keys"] == ["page", "q"]
    assert "secret-token" not in json.dumps(entry)
    assert (entry["route"], entry["flag"], entry["flag_enabled"], entry["mode"]) == (
        "catalog.read",
        "route.catalog.read",
        True,
        "route",
    )
    assert (entry["upstream"], entry["status"], entry["fallback"], entry["breaker"]) == (
        "legacy",
        200,
        True,
        "open",
    )
    assert entry["latency_ms"] == pytest.approx(50, abs=1)
    assert entry["upstream_ms"] == 12.5


def test_a_rate_limited_request_is_audited_with_its_scope():
    flow = tflow.tflow(resp=True)
    flow.response.status_code = 429
    flow.metadata[RATE_LIMIT_KEY] = Refusal("client", None, 3.0)
    entry = audit_entry(flow, flow.request.timestamp_start)
    assert (entry["status"], entry["rate_limited"], entry["route"], entry["upstream"]) == (
        429,
        "client",
        None,
        "gateway",
    )


def test_the_addon_writes_one_line_per_request_and_flushes_on_done(tmp_path):
    path = tmp_path / "audit" / "gateway.jsonl"
    audit = Audit()
    with taddons.context(audit) as tctx:
        tctx.configure(audit, strangler_audit_log=str(path), strangler_audit_flush_lines=100)
        audit.response(finished_flow())
        errored = tflow.tflow(err=True)
        audit.error(errored)
        audit.response(finished_flow())
        audit.done()
    entries = lines_of(path)
    assert [e["status"] for e in entries] == [200, None, 200]
    assert entries[1]["error"] == errored.error.msg
    assert verify_chain(path).ok


def test_a_worker_id_gives_the_worker_its_own_file(tmp_path, monkeypatch):
    monkeypatch.setenv("STRANGLER_WORKER_ID", "3")
    path = tmp_path / "gateway.jsonl"
    audit = Audit()
    with taddons.context(audit) as tctx:
        tctx.configure(audit, strangler_audit_log=str(path))
        audit.response(finished_flow())
        audit.done()
    assert (tmp_path / "gateway.w3.jsonl").exists()
    assert not path.exists()


def test_an_empty_path_turns_the_audit_log_off(tmp_path):
    audit = Audit()
    with taddons.context(audit) as tctx:
        tctx.configure(audit, strangler_audit_log="")
        audit.response(finished_flow())
        assert audit.writer is None


@pytest.mark.parametrize(
    "options",
    [
        {"strangler_audit_max_bytes": "big"},
        {"strangler_audit_max_bytes": "0"},
        {"strangler_audit_backups": -1},
        {"strangler_audit_flush_lines": 0},
        {"strangler_audit_flush_ms": 0},
    ],
)
def test_bad_audit_options_are_refused(options, tmp_path):
    audit = Audit()
    with taddons.context(audit) as tctx, pytest.raises(exceptions.OptionsError):
        tctx.configure(audit, strangler_audit_log=str(tmp_path / "a.jsonl"), **options)
    audit.done()


def test_an_unwritable_audit_path_is_refused(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    audit = Audit()
    with taddons.context(audit) as tctx, pytest.raises(exceptions.OptionsError, match="audit log"):
        tctx.configure(audit, strangler_audit_log=str(blocker / "gateway.jsonl"))


def test_the_verify_command_checks_every_chain_and_fails_on_an_edit(tmp_path, capsys):
    from strangler_proxy.audit import main

    path = write_entries(tmp_path / "gateway.jsonl", 3)
    write_entries(tmp_path / "gateway.w2.jsonl", 2)
    assert main([str(path)]) == 0
    assert "gateway.w2.jsonl: 2 entries, ok (checkpoints held: 1)" in capsys.readouterr().out
    entries = lines_of(path)
    entries[0]["user"] = "someone else"
    rewrite(path, entries)
    assert main([str(path)]) == 1
    assert "BROKEN at line 1" in capsys.readouterr().out


def test_the_verify_command_refuses_the_development_key_with_debug_off(tmp_path, monkeypatch, capsys):
    from strangler_proxy.audit import main

    monkeypatch.setenv("DEBUG", "false")
    monkeypatch.delenv("GATEWAY_AUDIT_KEY", raising=False)
    assert main([str(tmp_path / "gateway.jsonl")]) == 2
    assert "DEBUG is off but GATEWAY_AUDIT_KEY" in capsys.readouterr().err


def test_the_gateway_refuses_the_development_audit_key_with_debug_off(tmp_path, monkeypatch):
    monkeypatch.setenv("DEBUG", "false")
    audit = Audit()
    with taddons.context(audit) as tctx, pytest.raises(exceptions.OptionsError, match="GATEWAY_AUDIT_KEY"):
        tctx.configure(audit, strangler_audit_log=str(tmp_path / "a.jsonl"))
    with taddons.context(audit) as tctx:
        tctx.configure(audit, strangler_audit_log=str(tmp_path / "a.jsonl"), strangler_audit_key="k" * 40)
        assert audit.writer is not None
        audit.done()


def test_the_gateway_records_the_route_table_it_loaded_at_start_and_on_reload(tmp_path, monkeypatch):
    routes = tmp_path / "routes.yaml"
    routes.write_text(
        "upstreams:\n  legacy: http://127.0.0.1:8000\n  product: http://127.0.0.1:8101\n"
        "defaults: {legacy: legacy, timeout: 10, bulkhead: 50}\n"
        "routes:\n  - id: catalog.read\n    methods: [GET]\n    path: ^/api/v1/catalog/.*$\n"
        "    legacy: legacy\n    target: product\n    flag: route.catalog.read\n"
    )
    flags = write_flags_file(tmp_path / "flags.json")
    monkeypatch.setenv("ROUTES_FILE", str(routes))  # the Router's defaults, loaded when it is added
    monkeypatch.setenv("FLAGS_FILE", str(flags))
    log = tmp_path / "gateway.jsonl"
    router, audit = Router(), Audit()
    with taddons.context(router, audit) as tctx:
        tctx.configure(router, strangler_routes=str(routes), strangler_flags_file=str(flags))
        tctx.configure(audit, strangler_audit_log=str(log))
        routes.write_bytes(routes.read_bytes() + b"# reviewed\n")
        tctx.configure(router, strangler_routes=str(routes))  # a reload (the option names the same file)
        audit.done()
        router.done()
    recorded = [line for line in lines_of(log) if line.get("event") == "routes.loaded"]
    assert [line["routes_sha256"] for line in recorded][-1] == hashlib.sha256(routes.read_bytes()).hexdigest()
    assert recorded[0]["routes_sha256"] != recorded[-1]["routes_sha256"]
    assert recorded[0]["routes_file"] == str(routes)
    assert recorded[0]["routes"] == len(router.table.routes)
    assert verify_chain(log).ok

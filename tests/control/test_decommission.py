"""The decommission toolkit's parts in-process (control/decommission): what it derives from the real
monolith (URLconf, models, imports) and the real route table, the window arithmetic over counter samples,
the one-line edit of routes.yaml, the sync jobs' stop flag and the monolith's 410 on retired entries.
The whole apply / finalize / restore journey against real processes is tests/e2e/test_decommission.py."""

import difflib
import signal
import threading
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from control.decommission import inventory, services, traffic
from control.decommission.retired import RETIRED
from control.decommission.route_table import restore_legacy, retire_legacy
from control.models import Decommission
from control.routes_file import DEFAULT_ROUTES_FILE, load_route_infos
from migrations_data.engine.checkpoint import sync_resume, sync_stop, sync_stopped, verify_last, verify_record

control_db = pytest.mark.django_db(databases=["default", "control"])
T0 = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def monolith_inventory(django_db_blocker):
    with django_db_blocker.unblock():
        return inventory.build_inventory(load_route_infos(DEFAULT_ROUTES_FILE))


def owners(inv, view):
    return {o.methods: o.route for o in inv.owned if o.entry.view == view}


def test_each_monolith_entry_belongs_to_the_first_route_that_matches_it_per_method(monolith_inventory):
    assert owners(monolith_inventory, "catalog-products") == {
        ("GET", "HEAD"): "catalog.read",
        ("POST",): "catalog.write",
    }
    assert owners(monolith_inventory, "catalog-product-stock-movements") == {("GET", "HEAD"): "catalog.write"}
    # services call the internal entries directly; the gateway's ops.internal keeps clients out
    assert owners(monolith_inventory, "internal-stock-reserve") == {("POST",): "ops.internal"}
    # no route moves the provider webhooks: the gateway's default sends them to the monolith
    assert owners(monolith_inventory, "payments-webhook") == {("POST",): None}
    assert monolith_inventory.routes_of_app("catalog") == ["ops.internal", "catalog.read", "catalog.write"]


def test_an_apps_tables_foreign_keys_and_readers_are_derived_from_the_monolith():
    assert inventory.app_tables("catalog") == ["catalog_category", "catalog_product", "catalog_stockmovement"]
    assert "accounts_user_groups" in inventory.app_tables("accounts")  # many-to-many link tables too
    relations = {r.field for r in inventory.relations_into("catalog")}
    assert relations == {"orders.CartItem.product", "orders.OrderItem.product"}
    assert inventory.relations_into("payments") == []
    readers = {(r.kind, r.name) for r in inventory.readers_of("catalog")}
    assert {("app", "orders"), ("acl", "acl_adapters.catalog"), ("sync", "products")} <= readers
    assert ("app", "catalog") not in readers
    assert inventory.sync_readers("payments") == {"payments": ("migrations_data.payments.command",)}


def sample(seconds: float, **counters: float):
    return (T0 + timedelta(seconds=seconds), dict(counters))


def test_a_window_counts_the_increase_between_samples_and_is_proven_once_a_sample_is_as_old():
    samples = [sample(0, a=5), sample(30, a=5, b=1), sample(60, a=7, b=1)]
    window = traffic.window_counts(samples, seconds=50, now=T0 + timedelta(seconds=60))
    assert window.proven
    assert window.counts == {"a": 2, "b": 1}
    young = traffic.window_counts(samples, seconds=120, now=T0 + timedelta(seconds=60))
    assert not young.proven
    assert young.observed_seconds == 60


def test_a_restart_inside_the_window_counts_whole_and_moves_the_proof_after_it():
    samples = [sample(0, a=9), sample(30, a=2), sample(60, a=2)]
    window = traffic.window_counts(samples, seconds=50, now=T0 + timedelta(seconds=60))
    assert window.restarts == 1
    assert window.counts == {"a": 2}
    assert not window.proven
    assert window.observed_seconds == 30


def test_no_request_over_a_proven_window_is_a_window_of_zero():
    samples = [sample(0, a=3), sample(10, a=3), sample(20, a=3)]
    window = traffic.window_counts(samples, seconds=15, now=T0 + timedelta(seconds=20))
    assert window.proven
    assert window.total == 0


def test_the_gateway_and_monolith_counters_are_read_by_their_labels():
    text = (
        'strangler_requests_total{route="catalog.read",upstream="legacy",status="200"} 3.0\n'
        'strangler_requests_total{route="catalog.read",upstream="legacy",status="404"} 1.0\n'
        'strangler_requests_total{route="catalog.read",upstream="product",status="200"} 5.0\n'
    )
    counters = traffic.parse_counters([text, text], traffic.GATEWAY_REQUESTS, ("route", "upstream"))
    assert counters == {"catalog.read legacy": 8.0, "catalog.read product": 10.0}
    typed = (
        "# TYPE http_requests counter\n"
        + 'http_requests_total{method="GET",route="catalog-products",status="410"} 4.0\n'
    )
    assert traffic.parse_counters([typed], traffic.MONOLITH_REQUESTS, ("method", "route")) == {
        "GET catalog-products": 4.0
    }


def test_retiring_a_routes_legacy_side_edits_its_lines_only_and_restore_puts_them_back(tmp_path):
    routes = tmp_path / "routes.yaml"
    original = DEFAULT_ROUTES_FILE.read_text(encoding="utf-8")
    routes.write_text(original, encoding="utf-8")
    replaced = retire_legacy("catalog.read", routes)
    assert load_route_infos(routes)["catalog.read"].legacy is None
    assert load_route_infos(routes)["catalog.write"].legacy == "legacy"
    changes = [
        line
        for line in difflib.ndiff(original.splitlines(), routes.read_text(encoding="utf-8").splitlines())
        if line[:1] in "+-"
    ]
    # the gateway refuses a fallback without a legacy side: that line goes
    assert changes == ["-     legacy: legacy", "+     legacy: null", "-     fallback: true"]
    assert replaced["legacy"][1] == "    legacy: legacy\n"
    assert retire_legacy("catalog.read", routes) is None  # idempotent
    assert restore_legacy("catalog.read", replaced, "legacy", routes) is True
    assert routes.read_text(encoding="utf-8") == original
    assert restore_legacy("catalog.read", replaced, "legacy", routes) is False


@control_db
def test_a_stopped_sync_refuses_to_start_until_it_is_resumed():
    sync_stop(entity="products", reason="route catalog.write decommissioned")
    err = StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("sync", "products", "backfill", "--no-progress", stderr=err)
    assert exited.value.code == 2
    assert "sync_stopped" in err.getvalue()
    assert "catalog.write decommissioned" in err.getvalue()
    sync_resume(entity="products")
    assert sync_stopped("products") is None


@control_db
def test_the_last_verify_is_what_counts_for_the_sync_state():
    assert verify_last("payments") is None
    verify_record(entity="payments", differences=3, clean=False)
    assert verify_last("payments")["clean"] is False
    assert services._sync_state("payments").problem() == "the last `sync payments verify` found 3 differences"
    verify_record(entity="payments", differences=0, clean=True)
    assert services._sync_state("payments").problem() is None


@control_db
def test_the_monolith_answers_410_with_the_standard_body_on_a_retired_entry_and_serves_it_after_restore(
    client,
):
    entries = [
        {"view": "catalog-categories", "methods": ["GET", "HEAD"], "path": "/api/v1/catalog/categories"}
    ]
    record = Decommission.objects.create(route="catalog.read", legacy="legacy", entries=entries)
    RETIRED.forget()
    gone = client.get("/api/v1/catalog/categories")
    assert gone.status_code == 410
    assert gone.json()["code"] == "route_retired"
    assert gone.json()["extra"] == {"route": "catalog.read"}
    assert client.post("/api/v1/catalog/categories", {}).status_code != 410  # POST is catalog.write's
    record.state = Decommission.State.RESTORED
    record.save()
    RETIRED.forget()
    assert client.get("/api/v1/catalog/categories").status_code == 200


@control_db
def test_a_route_whose_app_keeps_other_live_routes_carries_no_table(monolith_inventory):
    evidence = services.Evidence(
        window_seconds=60,
        routes=monolith_inventory.routes,
        inventory=monolith_inventory,
        retired={},
        gateway=traffic.Window(seconds=60, observed_seconds=120),
        monolith=traffic.Window(seconds=60, observed_seconds=120),
    )
    verify_record(entity="products", differences=0, clean=True)
    status = services.route_status(evidence, "catalog.read")
    assert status.kept_by == {"catalog": ["catalog.write"]}
    assert status.carries == []
    assert status.tables == []
    assert status.decommissionable, status.reasons
    # catalog.write, alone with catalog.read retired, carries the tables and meets the orders app's keys
    evidence.retired = {"catalog.read": Decommission(route="catalog.read", legacy="legacy")}
    write = services.route_status(evidence, "catalog.write")
    assert write.carries == ["catalog"]
    assert "catalog_product" in write.tables
    blocking = [d.what for d in write.dependants if d.blocking]
    assert "orders.OrderItem.product → catalog_product" in blocking
    assert not write.decommissionable


@control_db
def test_requests_that_reached_the_monolith_in_the_window_make_a_route_not_decommissionable(
    monolith_inventory,
):
    verify_record(entity="products", differences=0, clean=True)
    evidence = services.Evidence(
        window_seconds=60,
        routes=monolith_inventory.routes,
        inventory=monolith_inventory,
        retired={},
        gateway=traffic.Window(
            seconds=60, observed_seconds=120, counts={"catalog.read legacy": 2, "catalog.read product": 98}
        ),
        monolith=traffic.Window(seconds=60, observed_seconds=120, counts={"GET catalog-products": 2}),
    )
    status = services.route_status(evidence, "catalog.read")
    assert (status.monolith_requests, status.total_requests, status.share) == (2, 100, 0.02)
    assert status.direct_requests == 2
    assert not status.decommissionable
    assert any("2 of 100 requests went to the monolith" in r for r in status.reasons)


@control_db
def test_apply_finalize_and_restore_can_each_run_twice_with_the_same_result(tmp_path, monkeypatch):
    routes = tmp_path / "routes.yaml"
    original = DEFAULT_ROUTES_FILE.read_text(encoding="utf-8")
    routes.write_text(original, encoding="utf-8")
    monkeypatch.setenv("ROUTES_FILE", str(routes))
    # a decommission whose tables stayed with the app's other routes (no archive to make)
    Decommission.objects.create(route="catalog.read", legacy="legacy", sync_entities=["products"])
    assert services.apply(route="catalog.read", window_seconds=60).done is False
    retired = routes.read_text(encoding="utf-8")
    assert load_route_infos(routes)["catalog.read"].legacy is None
    assert sync_stopped("products") == "route catalog.read decommissioned"
    services.apply(route="catalog.read", window_seconds=60)
    assert routes.read_text(encoding="utf-8") == retired
    assert services.finalize(route="catalog.read").done is True
    assert services.finalize(route="catalog.read").done is False
    assert services.restore(route="catalog.read").done is True
    assert routes.read_text(encoding="utf-8") == original
    assert sync_stopped("products") is None
    assert services.restore(route="catalog.read").done is False
    assert Decommission.objects.get().state == Decommission.State.RESTORED


@control_db
def test_the_migration_status_lists_the_decommissioned_routes():
    from control.cockpit.collect import read_decommissions

    assert read_decommissions() == "no route decommissioned yet"
    Decommission.objects.create(route="catalog.read", legacy="legacy", tables=["catalog_category"])
    listed = [(d["route"], d["state"], d["tables"]) for d in read_decommissions()]
    assert listed == [("catalog.read", "applied", 1)]


@pytest.mark.django_db(transaction=True)
def test_a_running_follow_or_receive_loop_gets_sigterm_once_its_sync_is_stopped(monkeypatch):
    from migrations_data.management.commands import sync as sync_command

    monkeypatch.setattr(sync_command, "STOP_POLL_SECONDS", 0.1)
    terminated = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: terminated.set())  # what every loop installs
    try:
        with sync_command.stop_when_stopped("users", enabled=True):
            assert not terminated.wait(0.5)
            sync_stop(entity="users", reason="route accounts.admin decommissioned")
            assert terminated.wait(5)
    finally:
        signal.signal(signal.SIGTERM, previous)
        sync_resume(entity="users")

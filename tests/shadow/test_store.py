"""The comparator's database: results per pair, running counts, idempotency on the pair id."""

import pytest
from django.core.management import call_command

from shadow.models import PairResult, PathStats, RouteStats
from shadow.rules import NoiseThresholds
from shadow.selectors import route_evidence
from tests.shadow.builders import answer, make_pair
from tests.shadow.conftest import shadow_db

pytestmark = shadow_db


def product(price="1.00", at="2026-01-01T00:00:00Z"):
    return {"id": 1, "price": price, "at": at}


def test_a_pair_is_stored_with_its_verdict_paths_timings_and_trace_id(record):
    pair = make_pair(answer(product()), answer(product("2.00"), elapsed_ms=12.5), trace_id="a" * 32)

    outcome = record([pair])

    assert (outcome.recorded, outcome.duplicates) == (1, 0)
    row = PairResult.objects.get(pair_id=pair.id)
    assert row.route == "catalog.read"
    assert row.trace_id == "a" * 32
    assert row.matched is False
    assert row.paths == ["body.price"]
    assert row.candidate_ms == 12.5
    assert row.example["candidate"]["body"] == '{"id":1,"price":"2.00","at":"2026-01-01T00:00:00Z"}'


def test_a_matching_pair_keeps_no_example(record):
    pair = make_pair(answer(product()), answer(product()))

    record([pair])

    assert PairResult.objects.get(pair_id=pair.id).example is None


def test_a_redelivered_pair_is_not_counted_twice(record):
    pair = make_pair(answer(product()), answer(product("2.00")), secondary=answer(product(at="later")))

    first = record([pair])
    again = record([pair, pair])

    assert (first.recorded, again.recorded, again.duplicates) == (1, 0, 2)
    assert PairResult.objects.count() == 1
    stats = RouteStats.objects.get(route="catalog.read")
    assert (stats.samples, stats.matched, stats.noise_samples) == (1, 0, 1)
    counts = dict(PathStats.objects.values_list("path", "raw_count"))
    assert counts == {"body.price": 1, "body.at": 0}
    assert PathStats.objects.get(path="body.at").noise_count == 1


def test_counts_add_up_per_route_and_path_across_batches(record):
    record([make_pair(answer(product()), answer(product("2.00"))) for _ in range(3)])
    record([make_pair(answer(product()), answer(product())) for _ in range(2)])
    record([make_pair(answer(product()), answer(product("9.00")), route="orders.read")])

    catalog = RouteStats.objects.get(route="catalog.read")
    assert (catalog.samples, catalog.matched) == (5, 2)
    assert PathStats.objects.get(route="catalog.read", path="body.price").raw_count == 3
    assert PathStats.objects.get(route="orders.read", path="body.price").raw_count == 1


def test_evidence_from_running_counts_equals_evidence_rebuilt_from_the_pairs(record):
    pairs = [
        make_pair(
            answer(product(at=f"t{n}")),
            answer(product("2.00" if n % 4 == 0 else "1.00", at=f"t{n}x")),
            secondary=answer(product(at=f"t{n}y")),
            captured_at=f"2026-01-01T00:{n:02d}:00Z",
        )
        for n in range(20)
    ]
    record(pairs)
    diffy = NoiseThresholds()

    running = route_evidence("catalog.read", thresholds=diffy)
    rebuilt = route_evidence(
        "catalog.read", thresholds=diffy, since=PairResult.objects.order_by("captured_at")[0].captured_at
    )

    assert running.to_dict() == rebuilt.to_dict()
    assert running.real_paths == {"body.price"}
    assert (running.samples, running.real_mismatches, running.match_rate) == (20, 5, 75.0)


@pytest.mark.django_db(databases=["default", "shadow", "control"])
def test_the_migrations_create_exactly_the_models_tables():
    # makemigrations --check exits non-zero when a model changed without a migration. It reads the
    # migration history of every database alias, the rollout controller's `control` one included.
    call_command("makemigrations", "shadow", "--check", "--dry-run", verbosity=0)


def test_only_the_comparator_lives_in_the_shadow_database():
    from shadow.routers import ShadowRouter

    router = ShadowRouter()

    assert router.db_for_write(PairResult) == "shadow"
    assert router.db_for_write(PathStats) == "shadow"
    assert router.allow_migrate("shadow", "shadow") is True
    assert router.allow_migrate("default", "shadow") is False
    assert router.allow_migrate("shadow", "catalog") is False
    assert router.allow_migrate("default", "catalog") is None


def test_skipped_pairs_are_recorded_once_but_are_no_samples(record):
    from shadow.pairs import Exchange

    skipped = make_pair(Exchange.failed("no_answer", 1.0), answer(product()))
    compared = make_pair(answer(product()), answer(product("2.00")))

    record([skipped, compared])
    record([skipped])

    stats = RouteStats.objects.get(route="catalog.read")
    assert (stats.samples, stats.matched, stats.skipped) == (1, 0, 1)
    evidence = route_evidence("catalog.read", thresholds=NoiseThresholds())
    first = PairResult.objects.earliest("captured_at").captured_at
    rebuilt = route_evidence("catalog.read", thresholds=NoiseThresholds(), since=first)
    assert (evidence.samples, evidence.skipped, evidence.match_rate) == (1, 1, 0.0)
    assert rebuilt.to_dict() == evidence.to_dict()

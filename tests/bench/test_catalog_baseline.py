"""The catalog baseline's pure parts: arguments, request mixes, database guard. No timings here."""

import random
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils.text import slugify

from bench.catalog_baseline import parse_args
from bench.catalog_db import BenchError, database_prepare
from bench.catalog_scenarios import SCENARIOS, scenario_paths
from legacy_monolith.core.management.seeding import seed_techstore
from legacy_monolith.core.management.seeding.catalog_spec import CATEGORY_TREE


def query_of(path: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(path).query)


def test_defaults_measure_100k_products_with_300_requests_at_concurrency_4():
    args = parse_args([])

    assert (args.products, args.requests, args.concurrency, args.keep_db) == (100_000, 300, 4, False)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--requests", "0"], "must be at least 1"),
        (["--concurrency", "-2"], "must be at least 1"),
        (["--products", "lots"], "is not a whole number"),
        (["--warmup", "-1"], "must be zero or more"),
    ],
)
def test_bad_arguments_exit_with_a_usage_error(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(argv)

    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_the_same_seed_replays_the_same_requests():
    for name in SCENARIOS:
        first = scenario_paths(name, random.Random(1), count=50, product_pages=500)
        again = scenario_paths(name, random.Random(1), count=50, product_pages=500)
        assert first == again
        assert len(set(first)) > 10, f"{name} requests vary"


def test_list_pages_stay_within_the_catalogue_and_mostly_on_the_front_pages():
    pages = [
        int(query_of(path)["page"][0])
        for path in scenario_paths("list", random.Random(2), count=400, product_pages=5000)
    ]

    assert all(1 <= page <= 5000 for page in pages)
    assert 0.5 < sum(page <= 10 for page in pages) / len(pages) < 0.9
    assert max(pages) > 100, "deep pages are measured too"


def test_filters_combine_a_real_category_a_price_range_and_one_attribute():
    slugs = {slugify(parent) for parent, _ in CATEGORY_TREE} | {
        slugify(leaf.name) for _, leaves in CATEGORY_TREE for leaf in leaves
    }

    for path in scenario_paths("filter", random.Random(3), count=200, product_pages=1):
        query = query_of(path)
        assert query["category"][0] in slugs
        assert int(query["min_price"][0]) <= int(query["max_price"][0])
        assert len([key for key in query if key.startswith("attr.")]) == 1


def test_every_search_asks_for_some_text():
    for path in scenario_paths("search", random.Random(4), count=100, product_pages=1):
        assert query_of(path)["q"][0].strip()


def test_an_unknown_scenario_is_refused():
    with pytest.raises(ValueError, match="unknown scenario"):
        scenario_paths("checkout", random.Random(0), count=1, product_pages=1)


@pytest.mark.django_db
def test_every_scenario_request_is_a_valid_catalog_query_that_finds_products(api_client):
    seed_techstore(users=0, products=400, orders=0, seed=42)
    pages = -(-api_client.get("/api/v1/catalog/products").json()["count"] // 20)

    for name in SCENARIOS:
        counts = []
        for path in scenario_paths(name, random.Random(5), count=40, product_pages=pages):
            response = api_client.get(path)
            assert response.status_code == 200, (path, response.content[:200])
            counts.append(response.json()["count"])
        assert sum(counts) > 0, f"{name} requests match products"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite:///var/bench.sqlite3", "runs on PostgreSQL"),
        ("postgres://postgres@127.0.0.1:5432/techstore", "name must contain 'bench'"),
    ],
)
def test_the_bench_never_drops_a_database_that_is_not_a_bench_database(url, message):
    with pytest.raises(BenchError, match=message):
        database_prepare(database_url=url, products=10, seed=1, keep=False, console=None)

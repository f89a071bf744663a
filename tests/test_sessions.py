"""`make test`'s session plan (tests/sessions.py): every test module runs in exactly one session, nothing
touches the shared broker's life (the restart drills run their own node), and parallel sessions never share a
database or a Redis database."""

from pathlib import Path

from tests import sessions

ROOT = Path(__file__).resolve().parent.parent


def test_every_module_runs_in_exactly_one_session():
    plan = sessions.plan(sessions.load_timings())
    modules = [a for s in plan for a in s.args if a.startswith("tests/e2e/")]
    on_disk = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests" / "e2e").glob("test_*.py"))
    assert sorted(modules) == on_disk
    main = [a for s in plan if s.name.startswith("main-") for a in s.args]
    assert len(main) == len(set(main)) > 100
    assert not [m for m in main if m.startswith(("tests/e2e/", "tests/extracted/", "tests/chassis/"))]
    assert "tests/migrations_data/test_relay_broker_restart.py" in main
    services = {p.name for p in (ROOT / "tests" / "extracted").glob("*_service")}
    assert services <= {s.name for s in plan}
    assert len({s.index for s in plan}) == len(plan)


def test_no_test_stops_or_starts_the_shared_rabbitmq():
    """Stopping the shared broker would break every session running beside it: the drills that do so use a
    node of their own (tests/rabbitmq_node.py)."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "tests").rglob("*.py")
        if path.name not in ("rabbitmq_node.py", "test_sessions.py")
        and any(f'"{verb}"' in path.read_text() for verb in ("stop_app", "start_app"))
    ]
    assert offenders == []


def test_shards_balance_by_time_longest_first():
    timings = {"a": 100.0, "b": 60.0, "c": 50.0, "d": 10.0}
    shards = sessions.shard(list(timings), 2, timings)
    loads = sorted(sum(timings[m] for m in shard) for shard in shards)
    assert loads == [110.0, 110.0]  # a+d, b+c
    assert sorted(m for shard in shards for m in shard) == sorted(timings)


def test_each_session_gets_its_own_databases_and_redis_database():
    base = {
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/techstore",
        "PRODUCT_DATABASE_URL": "postgres://postgres@127.0.0.1:5432/product?sslmode=disable",
        "SHADOW_DATABASE_URL": "sqlite:///var/shadow.sqlite3",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "PATH": "/bin",
    }
    one, two = sessions.session_env(base, 1), sessions.session_env(base, 2)
    assert one["DATABASE_URL"].endswith("/techstore_s1")
    assert two["PRODUCT_DATABASE_URL"] == "postgres://postgres@127.0.0.1:5432/product_s2?sslmode=disable"
    assert one["SHADOW_DATABASE_URL"] == base["SHADOW_DATABASE_URL"]  # files: not shared between hosts
    assert (one["REDIS_URL"], two["REDIS_URL"]) == ("redis://127.0.0.1:6379/1", "redis://127.0.0.1:6379/2")
    assert one["PATH"] == "/bin"

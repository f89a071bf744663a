"""contracts/cli: the command-line convention's one-line failures, exit codes, shared options and
pre-checks, against a real PostgreSQL, a real SQLite file, real sockets and a real (absent) broker."""

import io
import socket
import sqlite3
import sys

import psycopg2
import pytest
from django.core.management.base import CommandError

from contracts import cli
from legacy_monolith.demo.processes import free_port


def failure_of(exc: BaseException, **hints) -> cli.Failure | None:
    return cli.failure_for(exc, cli.Hints(**hints) if hints else None)


def raised(call) -> BaseException:
    try:
        call()
    except BaseException as exc:
        return exc
    raise AssertionError("nothing raised")


def test_a_missing_postgresql_database_names_the_database_and_the_setting():
    exc = raised(lambda: psycopg2.connect(dbname="no_such_db_h8", host="127.0.0.1", user="postgres"))

    failure = failure_of(exc, database_setting="PRODUCT_DATABASE_URL")

    assert (failure.code, failure.exit_code) == ("database_not_found", 2)
    assert "'no_such_db_h8'" in failure.message
    assert "PRODUCT_DATABASE_URL" in failure.message


def test_a_server_that_is_down_is_database_unavailable_on_one_line():
    port = free_port()
    exc = raised(lambda: psycopg2.connect(host="127.0.0.1", port=port, user="postgres", connect_timeout=2))

    failure = failure_of(exc)

    assert failure.code == "database_unavailable"
    assert "\n" not in failure.line("manage.py")
    assert failure.line("manage.py").startswith("manage.py: database_unavailable: cannot use the database: ")


def test_an_unmigrated_database_names_the_entry_points_migrate_command(tmp_path):
    db = sqlite3.connect(tmp_path / "empty.sqlite3")
    exc = raised(lambda: db.execute("SELECT * FROM catalog_product"))

    failure = failure_of(exc, migrate="python -m extracted.product_service migrate")

    assert failure.code == "database_not_migrated"
    assert failure.message.endswith("run `python -m extracted.product_service migrate`")


def test_the_shadow_tables_hint_at_the_shadow_database(tmp_path):
    db = sqlite3.connect(tmp_path / "empty.sqlite3")
    exc = raised(lambda: db.execute("SELECT * FROM shadow_routestats"))

    assert failure_of(exc).message.endswith("run `manage.py migrate --database shadow`")


def test_a_bad_query_is_a_bug_and_keeps_its_traceback(tmp_path):
    db = sqlite3.connect(tmp_path / "x.sqlite3")
    exc = raised(lambda: db.execute("SELEC 1"))

    assert failure_of(exc) is None
    assert failure_of(ZeroDivisionError()) is None


def test_toolkit_errors_keep_their_code_even_wrapped_in_a_command_error():
    try:
        try:
            raise cli.CheckFailed("differences_found", "3 products differ")
        except cli.CheckFailed as inner:
            raise CommandError("3 products differ") from inner
    except CommandError as exc:
        failure = failure_of(exc)

    assert (failure.code, failure.exit_code) == ("differences_found", 1)
    assert failure_of(CommandError("needs --redirect-uri")) == cli.Failure(
        "invalid_usage", "needs --redirect-uri", 2
    )


def test_guard_prints_one_line_and_exits_with_the_failures_code():
    err = io.StringIO()
    with pytest.raises(SystemExit) as exited, cli.guard("flags on", stderr=err, traceback=False):
        raise cli.UsageError("no such flag: create it first\n(flags create NAME)")

    assert exited.value.code == 2
    assert err.getvalue() == "flags on: invalid_option: no such flag: create it first; (flags create NAME)\n"


def test_guard_lets_a_bug_through_with_its_traceback():
    with pytest.raises(KeyError), cli.guard("x", stderr=io.StringIO(), traceback=False):
        raise KeyError("bug")


def test_an_interrupt_exits_130_without_a_line():
    err = io.StringIO()
    with pytest.raises(SystemExit) as exited, cli.guard("x", stderr=err, traceback=False):
        raise KeyboardInterrupt

    assert (exited.value.code, err.getvalue()) == (130, "")


def test_run_main_returns_the_exit_code_of_the_work_or_of_its_failure(capsys):
    assert cli.run_main("t", lambda: 0) == 0
    assert cli.run_main("t", lambda: 1) == 1

    def broken():
        raise cli.EnvironmentUnusable("broker_unavailable", "RabbitMQ is down")

    assert cli.run_main("t", broken) == 2
    assert capsys.readouterr().err == "t: broker_unavailable: RabbitMQ is down\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--limit", "-1"], "argument --limit: must be zero or more, not -1"),
        (["--limit", "x"], "argument --limit: 'x' is not a whole number"),
        (["--interval", "0"], "argument --interval: must be more than 0"),
        (["--interval", "nan"], "argument --interval: must be zero or more, not nan"),
        (["--since", "yesterday"], "argument --since: give an ISO 8601 time or a duration like 30m, 6h, 2d"),
        (["--port", "70000"], "argument --port: must be a port from 1 to 65535, not 70000"),
        (["--nope"], "unrecognized arguments: --nope"),
    ],
)
def test_a_bad_argument_is_one_line_and_exit_2(argv, message, capsys):
    parser = cli.ArgumentParser(prog="demo")
    parser.add_argument("--limit", type=cli.count, default=20)
    parser.add_argument("--port", type=cli.port)
    cli.add_interval(parser, 1.0, "seconds between polls")
    cli.add_since(parser)

    with pytest.raises(SystemExit) as exited:
        parser.parse_args(argv)

    assert exited.value.code == 2
    assert capsys.readouterr().err == f"demo: invalid_usage: {message} (see --help)\n"


def test_subparsers_of_a_plain_parser_made_one_line_report_their_own_prog(capsys):
    import argparse

    parser = argparse.ArgumentParser(prog="tool")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("audit").add_argument("--limit", type=cli.count)
    cli.one_line_usage_errors(parser)

    with pytest.raises(SystemExit):
        parser.parse_args(["audit", "--limit", "-3"])

    assert capsys.readouterr().err.splitlines() == [
        "tool audit: invalid_usage: argument --limit: must be zero or more, not -3 (see --help)"
    ]


def test_a_deprecated_spelling_still_works_and_says_so(capsys):
    parser = cli.ArgumentParser(prog="sync products follow")
    cli.add_interval(parser, 1.0, "seconds between polls", deprecated=["--poll-interval"])
    cli.add_option(parser, "--json", deprecated=["--as-json"], action="store_true")

    options = parser.parse_args(["--poll-interval", "0.5", "--as-json"])

    assert (options.interval, options.json) == (0.5, True)
    assert capsys.readouterr().err.splitlines() == [
        "sync products follow: warning: --poll-interval is deprecated, use --interval",
        "sync products follow: warning: --as-json is deprecated, use --json",
    ]
    assert parser.parse_args([]).json is False


def test_once_comes_with_a_timeout_and_the_deadline_says_what_gave_up():
    parser = cli.ArgumentParser(prog="t")
    cli.add_once(parser, timeout=5)
    options = parser.parse_args(["--once", "--timeout", "0.01"])
    deadline = cli.Deadline(options.timeout)

    while not deadline.expired:
        pass
    with pytest.raises(cli.EnvironmentUnusable) as caught:
        deadline.check("waiting for the broker")

    assert caught.value.code == "timed_out"
    assert caught.value.message == "--once gave up after 0.01 s waiting for the broker"
    assert cli.Deadline(None).remaining() is None


def test_a_port_in_use_is_refused_before_any_work_starts():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(cli.EnvironmentUnusable) as caught:
            cli.check_port_free("127.0.0.1", port, "--metrics-port")

    assert caught.value.code == "port_in_use"
    assert caught.value.message.startswith(f"--metrics-port {port}: cannot listen on 127.0.0.1:{port}")
    cli.check_port_free("127.0.0.1", port, "--metrics-port")  # free again
    cli.check_port_free("127.0.0.1", 0, "--metrics-port")


def test_a_real_bind_error_is_port_in_use_even_without_a_pre_check():
    with socket.socket() as taken, socket.socket() as second:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        exc = raised(lambda: second.bind(taken.getsockname()))

    assert failure_of(exc).code == "port_in_use"


def test_an_unreachable_broker_is_reported_within_the_timeout_without_its_password():
    url = f"amqp://guest:s3cret@127.0.0.1:{free_port()}//"

    with pytest.raises(cli.EnvironmentUnusable) as caught:
        cli.check_broker(url, timeout=2)

    assert caught.value.code == "broker_unavailable"
    assert "s3cret" not in caught.value.message
    assert "guest:***@127.0.0.1" in caught.value.message
    cli.check_broker("filesystem://", timeout=1)  # the embedded profile's queue needs no server


def test_a_missing_queue_from_the_real_broker_is_queue_not_found():
    from kombu import Connection

    with Connection("amqp://guest:guest@127.0.0.1:5672//", connect_timeout=5) as connection:
        channel = connection.channel()
        exc = raised(lambda: channel.queue_declare("h8.no-such-queue", passive=True))

    failure = failure_of(exc)
    assert failure.code == "queue_not_found"
    assert "h8.no-such-queue" in failure.message


def test_the_toolkit_error_types_are_the_projects_one_application_error():
    from contracts.errors import ApplicationError
    from flags.errors import FlagsError
    from migrations_data.engine.errors import SyncError
    from shadow.errors import ShadowError

    for error_type in (FlagsError, SyncError, ShadowError, cli.UsageError, cli.CheckFailed):
        assert issubclass(error_type, ApplicationError)
    assert sys.modules["contracts.cli"].__doc__


def test_a_failure_with_details_prints_its_line_then_one_line_per_detail():
    class Refused(cli.CheckFailed):
        def __init__(self):
            super().__init__("gate_refused", "raise refused by 2 gates:\n  a: short by 1\n  b: short by 2")
            self.detail_lines = ("a: short by 1", "b: short by 2")

    err = io.StringIO()
    with pytest.raises(SystemExit) as exited, cli.guard("flags on", stderr=err, traceback=False):
        raise Refused

    assert exited.value.code == 1
    assert err.getvalue().splitlines() == [
        "flags on: gate_refused: raise refused by 2 gates:",
        "flags on: gate_refused: a: short by 1",
        "flags on: gate_refused: b: short by 2",
    ]

"""PostgreSQL over mutual TLS (issue 20): a `?sslmode=verify-full` database URL in a process with its internal
certificate (INTERNAL_TLS_CERT/KEY/CA) connects with that certificate, trusting only the internal CA, over
TLS 1.3 (chassis.settings.database_config, which every service's and the monolith's DATABASES go through).
A real PostgreSQL cluster of this test's own (initdb, pg_ctl) requires a client certificate from the internal
CA on every connection (`hostssl ... clientcert=verify-ca`, nothing else in pg_hba.conf) and TLS 1.3: the
configured process connects; no certificate, a certificate of another CA and TLS 1.2 are refused."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg2
import pytest

from chassis.settings import database_config
from kernel.pki import Authority
from legacy_monolith.demo.processes import free_port

# the server's binaries: where initdb on PATH really lives (here a link to Debian's versioned folder)
PG_BIN = Path(os.path.realpath(shutil.which("initdb") or "/usr/lib/postgresql/15/bin/initdb")).parent


def as_postgres(*argv: str) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", *argv], check=True, capture_output=True, timeout=120)


@contextlib.contextmanager
def tls_cluster(authority: Authority):
    """A PostgreSQL cluster on a free port that accepts TLS 1.3 connections with a client certificate."""
    folder = Path(tempfile.mkdtemp(prefix="pg-mtls-"))
    shutil.chown(folder, "postgres", "postgres")
    data, port = folder / "data", free_port()
    as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust")
    cert, key = authority.issue("postgres")
    for name, content in (
        ("server.crt", cert),
        ("server.key", key),
        ("root.crt", authority.certificate_pem()),
    ):
        (data / name).write_bytes(content)
        shutil.chown(data / name, "postgres", "postgres")
        (data / name).chmod(0o600)
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(
            f"port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{folder}'\n"
            "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nssl_ca_file = 'root.crt'\n"
            "ssl_min_protocol_version = 'TLSv1.3'\n"
        )
    (data / "pg_hba.conf").write_text(
        "local all postgres trust\nhostssl all all 127.0.0.1/32 trust clientcert=verify-ca\n"
    )
    as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w", "start")
    try:
        yield port
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pg-pki")
    authority, stranger = Authority.create(), Authority.create("another CA")
    (folder / "ca.pem").write_bytes(authority.certificate_pem())
    for name, ca in (("order_service", authority), ("rogue", stranger)):
        cert, key = ca.issue(name)
        (folder / f"{name}.pem").write_bytes(cert)
        (folder / f"{name}.key").write_bytes(key)
        (folder / f"{name}.key").chmod(0o600)  # libpq refuses a key others can read
    return folder, authority


@pytest.fixture(scope="module")
def cluster(pki):
    if not (PG_BIN / "initdb").exists():
        pytest.fail(f"PostgreSQL's server binaries are not in {PG_BIN}")
    with tls_cluster(pki[1]) as port:
        yield port


def connect(settings_entry: dict):
    return psycopg2.connect(
        dbname=settings_entry["NAME"],
        user=settings_entry["USER"],
        host=settings_entry["HOST"],
        port=settings_entry["PORT"],
        **settings_entry["OPTIONS"],
    )


def refused(settings_entry: dict) -> bool:
    try:
        connect(settings_entry).close()
    except psycopg2.OperationalError:
        return True
    return False


def test_a_verify_full_url_connects_with_the_internal_certificate_over_tls_1_3(cluster, pki, monkeypatch):
    folder, _ = pki
    monkeypatch.setenv("INTERNAL_TLS_CERT", str(folder / "order_service.pem"))
    monkeypatch.setenv("INTERNAL_TLS_KEY", str(folder / "order_service.key"))
    monkeypatch.setenv("INTERNAL_TLS_CA", str(folder / "ca.pem"))
    url = f"postgres://postgres@localhost:{cluster}/postgres?sslmode=verify-full"
    entry = database_config("ORDER_DATABASE_URL", url)
    assert entry["OPTIONS"]["sslcert"] == str(folder / "order_service.pem")
    with connect(entry) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT ssl, version, client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        assert cursor.fetchone() == (True, "TLSv1.3", "/CN=order_service")
    conn.close()

    others = {k: v for k, v in entry["OPTIONS"].items() if k not in ("sslcert", "sslkey")}
    no_certificate = {**entry, "OPTIONS": {**others, "sslcert": str(folder / "missing.pem")}}
    assert refused(no_certificate)
    rogue = {
        **entry,
        "OPTIONS": {**others, "sslcert": str(folder / "rogue.pem"), "sslkey": str(folder / "rogue.key")},
    }
    assert refused(rogue)
    tls12 = {**entry, "OPTIONS": {**entry["OPTIONS"], "ssl_min_protocol_version": "TLSv1.2"}}
    tls12["OPTIONS"]["ssl_max_protocol_version"] = "TLSv1.2"
    assert refused(tls12)


def test_without_sslmode_or_without_an_internal_certificate_the_url_is_taken_as_written(monkeypatch):
    monkeypatch.setenv("INTERNAL_TLS_CERT", "/certs/a.pem")
    monkeypatch.setenv("INTERNAL_TLS_KEY", "/certs/a.key")
    monkeypatch.setenv("INTERNAL_TLS_CA", "/certs/ca.pem")
    plain = database_config("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/x")
    assert "sslcert" not in plain["OPTIONS"]
    own = database_config("DATABASE_URL", "postgres://u@db:5432/x?sslmode=verify-full&sslcert=/mine.pem")
    assert own["OPTIONS"]["sslcert"] == "/mine.pem"  # what the URL names wins
    monkeypatch.delenv("INTERNAL_TLS_CERT")
    bare = database_config("DATABASE_URL", "postgres://u@db:5432/x?sslmode=verify-full")
    assert bare["OPTIONS"] == {"sslmode": "verify-full", "connect_timeout": 3}

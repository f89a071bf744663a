"""The development CA (kernel.pki), `python -m chassis.certs`, and reading a peer's identity (kernel.mtls)."""

from __future__ import annotations

import stat
import subprocess
import sys

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from chassis.certs import certs_make
from contracts import cli
from kernel.mtls import MutualTls, MutualTlsError, peer_service
from kernel.pki import Authority, PkiError, service_of, spiffe_id


def test_a_service_certificate_names_its_identity_and_hosts_and_serves_both_ends():
    authority = Authority.create()
    cert_pem, _ = authority.issue("order_service", hosts=("order-service", "10.0.0.7"))
    cert = x509.load_pem_x509_certificate(cert_pem)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.UniformResourceIdentifier) == [
        "spiffe://strangler.internal/order_service"
    ]
    assert names.get_values_for_type(x509.DNSName) == ["order-service"]
    assert [str(a) for a in names.get_values_for_type(x509.IPAddress)] == ["10.0.0.7"]
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usages) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    cert.verify_directly_issued_by(authority.certificate)


@pytest.mark.parametrize("name", ["Order", "order-service", "", "a" * 65, "../x"])
def test_a_name_that_is_not_a_service_name_is_refused(name):
    with pytest.raises(PkiError):
        spiffe_id(name)


def test_certs_keeps_the_ca_when_run_again_and_replaces_it_only_when_asked(tmp_path):
    first = certs_make(folder=tmp_path, services=("sync",))
    ca = (tmp_path / "ca.crt").read_bytes()
    again = certs_make(folder=tmp_path, services=("sync",))
    assert (first.ca_created, again.ca_created, (tmp_path / "ca.crt").read_bytes()) == (True, False, ca)
    reissued = x509.load_pem_x509_certificate((tmp_path / "sync.crt").read_bytes())
    reissued.verify_directly_issued_by(x509.load_pem_x509_certificate(ca))
    assert certs_make(folder=tmp_path, services=("sync",), new_ca=True).ca_created
    assert (tmp_path / "ca.crt").read_bytes() != ca


def test_private_keys_are_readable_by_their_owner_only(tmp_path):
    certs_make(folder=tmp_path, services=("sync",))
    for key in ("ca.key", "sync.key"):
        assert stat.S_IMODE((tmp_path / key).stat().st_mode) == 0o600


def test_certs_refuses_a_bad_service_name_before_writing_anything(tmp_path):
    with pytest.raises(cli.UsageError, match="not a service name"):
        certs_make(folder=tmp_path / "out", services=("sync", "Bad Name"))
    assert not (tmp_path / "out").exists()


def test_the_certs_command_prints_json_and_one_line_errors(tmp_path):
    ok = subprocess.run(
        [sys.executable, "-m", "chassis.certs", "--out", str(tmp_path), "--service", "sync", "--json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert '"identity": "spiffe://strangler.internal/sync"' in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "chassis.certs", "--out", str(tmp_path), "--host", "not a host!"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert (bad.returncode, bad.stderr.count("\n")) == (2, 1)
    assert bad.stderr.startswith("chassis.certs: invalid_option: --host 'not a host!'")


def _peercert(*uris: str) -> dict:
    return {"subjectAltName": (("DNS", "localhost"), *(("URI", uri) for uri in uris))}


@pytest.mark.parametrize(
    ("peercert", "expected"),
    [
        (_peercert("spiffe://strangler.internal/order_service"), "order_service"),
        (_peercert("spiffe://elsewhere.example/order_service"), None),  # another trust domain
        (_peercert("spiffe://strangler.internal/a", "spiffe://strangler.internal/b"), None),  # ambiguous
        (_peercert(), None),
        (None, None),
        ({}, None),
    ],
)
def test_the_peer_service_is_the_one_identity_of_our_trust_domain(peercert, expected):
    assert peer_service(peercert) == expected


def test_service_of_reads_only_our_trust_domain():
    assert service_of("spiffe://strangler.internal/sync") == "sync"
    assert service_of("spiffe://strangler.internal/sync/extra") is None


def test_mutual_tls_settings_need_all_three_files():
    assert MutualTls.from_env({}) is None
    with pytest.raises(MutualTlsError, match="INTERNAL_TLS_KEY and INTERNAL_TLS_CA"):
        MutualTls.from_env({"INTERNAL_TLS_CERT": "/x.crt"})


def test_an_unreadable_certificate_is_named_in_the_error(tmp_path):
    certs_make(folder=tmp_path, services=("sync",))
    mutual = MutualTls(str(tmp_path / "missing.crt"), str(tmp_path / "sync.key"), str(tmp_path / "ca.crt"))
    with pytest.raises(MutualTlsError, match=r"missing\.crt"):
        mutual.client_context()

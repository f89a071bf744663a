"""A development certificate authority for the internal hops: one CA, one certificate per service, the
service's identity as a SPIFFE-style URI SAN (`spiffe://<trust domain>/<service>`).

Every leaf serves both ends of a hop (serverAuth and clientAuth), with the DNS names and addresses the
service is reached at. Production points the same settings (INTERNAL_TLS_CERT/KEY/CA) at certificates from
a real CA; nothing here is needed then. Pure `cryptography`, no project imports."""

from __future__ import annotations

import datetime
import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

TRUST_DOMAIN = "strangler.internal"
# The processes that call or answer internal hops: the gateway, the monolith (its ACL clients), the sync
# jobs (manage.py sync ...), the control loop (manage.py rollout ...), and each service.
SERVICES = (
    "gateway", "monolith", "sync", "control", "product_service", "auth_service", "order_service",
    "payment_service", "notification_service",
)  # fmt: skip
DEFAULT_HOSTS = ("localhost", "127.0.0.1")
NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
DOMAIN = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")
BACKDATE = datetime.timedelta(minutes=5)  # clocks of the hosts a little apart


class PkiError(ValueError):
    """A name, a host or a file of the authority is unusable (the message says which and why)."""


def spiffe_id(name: str, trust_domain: str = TRUST_DOMAIN) -> str:
    if not NAME.match(name):
        raise PkiError(f"{name!r} is not a service name (lower-case letters, digits, _)")
    if not DOMAIN.match(trust_domain):
        raise PkiError(f"{trust_domain!r} is not a trust domain (a lower-case DNS name)")
    return f"spiffe://{trust_domain}/{name}"


def service_of(identity: str, trust_domain: str = TRUST_DOMAIN) -> str | None:
    """The service name an identity names inside `trust_domain`, None for anything else."""
    prefix = f"spiffe://{trust_domain}/"
    name = identity[len(prefix) :] if identity.startswith(prefix) else ""
    return name if NAME.match(name) else None


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        if not DOMAIN.match(host.lower()):
            raise PkiError(f"--host {host!r} is neither an IP address nor a DNS name") from None
        return x509.DNSName(host.lower())


def pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass(frozen=True)
class Authority:
    """A CA key and its self-signed certificate (ECDSA P-256)."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @classmethod
    def create(cls, common_name: str = "strangler internal CA (dev)", *, days: int = 365) -> Authority:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - BACKDATE)
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                    encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )  # fmt: skip
        return cls(key, certificate)

    @classmethod
    def load(cls, cert_path: Path, key_path: Path) -> Authority:
        try:
            certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        except (OSError, ValueError) as exc:
            raise PkiError(f"the CA in {cert_path.parent} does not load: {exc}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise PkiError(f"{key_path} is not an EC private key")
        return cls(key, certificate)

    def issue(
        self,
        name: str,
        *,
        hosts: tuple[str, ...] = DEFAULT_HOSTS,
        trust_domain: str = TRUST_DOMAIN,
        days: int = 90,
    ) -> tuple[bytes, bytes]:
        """(certificate PEM, private key PEM) of service `name`: URI SAN its identity, DNS/IP SANs `hosts`."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        sans = [x509.UniformResourceIdentifier(spiffe_id(name, trust_domain)), *map(_san, hosts)]
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self.certificate.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - BACKDATE)
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )  # fmt: skip
        return certificate.public_bytes(serialization.Encoding.PEM), pem_key(key)

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


def write_private(path: Path, content: bytes) -> None:
    """A key file readable by its owner only (created so, never widened afterwards)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_bytes(content)

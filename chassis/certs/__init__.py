"""`python -m chassis.certs` (`make certs`): the development CA and one certificate per service for mutual
TLS inside (kernel.pki). An existing CA is kept, so certificates issued again still chain to what every
peer trusts; `--new-ca` starts over."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from contracts import cli
from kernel.pki import DEFAULT_HOSTS, SERVICES, TRUST_DOMAIN, Authority, PkiError, spiffe_id, write_private

CLI_EXAMPLES = {"bad_argument": ["--days", "0"]}
DEFAULT_FOLDER = Path("var/certs")


@dataclass
class CertsResult:
    folder: str
    ca: str
    ca_created: bool
    trust_domain: str
    certificates: list[dict[str, str]] = field(default_factory=list)


def certs_make(
    *,
    folder: Path,
    services: tuple[str, ...] = SERVICES,
    hosts: tuple[str, ...] = DEFAULT_HOSTS,
    trust_domain: str = TRUST_DOMAIN,
    days: int = 90,
    new_ca: bool = False,
) -> CertsResult:
    """Write ca.crt/ca.key (unless present) and <service>.crt/<service>.key for each service. Each service
    certificate also names `<service-with-dashes>` (its Compose/Kubernetes host name) besides `hosts`."""
    ca_cert, ca_key = folder / "ca.crt", folder / "ca.key"
    try:
        for name in services:
            spiffe_id(name, trust_domain)  # every name checked before anything is written
        created = new_ca or not (ca_cert.exists() and ca_key.exists())
        if created:
            authority = Authority.create(days=max(days, 365))
            write_private(ca_key, _key_pem(authority))
            ca_cert.write_bytes(authority.certificate_pem())
        else:
            authority = Authority.load(ca_cert, ca_key)
        result = CertsResult(str(folder), str(ca_cert), created, trust_domain)
        for name in services:
            names = (*hosts, name.replace("_", "-"))
            cert_pem, key_pem = authority.issue(name, hosts=names, trust_domain=trust_domain, days=days)
            write_private(folder / f"{name}.key", key_pem)
            cert_path = folder / f"{name}.crt"
            cert_path.write_bytes(cert_pem)
            identity = spiffe_id(name, trust_domain)
            result.certificates.append({"service": name, "identity": identity, "cert": str(cert_path)})
    except PkiError as exc:
        raise cli.UsageError(str(exc)) from None
    except OSError as exc:
        raise cli.EnvironmentUnusable("folder_unusable", f"--out {folder}: {exc.strerror}") from None
    return result


def _key_pem(authority: Authority) -> bytes:
    from kernel.pki import pem_key

    return pem_key(authority.key)


def build_parser() -> cli.ArgumentParser:
    parser = cli.ArgumentParser(prog="chassis.certs", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_FOLDER, help="folder (default %(default)s)")
    parser.add_argument(
        "--service", action="append", dest="services", metavar="NAME",
        help=f"a service to issue for (repeatable; default all: {', '.join(SERVICES)})",
    )  # fmt: skip
    parser.add_argument(
        "--host", action="append", dest="hosts", metavar="NAME_OR_IP",
        help=f"a DNS name or address each certificate names (repeatable; default {', '.join(DEFAULT_HOSTS)})",
    )  # fmt: skip
    parser.add_argument("--trust-domain", default=TRUST_DOMAIN, help="default %(default)s")
    parser.add_argument("--days", type=cli.positive_int, default=90, help="validity (default %(default)s)")
    parser.add_argument("--new-ca", action="store_true", help="replace the CA (every peer must reload it)")
    cli.add_json(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    options = build_parser().parse_args(argv)

    def work() -> int:
        result = certs_make(
            folder=options.out,
            services=tuple(dict.fromkeys(options.services or SERVICES)),
            hosts=tuple(options.hosts or DEFAULT_HOSTS),
            trust_domain=options.trust_domain,
            days=options.days,
            new_ca=options.new_ca,
        )
        if options.json:
            print(json.dumps(asdict(result)))
        else:
            _print_table(result)
        return 0

    return cli.run_main("chassis.certs", work)


def _print_table(result: CertsResult) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"certificates in {result.folder} (CA {'created' if result.ca_created else 'kept'})")
    for column in ("service", "identity", "cert"):
        table.add_column(column)
    for row in result.certificates:
        table.add_row(row["service"], row["identity"], row["cert"])
    Console().print(table)
    print("set INTERNAL_TLS_CERT, INTERNAL_TLS_KEY (the service's files) and INTERNAL_TLS_CA to use them")

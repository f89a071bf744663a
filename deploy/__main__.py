"""`python -m deploy COMMAND`: the deployment files and their checks.

  gen [--check]             write docker-compose.yml, deploy/k8s/base/, Prometheus and Grafana provisioning
                            from the registry; --check: exit 1 naming the stale files, write nothing
  secrets [--env-file .env] [--k8s]
                            .env for compose (created once, existing values kept); --k8s: print the Secret
                            manifest for `kubectl apply -f -` from that file
  validate compose|k8s|prometheus
                            the ecosystem's validators: the Compose specification's JSON schema
                            (check-jsonschema), kustomize rendering of every overlay + the Kubernetes schemas
                            (kubectl kustomize, kubernetes-validate), promtool check config/rules + rule tests
Exit codes: 0 ok, 1 a check failed, 2 bad usage or a missing tool (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from deploy import generate, validate
from deploy.secrets import k8s_secret_manifest, read_env_file, secrets_write


class _Parser(argparse.ArgumentParser):
    """One-line usage errors, exit 2 (the repository's CONVENTIONS.md); deploy imports nothing of the
    project, so not contracts/cli."""

    def error(self, message: str):
        self.exit(2, f"deploy: invalid_usage: {message} (see --help)\n")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m deploy", description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("gen", help="write the generated deployment files")
    gen.add_argument("--check", action="store_true", help="only report stale files (exit 1)")
    gen.add_argument("--json", action="store_true")
    sec = sub.add_parser("secrets", help="make .env with fresh secrets (keeps existing values)")
    sec.add_argument("--env-file", type=Path, default=generate.ROOT / ".env")
    sec.add_argument("--k8s", action="store_true", help="print a Secret manifest from the env file")
    sec.add_argument("--json", action="store_true")
    val = sub.add_parser("validate", help="run the ecosystem's validators")
    val.add_argument("what", choices=sorted(validate.VALIDATORS))
    val.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    if args.command == "gen":
        if args.check:
            stale = generate.stale_files()
            _print(args.json, {"stale": stale}, "\n".join(f"stale: {p}" for p in stale) or "all current")
            if stale:
                print("deploy gen: generated files are stale: run make deploy-gen", file=sys.stderr)
            return 1 if stale else 0
        written = generate.write_files()
        _print(args.json, {"written": written}, "\n".join(f"wrote {p}" for p in written) or "all current")
        return 0
    if args.command == "secrets":
        if args.k8s:
            values = read_env_file(args.env_file)
            if not values:
                print(f"deploy secrets: {args.env_file} is missing: run without --k8s first", file=sys.stderr)
                return 2
            print(generate.dump(k8s_secret_manifest(values)), end="")
            return 0
        result = secrets_write(args.env_file)
        _print(
            args.json,
            result.__dict__,
            f"{result.path}: {len(result.created)} created, {len(result.kept)} kept",
        )
        return 0
    try:
        report = validate.VALIDATORS[args.what]()
    except validate.ToolMissing as exc:
        print(f"deploy validate {args.what}: {exc}", file=sys.stderr)
        return 2
    _print(args.json, report.as_dict(), report.text())
    if not report.ok:
        print(f"deploy validate {args.what}: {len(report.problems)} problem(s)", file=sys.stderr)
    return 0 if report.ok else 1


def _print(as_json: bool, data: object, text: str) -> None:
    print(json.dumps(data) if as_json else text)


if __name__ == "__main__":
    sys.exit(main())

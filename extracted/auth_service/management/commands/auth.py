"""`python -m extracted.auth_service auth ...`: signing keys, the audit chain, OAuth clients.

auth keys rotate [--overlap SECONDS] [--json]   new active key; the old one verifies until the overlap ends
auth keys list [--json]                         every key and its state
auth audit verify [--json]                      walk the hash chain; exit 1 if it was edited or cut
auth clients create NAME --grant authorization-code|client-credentials [--redirect-uri URI ...]
                    [--confidential] [--client-id ID [--if-missing]] [--json]
                                                register a client (first-party: no consent screen); with
                                                --client-id ID --if-missing, an existing ID is left as it is
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from oauth2_provider.models import get_application_model

from contracts import cli
from extracted.auth_service import keys
from extracted.auth_service.audit import audit_verify
from extracted.auth_service.models import SigningKey

GRANTS = ("authorization-code", "client-credentials")


class Command(cli.ToolkitCommand, BaseCommand):
    help = "Auth service administration: keys rotate|list, audit verify, clients create."
    # How tests/test_commands_convention.py drives this command into each failure (CONVENTIONS.md).
    cli_examples = {"database": ["keys", "list"], "bad_argument": ["keys", "rotate", "--overlap", "-1"]}

    def add_arguments(self, parser) -> None:
        areas = parser.add_subparsers(dest="area", required=True)
        key_cmds = areas.add_parser("keys").add_subparsers(dest="action", required=True)
        rotate = key_cmds.add_parser("rotate", help="make a new active signing key")
        rotate.add_argument(
            "--overlap", type=cli.count, default=None, help="seconds the old key keeps verifying"
        )
        cli.add_json(rotate)
        listing = key_cmds.add_parser("list", help="every signing key and its state")
        cli.add_json(listing)
        audit_cmds = areas.add_parser("audit").add_subparsers(dest="action", required=True)
        verify = audit_cmds.add_parser("verify", help="check the audit hash chain (exit 1 if broken)")
        cli.add_json(verify)
        client_cmds = areas.add_parser("clients").add_subparsers(dest="action", required=True)
        create = client_cmds.add_parser("create", help="register an OAuth client")
        create.add_argument("name")
        create.add_argument("--grant", choices=sorted(GRANTS), required=True)
        create.add_argument("--redirect-uri", action="append", default=[])
        create.add_argument("--confidential", action="store_true", help="a client with a secret")
        create.add_argument("--client-id", default=None, help="this client_id instead of a random one")
        create.add_argument(
            "--if-missing", action="store_true", help="with --client-id: do nothing when that client exists"
        )
        cli.add_json(create)

    def handle(self, *args, area: str, action: str, **options) -> None:
        getattr(self, f"_{area}_{action}")(**options)

    def _emit(self, result, *, as_json: bool, text: str) -> None:
        self.stdout.write(json.dumps(result, default=str) if as_json else text)

    def _keys_rotate(self, *, overlap: int | None, **options) -> None:
        result = keys.keys_rotate(overlap_seconds=overlap).to_dict()
        retiring = (
            f"; {result['retiring_kid']} verifies until {result['verify_until']}"
            if result["retiring_kid"]
            else ""
        )
        self._emit(result, as_json=options["json"], text=f"new active key {result['new_kid']}{retiring}")

    def _keys_list(self, **options) -> None:
        now = timezone.now()
        rows = [
            {
                "kid": k.kid,
                "state": keys.key_state(k, now),
                "created_at": k.created_at,
                "verify_until": k.verify_until,
            }
            for k in SigningKey.objects.order_by("-created_at")
        ]
        text = "\n".join(
            f"{row['kid']}  {row['state']}"
            + (f" (verifies until {row['verify_until']})" if row["verify_until"] else "")
            for row in rows
        )
        self._emit(rows, as_json=options["json"], text=text or "no signing keys yet")

    def _audit_verify(self, **options) -> None:
        verification = audit_verify()
        self._emit(
            verification.to_dict(),
            as_json=options["json"],
            text=f"audit chain ok: {verification.entries} entries" if verification.ok else "",
        )
        if not verification.ok:
            raise cli.CheckFailed(
                "audit_chain_broken",
                f"audit chain broken at entry {verification.bad_line}: {verification.reason}",
            )

    def _clients_create(
        self,
        *,
        name: str,
        grant: str,
        redirect_uri: list[str],
        confidential: bool,
        client_id: str | None,
        if_missing: bool,
        **options,
    ) -> None:
        application_model = get_application_model()
        if if_missing and not client_id:
            raise CommandError("--if-missing needs --client-id")
        if client_id is not None and not client_id.strip():
            raise CommandError("--client-id cannot be empty")
        if client_id and application_model.objects.filter(client_id=client_id).exists():
            if not if_missing:
                raise CommandError(f"a client with client_id {client_id!r} already exists")
            result = {"client_id": client_id, "client_secret": None, "grant": grant, "created": False}
            self._emit(result, as_json=options["json"], text=f"client {client_id} exists: nothing done")
            return
        is_code = grant == "authorization-code"
        if is_code and not redirect_uri:
            raise CommandError("an authorization-code client needs at least one --redirect-uri")
        if not is_code and not confidential:
            raise CommandError("a client-credentials client is confidential: add --confidential")
        secret = application_model.client_secret.field.default() if confidential else ""
        extra = {"client_id": client_id} if client_id else {}
        app = application_model.objects.create(
            **extra,
            name=name,
            client_type=application_model.CLIENT_CONFIDENTIAL
            if confidential
            else application_model.CLIENT_PUBLIC,
            authorization_grant_type=(
                application_model.GRANT_AUTHORIZATION_CODE
                if is_code
                else application_model.GRANT_CLIENT_CREDENTIALS
            ),
            redirect_uris=" ".join(redirect_uri),
            client_secret=secret,
            skip_authorization=True,  # first-party clients: no consent screen
            algorithm=application_model.RS256_ALGORITHM if is_code else application_model.NO_ALGORITHM,
        )
        result = {
            "client_id": app.client_id,
            "client_secret": secret or None,
            "grant": grant,
            "created": True,
        }
        text = f"client {name}: client_id={app.client_id}" + (f" client_secret={secret}" if secret else "")
        self._emit(result, as_json=options["json"], text=text)

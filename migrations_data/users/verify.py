"""`sync users verify [--repair]`: both directions of the two-way user sync in one comparison.

Every monolith user, translated, against every user the Auth service holds, by range checksums then id by
id (migrations_data.engine.verify), over both id blocks (the monolith's ids, and the block of users
registered at the Auth service from AUTH_USER_ID_OFFSET on). Digests leave the password hash out.
`missing` = the monolith has it, the Auth service not (forward lag); `extra` = the Auth service has it, the
monolith not (a registration not received); `different` = both, unequal.

Repair re-syncs each id from the side that wins: the newer version (the monolith's `updated_at`, the Auth
service's `version`), and on equal versions the user's owner (`origin`). A monolith win is sent forward
(the row touched first, so its version is the newest); an Auth-service win is read from its export
endpoint and applied here as `sync users receive` would, whatever the version.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Max, Min
from django.utils import timezone

from acl_adapters.accounts.translate import USER_ROW_FIELDS, user_row_to_document
from contracts.user import user_digest, validate_user
from migrations_data.engine.http import InternalApiClient
from migrations_data.engine.verify import VerifyReport, VerifySides, compare_ids, verify_entity
from migrations_data.products.verify import product_sides

from .receive import user_document_apply
from .spec import user_spec

EXPORT_USERS = "/internal/v1/export/users"
EXPORT_BATCH = 1000


def _source_stream(lo: int, hi: int) -> Iterator[tuple[int, str]]:
    rows = get_user_model().objects.filter(id__gte=lo, id__lt=hi).order_by("id").values(*USER_ROW_FIELDS)
    for row in rows.iterator(chunk_size=2000):
        yield row["id"], user_digest(user_row_to_document(row))


def _source_spans() -> list[tuple[int, int]]:
    """The monolith's own ids and the Auth service's block, each (lowest, highest) when populated."""
    users = get_user_model().objects
    offset = settings.AUTH_USER_ID_OFFSET
    spans = []
    for block in (users.filter(id__lt=offset), users.filter(id__gte=offset)):
        bounds = block.aggregate(lo=Min("id"), hi=Max("id"))
        if bounds["lo"] is not None:
            spans.append((bounds["lo"], bounds["hi"]))
    return spans or [(0, 0)]


def user_sides(client: InternalApiClient) -> VerifySides:
    """The target side is the same verify API as the Product service's, asked of the auth service."""
    target = product_sides(client)
    return VerifySides(
        source_max_id=lambda: get_user_model().objects.aggregate(top=Max("id"))["top"] or 0,
        source_stream=_source_stream,
        source_digests=lambda lo, hi: dict(_source_stream(lo, hi)),
        target_checksums=target.target_checksums,
        target_digests=target.target_digests,
        source_spans=_source_spans,
    )


def export_users(client: InternalApiClient, ids: list[int]) -> dict[int, dict]:
    """{public id: document} of these users as the Auth service holds them."""
    found: dict[int, dict] = {}
    for start in range(0, len(ids), EXPORT_BATCH):
        answer = client.post(EXPORT_USERS, {"ids": ids[start : start + EXPORT_BATCH]})
        found.update({doc["id"]: validate_user(doc) for doc in answer["users"]})
    return found


def _auth_wins(theirs: dict, ours: dict | None) -> bool:
    if ours is None:
        return True
    if theirs["version"] != ours["version"]:
        return theirs["version"] > ours["version"]
    return ours["origin"] == "auth"


def repair_users(*, client: InternalApiClient, ids: list[int]) -> dict:
    """Re-sync these ids from the winning side (module docstring)."""
    spec = user_spec(client)
    ours = {row["id"]: spec.translate(row) for row in spec.fetch_ids(ids)}
    theirs = export_users(client, ids)
    backward = sorted(i for i in ids if i in theirs and _auth_wins(theirs[i], ours.get(i)))
    forward = sorted(i for i in ids if i in ours and i not in backward)
    for item in backward:
        user_document_apply(theirs[item], force=True)
    if forward:
        get_user_model().objects.filter(id__in=forward).update(updated_at=timezone.now())  # a newer version
        spec.send([spec.translate(row) for row in spec.fetch_ids(forward)], [])
    return {"to_auth_service": len(forward), "to_monolith": len(backward)}


def verify_users(
    *, client: InternalApiClient, repair: bool = False, range_size: int = 1000, jobs: int = 1
) -> VerifyReport:
    sides = user_sides(client)
    report = verify_entity("users", sides, range_size=range_size, jobs=jobs)
    if repair and report.differences:
        ids = sorted({*report.missing, *report.different, *report.extra})
        repaired = repair_users(client=client, ids=ids)
        recheck = VerifyReport(entity="users")
        for item in ids:
            compare_ids(sides.source_digests(item, item + 1), sides.target_digests(item, item + 1), recheck)
        report.repaired = {**repaired, "remaining": recheck.differences}
    return report

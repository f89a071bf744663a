"""`sync users verify [--repair]`: the monolith's users, translated, against the auth service's copies,
by range checksums then id by id (migrations_data.engine.verify). Digests leave the password hash out.
Repair re-sends the missing and differing users as they are now; since a user's version is its
`updated_at`, a repaired row is first touched (updated_at = now) so the service applies it over whatever
it holds. Users only the auth service has (`extra`) are reported, never deleted."""

from __future__ import annotations

from collections.abc import Iterator

from django.contrib.auth import get_user_model
from django.db.models import Max
from django.utils import timezone

from acl_adapters.accounts.translate import USER_ROW_FIELDS, user_row_to_document
from contracts.user import user_digest
from migrations_data.engine.http import InternalApiClient
from migrations_data.engine.verify import VerifyReport, VerifySides, compare_ids, verify_entity
from migrations_data.products.verify import product_sides

from .spec import user_spec


def _source_stream(lo: int, hi: int) -> Iterator[tuple[int, str]]:
    rows = get_user_model().objects.filter(id__gte=lo, id__lt=hi).order_by("id").values(*USER_ROW_FIELDS)
    for row in rows.iterator(chunk_size=2000):
        yield row["id"], user_digest(user_row_to_document(row))


def user_sides(client: InternalApiClient) -> VerifySides:
    """The target side is the same verify API as the Product service's, asked of the auth service."""
    target = product_sides(client)
    return VerifySides(
        source_max_id=lambda: get_user_model().objects.aggregate(top=Max("id"))["top"] or 0,
        source_stream=_source_stream,
        source_digests=lambda lo, hi: dict(_source_stream(lo, hi)),
        target_checksums=target.target_checksums,
        target_digests=target.target_digests,
    )


def verify_users(
    *, client: InternalApiClient, repair: bool = False, range_size: int = 1000, jobs: int = 1
) -> VerifyReport:
    sides = user_sides(client)
    report = verify_entity("users", sides, range_size=range_size, jobs=jobs)
    if repair and report.differences:
        ids = report.missing + report.different
        spec = user_spec(client)
        if ids:
            get_user_model().objects.filter(id__in=ids).update(updated_at=timezone.now())  # a newer version
            spec.send([spec.translate(row) for row in spec.fetch_ids(ids)], [])
        recheck = VerifyReport(entity="users")
        for item in sorted({*ids, *report.extra}):
            compare_ids(sides.source_digests(item, item + 1), sides.target_digests(item, item + 1), recheck)
        report.repaired = {
            "upserted": len(ids),
            "extra_kept": len(report.extra),
            "remaining": recheck.differences,
        }
    return report

"""`sync products verify [--repair]`: the monolith's products, translated, against the Product service.

Source digests: every product row (`.values()` + the category join, streamed with a server-side cursor
on PostgreSQL) through the ACL translator and the contract's canonical digest. Target digests: the
service's /internal/v1/verify endpoints. Both directions in one pass: the monolith's ids and the block
of products created at the Product service (route catalog.write, CATALOG_ID_OFFSET on) are checked
apart (`source_spans`). Repair re-syncs exactly the differing ids from their owner: the monolith's rows
that are missing or different get a fresh sync_version (an UPDATE fires the versioning trigger) and are
upserted, so the service applies them over whatever it holds; monolith ids gone from the monolith get
tombstones with a fresh version from the same counter; products created at the service that the
monolith lacks or holds differently are read from its export endpoint and applied here as
`sync products receive` would. The repaired ranges are then verified again.
"""

from __future__ import annotations

from collections.abc import Iterator

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Min

from acl_adapters.catalog.translate import (
    MOVEMENT_ROW_FIELDS,
    PRODUCT_ROW_FIELDS,
    movement_row_to_document,
    product_row_to_document,
)
from contracts.product import doc_digest, validate_product
from legacy_monolith.catalog.models import Product, StockMovement
from migrations_data.engine.http import InternalApiClient
from migrations_data.engine.verify import (
    MAX_ID,
    RangeChecksum,
    VerifyReport,
    VerifySides,
    compare_ids,
    verify_entity,
)
from migrations_data.outbox.triggers import COUNTER_TABLE, SEQUENCE

from .receive import product_apply
from .spec import movement_spec, product_spec

CHECKSUMS = "/internal/v1/verify/checksums"
EXPORT = "/internal/v1/export/products"
EXPORT_BATCH = 1000
DIGESTS = "/internal/v1/verify/digests"
MOVEMENT_CHECKSUMS = "/internal/v1/verify/movement-checksums"
MOVEMENT_DIGESTS = "/internal/v1/verify/movement-digests"
STREAM_CHUNK = 5000


def _rows():
    return Product.objects.order_by("id").values(*PRODUCT_ROW_FIELDS)


def _source_stream(lo: int = 0, hi: int = MAX_ID) -> Iterator[tuple[int, str]]:
    """(id, digest) of every product with lo <= id < hi, ascending, through the ACL translator.

    PostgreSQL: the `.values()` query's own SQL on a server-side cursor, rows zipped into the same dicts
    `.values()` makes (psycopg2 already gives Decimal, aware datetimes and bools; jsonb comes as text and
    is decoded by orjson), which skips Django's per-row converters. Other databases (SQLite, the embedded
    profile) need those converters: `.values().iterator()`."""
    rows = _rows().filter(id__gte=lo, id__lt=hi)
    if connection.vendor != "postgresql":
        for row in rows.iterator(chunk_size=STREAM_CHUNK):
            yield row["id"], doc_digest(product_row_to_document(row))
        return
    sql, params = rows.query.sql_with_params()
    with connection.chunked_cursor() as cursor:
        cursor.cursor.itersize = STREAM_CHUNK  # rows per round trip of the server-side cursor
        cursor.execute(sql, params)
        for values in cursor:
            row = dict(zip(PRODUCT_ROW_FIELDS, values, strict=True))
            row["attributes"] = orjson.loads(row["attributes"])
            row["image_urls"] = orjson.loads(row["image_urls"])
            yield row["id"], doc_digest(product_row_to_document(row))


def _source_digests(lo: int, hi: int) -> dict[int, str]:
    return dict(_source_stream(lo, hi))


def product_sides(client: InternalApiClient) -> VerifySides:
    def target_checksums(ranges: list[tuple[int, int]]) -> list[RangeChecksum]:
        answer = client.post(CHECKSUMS, {"ranges": [[lo, hi] for lo, hi in ranges]})
        return [RangeChecksum(r["lo"], r["hi"], r["count"], r["digest"]) for r in answer["ranges"]]

    def target_digests(lo: int, hi: int) -> dict[int, str]:
        answer = client.post(DIGESTS, {"lo": lo, "hi": hi})
        return {int(key): value for key, value in answer["digests"].items()}

    return VerifySides(
        source_max_id=lambda: Product.objects.aggregate(top=Max("id"))["top"] or 0,
        source_stream=_source_stream,
        source_digests=_source_digests,
        target_checksums=target_checksums,
        target_digests=target_digests,
        source_spans=_source_spans,
    )


def _source_spans() -> list[tuple[int, int]]:
    """The monolith's own ids and the block of products created at the Product service (CATALOG_ID_OFFSET
    on), each (lowest, highest) when populated: both directions in one pass, no range over the gap."""
    offset = settings.CATALOG_ID_OFFSET
    spans = []
    for block in (Product.objects.filter(id__lt=offset), Product.objects.filter(id__gte=offset)):
        bounds = block.aggregate(lo=Min("id"), hi=Max("id"))
        if bounds["lo"] is not None:
            spans.append((bounds["lo"], bounds["hi"]))
    return spans or [(0, 0)]


def _monolith_movements():
    """The monolith's own stock movements (ids below CATALOG_ID_OFFSET; the service's come back with theirs,
    and their level fields are the monolith's own there)."""
    return StockMovement.objects.filter(id__lt=settings.CATALOG_ID_OFFSET).order_by("id")


def _movement_stream(lo: int = 0, hi: int = MAX_ID) -> Iterator[tuple[int, str]]:
    rows = _monolith_movements().filter(id__gte=lo, id__lt=hi).values(*MOVEMENT_ROW_FIELDS)
    for row in rows.iterator(chunk_size=STREAM_CHUNK):
        yield row["id"], doc_digest(movement_row_to_document(row))


def movement_sides(client: InternalApiClient) -> VerifySides:
    """The monolith's stock movements against the Product service's history (its movement endpoints)."""

    def target_checksums(ranges: list[tuple[int, int]]) -> list[RangeChecksum]:
        answer = client.post(MOVEMENT_CHECKSUMS, {"ranges": [[lo, hi] for lo, hi in ranges]})
        return [RangeChecksum(r["lo"], r["hi"], r["count"], r["digest"]) for r in answer["ranges"]]

    def target_digests(lo: int, hi: int) -> dict[int, str]:
        answer = client.post(MOVEMENT_DIGESTS, {"lo": lo, "hi": hi})
        return {int(key): value for key, value in answer["digests"].items()}

    def spans() -> list[tuple[int, int]]:
        bounds = _monolith_movements().aggregate(lo=Min("id"), hi=Max("id"))
        return [(bounds["lo"], bounds["hi"])] if bounds["lo"] is not None else [(0, 0)]

    return VerifySides(
        source_max_id=lambda: _monolith_movements().aggregate(top=Max("id"))["top"] or 0,
        source_stream=_movement_stream,
        source_digests=lambda lo, hi: dict(_movement_stream(lo, hi)),
        target_checksums=target_checksums,
        target_digests=target_digests,
        source_spans=spans,
    )


def verify_movements(
    *, client: InternalApiClient, repair: bool = False, range_size: int = 1000, ranges_per_call: int = 1000
) -> VerifyReport:
    """The monolith's movements in the service's history, with their balance_after. `repair` sends the
    missing ones (the history is append-only: a different one is reported, never overwritten). Those
    at the service only are not differences (see below)."""
    sides = movement_sides(client)
    report = verify_entity("movements", sides, range_size=range_size, ranges_per_call=ranges_per_call)
    # The service's history is append-only: it keeps the movements of products deleted here since (the
    # monolith's rows go with their product). Those are no difference; missing and different ones are.
    report.extra = []
    if repair and report.missing:
        spec = movement_spec(client)
        rows = spec.fetch_ids(sorted(report.missing))
        result = spec.send([spec.translate(row) for row in rows], [])
        recheck = VerifyReport(entity="movements")
        for lo, hi in sorted({_range_of(i, range_size) for i in (*report.missing, *report.different)}):
            compare_ids(sides.source_digests(lo, hi), sides.target_digests(lo, hi), recheck)
        recheck.extra = []  # as above
        report.repaired = {"sent": len(rows), "applied": result.applied, "remaining": recheck.differences}
    return report


def export_products(client: InternalApiClient, ids: list[int]) -> dict[int, dict]:
    """{id: document} of these products as the Product service holds them."""
    found: dict[int, dict] = {}
    for start in range(0, len(ids), EXPORT_BATCH):
        answer = client.post(EXPORT, {"ids": ids[start : start + EXPORT_BATCH]})
        found.update({doc["id"]: validate_product(doc) for doc in answer["products"]})
    return found


def verify_products(
    *,
    client: InternalApiClient,
    repair: bool = False,
    range_size: int = 1000,
    ranges_per_call: int = 1000,
    jobs: int = 1,
) -> VerifyReport:
    """jobs: processes computing the source side (each streams its own block of id ranges)."""
    sides = product_sides(client)
    report = verify_entity(
        "products", sides, range_size=range_size, ranges_per_call=ranges_per_call, jobs=jobs
    )
    if repair and report.differences:
        # Products created at the Product service are its own: its copy wins and is applied here.
        offset = settings.CATALOG_ID_OFFSET
        theirs = sorted(i for i in (*report.extra, *report.different) if i >= offset)
        repaired = repair_products(
            client=client,
            upsert_ids=[i for i in (*report.missing, *report.different) if i < offset or i in report.missing],
            delete_ids=[i for i in report.extra if i < offset],
        )
        exported = export_products(client, theirs)
        for item in theirs:
            if item in exported:
                product_apply(exported[item], force=True)
        repaired["to_monolith"] = len(exported)
        recheck = VerifyReport(entity="products")
        for lo, hi in sorted(
            {_range_of(i, range_size) for i in (*report.missing, *report.different, *report.extra)}
        ):
            compare_ids(sides.source_digests(lo, hi), sides.target_digests(lo, hi), recheck)
        repaired["remaining"] = recheck.differences
        report.repaired = repaired
    report.also.append(
        verify_movements(client=client, repair=repair, range_size=range_size, ranges_per_call=ranges_per_call)
    )
    return report


def _range_of(item_id: int, range_size: int) -> tuple[int, int]:
    lo = item_id // range_size * range_size
    return lo, lo + range_size


def next_versions(count: int) -> list[int]:
    """Fresh versions from the counter the versioning triggers use (greater than any a row has had)."""
    if count == 0:
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [SEQUENCE, count])
            return [row[0] for row in cursor.fetchall()]
        with transaction.atomic():
            cursor.execute(f"UPDATE {COUNTER_TABLE} SET value = value + %s WHERE id = 1", [count])  # noqa: S608
            cursor.execute(f"SELECT value FROM {COUNTER_TABLE} WHERE id = 1")  # noqa: S608
            top = cursor.fetchone()[0]
        return list(range(top - count + 1, top + 1))


def repair_products(*, client: InternalApiClient, upsert_ids: list[int], delete_ids: list[int]) -> dict:
    """Re-sync exactly these ids: upsert the ones the monolith has (with a fresh version, so the service
    applies them), tombstone the ones it does not."""
    spec = product_spec(client)
    upsert_ids = sorted(set(upsert_ids))
    if upsert_ids:
        # Any UPDATE fires the versioning trigger: the row gets the next version (and an outbox row).
        Product.objects.filter(id__in=upsert_ids).update(sync_version=0)
    rows = spec.fetch_ids(upsert_ids) if upsert_ids else []
    present = {row["id"] for row in rows}
    gone = sorted((set(delete_ids) | set(upsert_ids)) - present)
    tombstones = [{"id": i, "version": v} for i, v in zip(gone, next_versions(len(gone)), strict=True)]
    result = spec.send([spec.translate(row) for row in rows], tombstones)
    return {
        "upserted": len(rows),
        "tombstoned": len(tombstones),
        "applied": result.applied,
        "stale": result.stale,
        "deleted": result.deleted,
    }

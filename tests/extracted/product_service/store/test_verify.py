"""What `sync products verify` reads from the store: range checksums and per-id digests, equal to
the contract's canonical digests of the documents imported, on every adapter alike."""

from __future__ import annotations

import pytest

from contracts.product import EMPTY_RANGE_DIGEST, doc_digest, range_digest
from extracted.product_service.store.port import RangeChecksum, StockLine

from .adapters import ADAPTERS, DATABASES, ORM_POSTGRESQL, POSTGRESQL_AVAILABLE, make_store
from .dataset import CATEGORIES, product_doc, products

pytestmark = pytest.mark.django_db(databases=DATABASES)


def expected_checksum(lo: int, hi: int, docs) -> RangeChecksum:
    inside = sorted((doc for doc in docs if lo <= doc["id"] < hi), key=lambda doc: doc["id"])
    return RangeChecksum(lo, hi, len(inside), range_digest((doc["id"], doc_digest(doc)) for doc in inside))


def test_range_checksums_are_the_contract_digests_of_the_imported_documents(seeded_store):
    ranges = [(1, 5), (5, 13), (0, 100), (50, 60)]

    checksums = seeded_store.range_checksums(ranges)

    assert checksums == [expected_checksum(lo, hi, products()) for lo, hi in ranges]
    assert checksums[3] == RangeChecksum(50, 60, 0, EMPTY_RANGE_DIGEST)


def test_the_range_checksum_is_pinned_to_the_contract_definition(seeded_store):
    """A literal, so every adapter (and the monolith side of verify) agrees byte for byte."""
    docs = products()[:2]
    concatenated = "".join(f"{doc['id']}:{doc_digest(doc)}\n" for doc in docs).encode()
    from hashlib import blake2b

    (checksum,) = seeded_store.range_checksums([(1, 3)])

    assert checksum.digest == blake2b(concatenated, digest_size=16).hexdigest()


def test_digests_drill_down_to_each_product(seeded_store):
    assert seeded_store.digests(2, 5) == {i: doc_digest(product_doc(i)) for i in (2, 3, 4)}


def test_a_changed_document_changes_its_digest_and_its_range_only(seeded_store):
    before = seeded_store.range_checksums([(1, 5), (5, 13)])

    seeded_store.upsert_products([product_doc(6, price="599.00", version=2)])

    after = seeded_store.range_checksums([(1, 5), (5, 13)])
    assert after[0] == before[0]
    assert after[1].digest != before[1].digest
    assert seeded_store.digests(6, 7) == {6: doc_digest(product_doc(6, price="599.00", version=2))}


def test_the_version_is_not_part_of_the_digest(seeded_store):
    before = seeded_store.digests(1, 2)

    seeded_store.upsert_products([product_doc(1, version=5)])

    assert seeded_store.digests(1, 2) == before


def test_deleted_products_leave_the_checksums(seeded_store):
    seeded_store.delete_products([{"id": 3, "version": 2}])

    assert seeded_store.range_checksums([(1, 13)]) == [
        expected_checksum(1, 13, [doc for doc in products() if doc["id"] != 3])
    ]


def test_every_adapter_gives_the_same_checksums_for_the_same_history():
    """The same imports, deletes and stock changes through each reachable adapter: equal checksums,
    digests and documents, so verify may compare any target with the monolith."""
    stores = [
        make_store(adapter) for adapter in ADAPTERS if adapter != ORM_POSTGRESQL or POSTGRESQL_AVAILABLE
    ]
    for store in stores:
        store.upsert_categories(CATEGORIES)
        store.upsert_products(products())
        store.upsert_products(
            [product_doc(4, attributes={"ratio": 0.1, "big": 2**53 + 1, "note": "🎧"}, version=2)]
        )
        store.delete_products([{"id": 9, "version": 2}])
        store.stock_reserve("order-1", [StockLine(1, 2), StockLine(5, 3)])
        store.stock_adjust(12, -40)

    answers = [
        (store.range_checksums([(0, 7), (7, 100)]), store.digests(0, 100), store.get_product(4))
        for store in stores
    ]

    assert len(stores) >= 2
    assert all(answer == answers[0] for answer in answers[1:])
    assert answers[0][2]["attributes"] == {"ratio": 0.1, "big": 2**53 + 1, "note": "🎧"}

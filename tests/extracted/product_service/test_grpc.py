"""The gRPC StockService against a real server on a real socket: the same cases through REST
(/internal/v1/stock/*) and gRPC give the same answers, protovalidate refusals name the fields, errors carry
the REST error's code, and the standard health service answers."""

from __future__ import annotations

import json

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from chassis.grpc_server import HTTP_TO_GRPC, error_reason, status_details
from contracts.rpc.techstore.stock.v1 import stock_pb2
from extracted.product_service import selectors

from .documents import CATEGORIES, catalog
from .grpc_fixtures import plain_stub, stock_server, token_metadata

pytestmark = pytest.mark.django_db(transaction=True)

# Each path gets its own products with the same levels, so both start from the same state: P has 4 in
# stock, Z none (documents.catalog: stock = id % 5).
PRODUCTS = {"rest": {"P": 4, "Z": 5}, "grpc": {"P": 9, "Z": 10}}


@pytest.fixture(scope="module")
def server():
    with stock_server() as running:
        yield running


@pytest.fixture
def stub(server):
    channel, stub = plain_stub(server.port)
    yield stub
    channel.close()


@pytest.fixture
def stocked(transactional_db):
    store = selectors.catalog_store()
    store.upsert_categories(CATEGORIES)
    store.upsert_products(catalog(12))


def _lines(spec, products):
    return [{"product_id": products.get(p, p), "quantity": q} for p, q in spec]


def _unproduct(value, products):
    """Product ids back to their letters, so both paths' answers compare."""
    letters = {pid: letter for letter, pid in products.items()}
    return [{**line, "product_id": letters.get(line["product_id"], line["product_id"])} for line in value]


def _options(op: str, args: tuple) -> dict:
    """The step's flags (`require_owner` on a reserve, `fence` on a release) after its reference, lines."""
    rest = args[2:] if op == "reserve" else args[1:]
    return rest[0] if rest else {}


def via_rest(client, path, op, args, token):
    products, reference = PRODUCTS[path], f"{path}-{args[0]}"
    if token is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    body = {"reference": reference}
    if op == "reserve":
        body["lines"] = _lines(args[1], products)
    options = _options(op, args)
    if options.get("require_owner"):
        body["require_owner"] = "service"
    if options.get("fence"):
        body["fence"] = True
    answer = client.post(f"/internal/v1/stock/{op}", body, format="json")
    data = answer.json()
    if answer.status_code in (200, 201):
        return ("OK", "new" if data["created"] else "replay", data["status"])
    code = HTTP_TO_GRPC[answer.status_code].name
    return (code, data["code"], _unproduct(data.get("extra", {}).get("lines", []), products))


def via_grpc(stub, path, op, args, token):
    products, reference = PRODUCTS[path], f"{path}-{args[0]}"
    metadata = token_metadata(token) if token != "" else ()
    try:
        options = _options(op, args)
        if op == "reserve":
            lines = [stock_pb2.StockLine(**line) for line in _lines(args[1], products)]
            request = stock_pb2.ReserveRequest(reference=reference, lines=lines, **options)
            answer = stub.Reserve(request, metadata=metadata)
        else:
            answer = stub.Release(stock_pb2.ReleaseRequest(reference=reference, **options), metadata=metadata)
    except grpc.RpcError as error:
        reason, metadata = error_reason(error)
        short = json.loads(metadata.get("lines", "[]"))  # the REST error's extra, as ErrorInfo metadata
        for holder in status_details(error).details:
            if holder.Is(stock_pb2.OutOfStock.DESCRIPTOR):
                detail = stock_pb2.OutOfStock()
                holder.Unpack(detail)
                assert short == [
                    {"product_id": s.product_id, "requested": s.requested, "available": s.available}
                    for s in detail.lines
                ]
        return (error.code().name, reason, _unproduct(short, products))
    outcome = "new" if answer.outcome == stock_pb2.OUTCOME_NEW else "replay"
    return ("OK", outcome, answer.reservation.status)


CASES = {
    "a new reservation, then its replay": (
        [("reserve", ("a", [("P", 3)])), ("reserve", ("a", [("P", 3)]))],
        [("OK", "new", "reserved"), ("OK", "replay", "reserved")],
    ),
    "a short line refuses every line": (
        [("reserve", ("b", [("P", 1), ("Z", 1)]))],
        [("FAILED_PRECONDITION", "out_of_stock", [{"product_id": "Z", "requested": 1, "available": 0}])],
    ),
    "more than the level is out of stock": (
        [("reserve", ("c", [("P", 5)]))],
        [("FAILED_PRECONDITION", "out_of_stock", [{"product_id": "P", "requested": 5, "available": 4}])],
    ),
    "an unknown product is out of stock": (
        [("reserve", ("d", [(999_999, 1)]))],
        [("FAILED_PRECONDITION", "out_of_stock", [{"product_id": 999_999, "requested": 1, "available": 0}])],
    ),
    "a reference reused for other lines conflicts": (
        [("reserve", ("e", [("P", 1)])), ("reserve", ("e", [("P", 2)]))],
        [
            ("OK", "new", "reserved"),
            ("FAILED_PRECONDITION", "reservation_conflict", [{"product_id": "P", "quantity": 1}]),
        ],
    ),
    "a release gives back once": (
        [("reserve", ("f", [("P", 2)])), ("release", ("f",)), ("release", ("f",))],
        [("OK", "new", "reserved"), ("OK", "new", "released"), ("OK", "replay", "released")],
    ),
    "releasing an unknown reference is not found": (
        [("release", ("never",))],
        [("NOT_FOUND", "reservation_not_found", [])],
    ),
    "a fenced unknown reference takes no later reserve": (
        [("release", ("k", {"fence": True})), ("reserve", ("k", [("P", 1)]))],
        [("NOT_FOUND", "reservation_not_found", []), ("FAILED_PRECONDITION", "reservation_conflict", [])],
    ),
    "a reserve requiring the owner is refused while the monolith owns stock": (
        [("reserve", ("m", [("P", 1)], {"require_owner": True}))],
        [("UNAVAILABLE", "stock_not_owned", [])],
    ),
    "a zero quantity is invalid": (
        [("reserve", ("g", [("P", 0)]))],
        [("INVALID_ARGUMENT", "validation_error", [])],
    ),
    "a reference with spaces is invalid": (
        [("reserve", ("h i", [("P", 1)]))],
        [("INVALID_ARGUMENT", "validation_error", [])],
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_the_same_cases_through_rest_and_grpc_give_the_same_answers(case, stocked, stub, internal_client):
    steps, expected = CASES[case]
    rest = [via_rest(internal_client, "rest", op, args, None) for op, args in steps]
    over_grpc = [via_grpc(stub, "grpc", op, args, None) for op, args in steps]
    assert rest == expected
    assert over_grpc == expected


@pytest.mark.parametrize(
    ("token", "expected"),
    [("", ("UNAUTHENTICATED", "not_authenticated")), ("wrong", ("UNAUTHENTICATED", "authentication_failed"))],
)
def test_both_paths_refuse_a_missing_or_wrong_token_alike(token, expected, stocked, stub, api_client):
    step = ("reserve", ("t", [("P", 1)]))
    rest = via_rest(api_client, "rest", *step, token or None)
    assert rest[:2] == via_grpc(stub, "grpc", *step, token)[:2] == expected


def test_the_levels_are_the_ones_rest_shows_after_a_reservation(stocked, stub, api_client):
    metadata = token_metadata()
    stub.Reserve(
        stock_pb2.ReserveRequest(reference="q-1", lines=[stock_pb2.StockLine(product_id=4, quantity=3)]),
        metadata=metadata,
    )
    answer = stub.Query(stock_pb2.QueryRequest(product_ids=[4, 11, 999_999]), metadata=metadata)
    assert [(level.product_id, level.found, level.active, level.stock) for level in answer.levels] == [
        (4, True, True, 1),
        (11, True, False, 1),
        (999_999, False, False, 0),
    ]
    assert api_client.get("/api/v1/catalog/products/4").json()["stock"] == 1


def test_a_refusal_names_every_violated_field_in_a_bad_request_detail(stub):
    request = stock_pb2.ReserveRequest(
        reference="", lines=[stock_pb2.StockLine(product_id=1, quantity=1), stock_pb2.StockLine(quantity=0)]
    )
    with pytest.raises(grpc.RpcError) as raised:
        stub.Reserve(request, metadata=token_metadata())
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = status_details(raised.value).details
    bad = error_details_pb2.BadRequest()
    assert details[1].Unpack(bad)
    assert [(v.field, v.reason) for v in bad.field_violations] == [
        ("reference", "string.pattern"),
        ("lines[1].product_id", "int64.gte"),
        ("lines[1].quantity", "int32.gte"),
    ]


def test_the_health_service_reports_serving_for_the_stock_service(server):
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    health = health_pb2_grpc.HealthStub(channel)
    for name in ("", "techstore.stock.v1.StockService"):
        answer = health.Check(health_pb2.HealthCheckRequest(service=name))
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(grpc.RpcError) as raised:
        health.Check(health_pb2.HealthCheckRequest(service="techstore.nothing.v1.Nothing"))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    channel.close()

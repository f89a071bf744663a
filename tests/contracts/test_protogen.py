"""The committed gRPC code (contracts/rpc) is what `make grpc-gen` makes of contracts/proto today, and the
protovalidate rules declared in the .proto files are the ones requests are checked against."""

from __future__ import annotations

from pathlib import Path

import protovalidate

from contracts import protogen
from contracts.rpc.techstore.stock.v1 import stock_pb2


def _tree(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): path.read_text()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_the_committed_grpc_code_is_current(tmp_path):
    fresh = protogen.generate(tmp_path / "rpc")
    assert "techstore/stock/v1/stock_pb2_grpc.py" in fresh.files
    committed, regenerated = _tree(protogen.DEFAULT_OUT), _tree(fresh.out)
    stale = sorted(
        name for name in committed.keys() | regenerated.keys() if committed.get(name) != regenerated.get(name)
    )
    assert stale == [], f"contracts/rpc is stale ({stale}): run `make grpc-gen` and commit"


def test_the_reserve_rules_declared_in_the_proto_refuse_a_bad_request():
    request = stock_pb2.ReserveRequest(
        reference="no spaces", lines=[stock_pb2.StockLine(product_id=0, quantity=1)]
    )
    violations = {
        (str(v.proto.field.elements[-1].field_name), v.proto.rule_id)
        for v in protovalidate.collect_violations(request)
    }
    assert violations == {("reference", "string.pattern"), ("product_id", "int64.gte")}


def test_a_reserve_without_lines_is_refused_and_a_good_one_passes():
    assert [
        v.proto.rule_id
        for v in protovalidate.collect_violations(stock_pb2.ReserveRequest(reference="order-1"))
    ] == ["repeated.min_items"]
    good = stock_pb2.ReserveRequest(
        reference="order-1", lines=[stock_pb2.StockLine(product_id=1, quantity=2)]
    )
    assert protovalidate.collect_violations(good) == []

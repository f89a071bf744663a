"""The comparator on crafted pairs: what it reports as differing, by stable path, under the route's rules."""

import pytest

from shadow.comparator import Comparator
from shadow.rules import default_rules
from tests.shadow.builders import JSON, answer, make_pair, rules_from

PRODUCT = {
    "id": 1,
    "name": "Laptop",
    "price": "999.00",
    "rating": 4.5,
    "tags": ["a", "b", "c"],
    "images": ["1.jpg", "2.jpg"],
    "items": [{"sku": "A", "price": 1}, {"sku": "B", "price": 2}, {"sku": "C", "price": 3}],
    "meta": {"request_id": "0f0c9ad6-3b8e-4a43-9d2c-55d1f8a1e0b1", "generated_at": "2026-01-01T10:00:00Z"},
}


def compare(primary, candidate, rules_text: str | None = None, **pair_options):
    rules = rules_from(rules_text) if rules_text is not None else default_rules()
    return Comparator(rules).compare(make_pair(primary, candidate, **pair_options))


def changed(**fields):
    return {**PRODUCT, **fields}


def test_identical_answers_match():
    result = compare(answer(PRODUCT), answer(PRODUCT))

    assert result.matched
    assert result.paths == ()


def test_key_order_and_whitespace_do_not_count_as_differences():
    reordered = b'{ "meta": {"generated_at": "2026-01-01T10:00:00Z", "request_id": '
    reordered += b'"0f0c9ad6-3b8e-4a43-9d2c-55d1f8a1e0b1"}, "id": 1, "name": "Laptop", "price": "999.00", '
    reordered += b'"rating": 4.5, "tags": ["a", "b", "c"], "images": ["1.jpg", "2.jpg"], "items": '
    reordered += b'[{"price": 1, "sku": "A"}, {"sku": "B", "price": 2}, {"sku": "C", "price": 3}]}'

    assert compare(answer(PRODUCT), answer(raw=reordered)).matched


def test_a_changed_field_is_reported_at_its_path_with_both_values():
    result = compare(answer(PRODUCT), answer(changed(price="999.0")))

    assert not result.matched
    assert result.paths == ("body.price",)
    assert result.differences[0].to_dict() == {
        "path": "body.price",
        "kind": "changed",
        "primary": "999.00",
        "candidate": "999.0",
    }


def test_differences_in_several_list_elements_count_as_one_stable_path():
    items = [{"sku": "A", "price": 10}, {"sku": "B", "price": 2}, {"sku": "C", "price": 30}]

    result = compare(answer(PRODUCT), answer(changed(items=items)))

    assert result.paths == ("body.items[*].price",)
    assert len(result.differences) == 2


def test_added_and_removed_fields_and_type_changes_are_named():
    candidate = {k: v for k, v in PRODUCT.items() if k != "rating"} | {"price": 999.0, "colour": "black"}

    result = compare(answer(PRODUCT), answer(candidate))

    kinds = {d.path: d.kind for d in result.differences}
    assert kinds == {"body.rating": "removed", "body.price": "type", "body.colour": "added"}


def test_status_and_selected_headers_are_compared_but_other_headers_are_not():
    rules = "version: 1\ndefaults:\n  headers: [content-type, location]\n"
    primary = answer(PRODUCT, headers=(*JSON, ("location", "/a"), ("cache-control", "no-store")))
    candidate = answer(
        PRODUCT, status=201, headers=(*JSON, ("location", "/b"), ("cache-control", "max-age=60"))
    )

    result = compare(primary, candidate, rules)

    assert result.paths == ("headers.location", "status")


def test_a_candidate_that_failed_is_an_error_difference():
    from shadow.pairs import Exchange

    result = compare(answer(PRODUCT), Exchange.failed("timeout", 5000.0))

    assert result.paths == ("error",)
    assert result.differences[0].candidate == "timeout"


def test_bodies_that_are_not_json_are_compared_by_hash():
    html = (("content-type", "text/html"),)

    same = compare(answer(raw=b"<p>hi</p>", headers=html), answer(raw=b"<p>hi</p>", headers=html))
    different = compare(answer(raw=b"<p>hi</p>", headers=html), answer(raw=b"<p>ho</p>", headers=html))

    assert same.matched
    assert different.paths == ("body",)
    assert different.differences[0].kind == "body_hash"


def test_capped_bodies_are_compared_by_the_hash_of_the_whole_body():
    big = {"blob": "x" * 5000, "tail": 1}
    tail_differs = {"blob": "x" * 5000, "tail": 2}

    same = compare(answer(big, limit=1000), answer(big, limit=1000))
    different = compare(answer(big, limit=1000), answer(tail_differs, limit=1000))

    assert same.matched
    assert different.differences[0].kind == "body_hash"
    assert different.paths == ("body",)


def test_a_json_answer_against_an_invalid_json_answer_is_a_format_difference():
    result = compare(answer(PRODUCT), answer(raw=b'{"id": 1,'))

    assert result.paths == ("body",)
    assert result.differences[0].kind == "format"


def test_ignored_paths_are_not_compared():
    rules = "version: 1\ndefaults:\n  ignore: ['body.meta.*', 'body.items[*].sku']\n"
    candidate = changed(
        meta={"request_id": "other", "generated_at": "later"},
        items=[{"sku": "X", "price": 1}, {"sku": "Y", "price": 2}, {"sku": "Z", "price": 3}],
    )

    assert compare(answer(PRODUCT), answer(candidate), rules).matched
    assert compare(answer(PRODUCT), answer(changed(name="Other")), rules).paths == ("body.name",)


def test_any_depth_wildcard_ignores_a_field_wherever_it_appears():
    rules = "version: 1\ndefaults:\n  ignore: ['body.**.price']\n"
    candidate = changed(price="1", items=[{"sku": "A", "price": 9}, {"sku": "B", "price": 2}, {"sku": "C"}])

    assert compare(answer(PRODUCT), answer(candidate), rules).matched


def test_values_of_a_regex_shape_become_placeholders():
    rules = "version: 1\ndefaults:\n  shapes: [uuid, iso_timestamp]\n"
    candidate = changed(
        meta={"request_id": "6e1f7c1c-0b7e-4bd5-a0a7-0f6c2d0b9c11", "generated_at": "2026-03-04T05:06:07.5Z"}
    )

    assert compare(answer(PRODUCT), answer(candidate), rules).matched


def test_a_value_that_is_not_of_the_shape_is_still_compared():
    rules = "version: 1\ndefaults:\n  shapes: [uuid]\n"
    candidate = changed(meta={**PRODUCT["meta"], "request_id": "not-a-uuid"})

    result = compare(answer(PRODUCT), answer(candidate), rules)

    assert result.paths == ("body.meta.request_id",)
    assert result.differences[0].primary == "<uuid>"


def test_custom_shapes_are_defined_by_pattern():
    rules = "version: 1\ndefaults:\n  shapes: [{name: order_no, pattern: 'ORD-\\d{6}'}]\n"
    primary, candidate = changed(name="ORD-000001"), changed(name="ORD-424242")

    assert compare(answer(primary), answer(candidate), rules).matched
    assert not compare(answer(primary), answer(changed(name="ORD-12")), rules).matched


def test_numbers_within_the_tolerance_are_equal_and_beyond_it_differ():
    rules = (
        "version: 1\ndefaults:\n  tolerance:\n"
        "    - {path: body.rating, absolute: 0.01}\n"
        "    - {path: 'body.items[*].price', relative: 0.1}\n"
    )
    close = changed(rating=4.505, items=[{"sku": "A", "price": 1.05}, *PRODUCT["items"][1:]])
    far = changed(rating=4.52, items=[{"sku": "A", "price": 1.2}, *PRODUCT["items"][1:]])

    assert compare(answer(PRODUCT), answer(close), rules).matched
    assert compare(answer(PRODUCT), answer(far), rules).paths == ("body.items[*].price", "body.rating")


def test_tolerance_applies_only_to_its_paths():
    rules = "version: 1\ndefaults:\n  tolerance: [{path: body.rating, absolute: 1}]\n"

    result = compare(answer(PRODUCT), answer(changed(id=1.5)), rules)

    assert result.paths == ("body.id",)


def test_unordered_lists_match_in_any_order_but_other_lists_keep_their_order():
    rules = "version: 1\ndefaults:\n  unordered: [body.tags, body.items]\n"
    shuffled = changed(tags=["c", "a", "b"], items=PRODUCT["items"][::-1])

    assert compare(answer(PRODUCT), answer(shuffled), rules).matched
    assert compare(answer(PRODUCT), answer(changed(images=["2.jpg", "1.jpg"])), rules).paths == (
        "body.images[*]",
    )


def test_an_unordered_list_with_a_different_element_is_still_a_difference():
    rules = "version: 1\ndefaults:\n  unordered: [body.tags]\n"

    result = compare(answer(PRODUCT), answer(changed(tags=["c", "a", "z"])), rules)

    assert not result.matched
    assert result.paths == ("body.tags[*]",)


def test_route_entries_apply_only_to_the_routes_their_glob_matches():
    rules = "version: 1\nroutes:\n  - route: 'catalog.*'\n    ignore: [body.name]\n"

    catalog = compare(answer(PRODUCT), answer(changed(name="x")), rules, route="catalog.read")
    orders = compare(answer(PRODUCT), answer(changed(name="x")), rules, route="orders.read")

    assert catalog.matched
    assert orders.paths == ("body.name",)


def test_noise_paths_come_from_the_secondary_and_from_a_second_candidate_answer():
    secondary = answer(changed(meta={**PRODUCT["meta"], "generated_at": "2026-01-01T10:00:01Z"}))
    candidate2 = answer(changed(rating=4.6))

    result = compare(answer(PRODUCT), answer(PRODUCT), secondary=secondary, candidate2=candidate2)

    assert result.matched
    assert result.noise_checked
    assert result.noise_paths == ("body.meta.generated_at", "body.rating")


@pytest.mark.parametrize("key", ["a.b", "with space", 'quote"d'])
def test_keys_that_are_not_plain_names_are_quoted_in_paths(key):
    result = compare(answer({key: 1}), answer({key: 2}))

    import json

    assert result.paths == (f"body[{json.dumps(key)}]",)


def test_a_value_inserted_into_a_list_is_reported_as_added_not_as_every_later_element_changed():
    result = compare(answer(PRODUCT), answer(changed(tags=["a", "x", "b", "c"])))

    assert [d.to_dict() for d in result.differences] == [
        {"path": "body.tags[*]", "kind": "added", "primary": None, "candidate": "x"}
    ]


def test_a_number_rendered_differently_or_a_boolean_for_a_number_is_a_type_difference():
    assert [d.kind for d in compare(answer({"n": 1}), answer({"n": 1.0})).differences] == ["type"]
    assert [d.kind for d in compare(answer({"n": True}), answer({"n": 1})).differences] == ["type"]


def test_a_pair_without_a_legacy_answer_is_skipped_not_a_mismatch():
    from shadow.pairs import Exchange

    result = compare(Exchange.failed("no_answer", 30000.0), answer(PRODUCT))

    assert result.skipped == "primary: no_answer"
    assert result.paths == ()


def test_a_copy_the_gateway_shed_is_skipped_but_a_candidate_timeout_is_a_difference():
    from shadow.pairs import Exchange

    shed = compare(answer(PRODUCT), Exchange.failed("bulkhead_full", 0.0))
    timed_out = compare(answer(PRODUCT), Exchange.failed("timeout", 5000.0))

    assert shed.skipped == "candidate: bulkhead_full"
    assert not timed_out.skipped
    assert timed_out.paths == ("error",)


def test_a_noise_answer_the_gateway_shed_teaches_no_noise():
    from shadow.pairs import Exchange

    result = compare(answer(PRODUCT), answer(PRODUCT), secondary=Exchange.failed("bulkhead_full", 0.0))

    assert result.matched
    assert not result.noise_checked
    assert result.noise_paths == ()

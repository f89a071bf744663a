"""The rules file: strict validation with the line of every problem, merging per route, path patterns."""

import pytest

from shadow.errors import RulesError
from shadow.paths import parse_pattern
from shadow.rules_file import DEFAULT_RULES_FILE, load_rules, parse_rules

BODY = frozenset({"body"})


def problems(text: str) -> list[str]:
    with pytest.raises(RulesError) as caught:
        parse_rules(text, source="rules.yaml")
    return caught.value.extra["problems"]


def test_the_shipped_rules_file_is_valid():
    rules = load_rules(DEFAULT_RULES_FILE)

    assert "content-type" in rules.for_route("catalog.read").headers


def test_every_problem_is_reported_with_its_line():
    text = """version: 1
defaults:
  headers: [content-type]
  colour: red
  ignore: ['items[*].x']
  shapes: [nope, {name: bad, pattern: '(unclosed'}]
  tolerance:
    - {path: body.x, absolute: -1}
  noise: {relative: 150}
routes:
  - ignore: [body.a]
"""
    found = problems(text)

    assert found == [
        "rules.yaml:4: defaults: unknown key 'colour'"
        " (allowed: headers, ignore, noise, shapes, tolerance, unordered)",
        "rules.yaml:5: defaults.ignore: path 'items[*].x' must start with body",
        "rules.yaml:6: defaults.shapes: shape 'bad': bad regular expression:"
        " missing ), unterminated subpattern at position 0",
        "rules.yaml:6: defaults.shapes: unknown built-in shape 'nope'"
        " (known: http_date, iso_timestamp, traceparent, uuid, uuid_hex)",
        "rules.yaml:8: defaults.tolerance: absolute must be a number >= 0",
        "rules.yaml:9: defaults.noise.relative must be a percentage from 0 to 100",
        "rules.yaml:11: routes[0]: 'route' (a route id or glob) is required",
    ]


def test_a_duplicate_key_is_a_problem():
    assert problems("version: 1\ndefaults: {}\ndefaults: {}\n") == ["rules.yaml:3: duplicate key 'defaults'"]


def test_an_unquoted_wildcard_in_a_flow_list_gets_a_hint():
    (problem,) = problems("version: 1\ndefaults:\n  ignore: [body.items[*].x]\n")

    assert problem.startswith("rules.yaml:3: not valid YAML (quote paths that contain * inside [ ] lists)")


def test_an_unreadable_file_is_reported(tmp_path):
    with pytest.raises(RulesError, match="cannot read the rules file"):
        load_rules(tmp_path / "missing.yaml")


def test_route_entries_add_lists_and_replace_headers_and_thresholds_in_file_order():
    rules = parse_rules(
        """version: 1
defaults:
  headers: [content-type]
  ignore: [body.a]
  noise: {relative: 20, absolute: 0.03}
routes:
  - route: 'catalog.*'
    ignore: [body.b]
    headers: [etag]
    noise: {absolute: 1}
  - route: catalog.read
    ignore: [body.c]
"""
    )

    read = rules.for_route("catalog.read")
    assert read.rule_set.ignore == ("body.a", "body.b", "body.c")
    assert read.headers == ("etag",)
    assert (read.noise.relative, read.noise.absolute) == (20.0, 1.0)
    assert rules.for_route("orders.read").rule_set.ignore == ("body.a",)


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("body.a.b", "body.a.b", True),
        ("body.a.b", "body.a.bc", False),
        ("body.items[*].x", "body.items[*].x", True),
        ("body.*.x", "body.meta.x", True),
        ("body.*.x", "body.a.b.x", False),
        ("body.**.x", "body.x", True),
        ("body.**.x", "body.a[*].b.x", True),
        ('body["a.b"]', 'body["a.b"]', True),
        ('body["plain"]', "body.plain", True),
        ("body.*", 'body["odd key"]', True),
    ],
)
def test_path_patterns(pattern, path, matches):
    assert bool(parse_pattern(pattern, roots=BODY).fullmatch(path)) is matches


@pytest.mark.parametrize("bad", ["", "status", "body.", "body..a", "body[0]", 'body["unterminated]'])
def test_bad_path_patterns_are_refused(bad):
    with pytest.raises(ValueError, match=r"path|column"):
        parse_pattern(bad, roots=BODY)

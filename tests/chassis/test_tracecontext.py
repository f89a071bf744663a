import pytest

from contracts.tracecontext import parse_traceparent, request_id_or_new

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("probe-42", True),
        ("a.b:c_d-1", True),
        ("x" * 128, True),
        ("x" * 129, False),
        ("has space", False),
        ("new\nline", False),
        ("", False),
        (None, False),
    ],
)
def test_a_request_id_is_kept_only_when_it_is_sane(value, kept):
    result = request_id_or_new(value)
    assert (result == value) is kept
    assert result


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (VALID, ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "01")),
        ("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-later", None),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", None),
        ("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", None),
        ("00-" + "0" * 32 + "-00f067aa0ba902b7-01", None),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-" + "0" * 16 + "-01", None),
        ("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", None),
        ("garbage", None),
        (None, None),
    ],
)
def test_traceparent_parsing_follows_w3c_trace_context(value, expected):
    if value and value.startswith("01-"):
        expected = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "00")  # later versions may extend
    assert parse_traceparent(value) == expected

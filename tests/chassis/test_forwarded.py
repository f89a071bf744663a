"""X-Forwarded-For/-Host/-Proto are believed only from a trusted proxy (the gateway): then REMOTE_ADDR,
get_host(), scheme and absolute links are the client's; from anyone else the fields are dropped unread."""

import pytest

from chassis.forwarded import parse_trusted_proxies, trusted

GATEWAY_VALUES = {
    "HTTP_X_FORWARDED_FOR": "203.0.113.7",
    "HTTP_X_FORWARDED_HOST": "shop.techstore.example",
    "HTTP_X_FORWARDED_PROTO": "https",
}


def test_the_gateway_s_values_become_the_request_s_client_host_and_scheme(client):
    answer = client.get("/whoami", REMOTE_ADDR="127.0.0.1", **GATEWAY_VALUES).json()
    assert answer == {
        "remote_addr": "203.0.113.7",
        "forwarded_by": "127.0.0.1",
        "host": "shop.techstore.example",
        "scheme": "https",
        "secure": True,
        "absolute": "https://shop.techstore.example/x",
        "claims": [],
    }


def test_a_client_that_is_not_the_gateway_cannot_claim_anything(client):
    spoofed = {**GATEWAY_VALUES, "HTTP_FORWARDED": "for=1.2.3.4", "HTTP_X_REAL_IP": "1.2.3.4"}
    answer = client.get("/whoami", REMOTE_ADDR="198.51.100.9", HTTP_HOST="api.internal", **spoofed).json()
    assert answer["remote_addr"] == "198.51.100.9"
    assert answer["forwarded_by"] is None
    assert (answer["host"], answer["scheme"], answer["secure"]) == ("api.internal", "http", False)
    assert answer["claims"] == []  # removed, so nothing later can read them


@pytest.mark.parametrize(
    ("values", "remote", "host", "scheme"),
    [
        ({"HTTP_X_FORWARDED_FOR": "not-an-ip"}, "127.0.0.1", "testserver", "http"),
        ({"HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.7"}, "203.0.113.7", "testserver", "http"),
        ({"HTTP_X_FORWARDED_PROTO": "gopher"}, "127.0.0.1", "testserver", "http"),
        ({"HTTP_X_FORWARDED_HOST": "a.example, b.example"}, "127.0.0.1", "testserver", "http"),
    ],
)
def test_odd_values_from_the_gateway_are_ignored_field_by_field(client, values, remote, host, scheme):
    answer = client.get("/whoami", REMOTE_ADDR="127.0.0.1", **values).json()
    assert (answer["remote_addr"], answer["host"], answer["scheme"]) == (remote, host, scheme)


def test_trusted_proxies_are_networks():
    networks = parse_trusted_proxies("127.0.0.1/32, 10.1.0.0/16,::1")
    assert trusted("10.1.2.3", networks)
    assert trusted("::ffff:127.0.0.1", networks)
    assert not trusted("10.2.0.1", networks)
    assert not trusted("garbage", networks)
    with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
        parse_trusted_proxies("10.0.0.0/33")

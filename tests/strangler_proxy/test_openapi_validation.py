"""Strict payload validation at the edge from the target's OpenAPI document: compiled at start (a bad
`openapi:` stops the gateway with its line), parameters and JSON bodies checked per request, a request that
breaks the contract answered 400 by the gateway and never forwarded; the gateway's copies of the documents
are what the services generate."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import requests
import yaml

from strangler_proxy.openapi_validation import compile_checks, find, json_schema
from strangler_proxy.routes_parser import RoutesError, parse_routes

from .conftest import REPO, write_flags_file, write_routes

DOCUMENTS = REPO / "strangler_proxy" / "openapi"
AUTH, PRODUCT = str(DOCUMENTS / "auth.yaml"), str(DOCUMENTS / "product.yaml")


def problems(
    document: str,
    method: str,
    path: str,
    query: str = "",
    body: bytes | None = None,
    ctype="application/json",
):
    check, match = find(compile_checks(document), method, path)
    return [(p["location"], p["message"]) for p in check.problems(match, query, ctype, body)]


def test_a_login_body_is_checked_against_the_auth_service_contract():
    assert (
        problems(AUTH, "POST", "/api/v1/accounts/login", body=b'{"username": "ada", "password": "pw"}') == []
    )
    assert ("body", "must contain ['password'] properties") in problems(
        AUTH, "POST", "/api/v1/accounts/login", body=b'{"username": "ada"}'
    )
    assert problems(AUTH, "POST", "/api/v1/accounts/login", body=b'{"username": 5, "password": "p"}')[0][
        0
    ] == ("body.username")
    assert problems(AUTH, "POST", "/api/v1/accounts/login", body=b"{nope") == [("body", "is not valid JSON")]
    assert problems(AUTH, "POST", "/api/v1/accounts/login", body=b"x", ctype="text/plain") == [
        ("body", "must be application/json")
    ]
    assert problems(AUTH, "POST", "/api/v1/accounts/login", body=None) == [("body", "is required")]


def test_query_and_path_parameters_are_coerced_then_checked():
    assert problems(PRODUCT, "GET", "/api/v1/catalog/products", "page=2&in_stock=true&min_price=1.5") == []
    found = dict(problems(PRODUCT, "GET", "/api/v1/catalog/products", "page=two&in_stock=maybe&ordering=x"))
    assert set(found) == {"query.page", "query.in_stock", "query.ordering"}
    assert problems(PRODUCT, "GET", "/api/v1/catalog/products/12") == []
    assert problems(PRODUCT, "GET", "/api/v1/catalog/products/abc")[0][0] == "path.product_id"
    assert find(compile_checks(PRODUCT), "HEAD", "/api/v1/catalog/products/12") is not None  # HEAD as GET


def test_nullable_is_json_schema_null():
    assert json_schema({"type": "string", "nullable": True}) == {"type": ["string", "null"]}
    assert json_schema({"enum": ["a"], "nullable": True}) == {"enum": ["a", None]}


TABLE = """\
upstreams:
  legacy: http://127.0.0.1:8000
  auth: http://127.0.0.1:8102
routes:
  - id: auth.login
    methods: [POST]
    path: ^/api/v1/accounts/(login|tokens)$
    target: auth
    flag: route.auth.login
    openapi: {openapi}
"""


@pytest.mark.parametrize(
    ("openapi", "message"),
    [
        ("{document: openapi/missing.yaml}", "cannot read the OpenAPI document"),
        ("{document: openapi/auth.yaml, operation: nope}", "has no operation 'nope'"),
        ("{operation: api_v1_accounts_create}", "openapi.document (an OpenAPI file) is required"),
        ("{document: routes.yaml}", "is not an OpenAPI 3 document"),
    ],
)
def test_a_bad_openapi_section_stops_the_gateway_with_its_line(openapi, message):
    with pytest.raises(RoutesError) as refused:
        parse_routes(TABLE.format(openapi=openapi), source=str(REPO / "strangler_proxy" / "routes.yaml"))
    assert "routes.yaml:10:" in str(refused.value)
    assert message in str(refused.value)


def test_a_request_that_breaks_the_contract_is_400_from_the_gateway_and_never_forwarded(
    tmp_path, gateway_process, make_standin
):
    legacy = make_standin("legacy")
    routes = write_routes(
        tmp_path / "routes.yaml",
        TABLE.replace("http://127.0.0.1:8000", legacy.url).format(
            openapi=f"{{document: {AUTH}, operation: api_v1_accounts_create}}"
        ),
    )
    gateway = gateway_process(routes_yaml=routes, flags_file=write_flags_file(tmp_path / "f.json"))
    login = f"{gateway.url}/api/v1/accounts/login"

    bad = requests.post(login, json={"username": "ada", "password": ["not", "a", "string"]}, timeout=30)
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_request"
    assert bad.json()["extra"]["errors"][0]["location"] == "body.password"
    assert legacy.received == []

    good = requests.post(login, json={"username": "ada", "password": "pw"}, timeout=30)
    assert good.status_code == 200
    assert [r.path for r in legacy.received] == ["/api/v1/accounts/login"]


@pytest.mark.parametrize(
    ("service", "document"), [("auth_service", "auth.yaml"), ("product_service", "product.yaml")]
)
def test_the_gateway_s_copy_of_a_contract_is_what_the_service_generates(tmp_path, service, document):
    """Regenerate: .venv/bin/python -m extracted.<service> spectacular --file strangler_proxy/openapi/<doc>"""
    generated = tmp_path / document
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": f"extracted.{service}.settings"}
    subprocess.run(
        [sys.executable, "-m", f"extracted.{service}", "spectacular", "--file", str(generated)],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
    )
    assert yaml.safe_load(generated.read_text()) == yaml.safe_load((DOCUMENTS / document).read_text())


def test_the_shipped_route_table_validates_logins():
    shipped = REPO / "strangler_proxy" / "routes.yaml"
    table = parse_routes(shipped.read_text(), source=str(shipped))
    login = next(route for route in table.routes if route.id == "auth.login")
    assert login.openapi is not None
    assert login.openapi.operation == "api_v1_accounts_create"


def test_contracts_are_compiled_once_at_start_and_never_per_request(tmp_path, monkeypatch):
    """The issue's rule: schemas are loaded and compiled when the route table is, so a request costs one
    lookup and one call of compiled code. Every compiler the module uses is counted while 60 requests (good
    and bad) go through the real Router and PayloadValidation addons."""
    import fastjsonschema
    from mitmproxy.test import taddons, tflow, tutils

    from strangler_proxy import openapi_validation
    from strangler_proxy.routing import Router

    monkeypatch.delenv("UNLEASH_URL", raising=False)
    routes = write_routes(
        tmp_path / "routes.yaml",
        TABLE.format(openapi=f"{{document: {AUTH}, operation: api_v1_accounts_create}}"),
    )
    flags = write_flags_file(tmp_path / "flags.json", enabled={"route.auth.login": True})
    router, validation = Router(), openapi_validation.PayloadValidation()
    with taddons.context(router, validation) as tctx:
        tctx.configure(router, strangler_routes=str(routes), strangler_flags_file=str(flags))
        tctx.configure(validation)
        assert validation.checks["auth.login"], "the contract was compiled at start"

        compiled: list[str] = []

        def counting(name, real):
            def wrapper(*args, **kwargs):
                compiled.append(name)
                return real(*args, **kwargs)

            return wrapper

        monkeypatch.setattr(fastjsonschema, "compile", counting("fastjsonschema", fastjsonschema.compile))
        monkeypatch.setattr(
            openapi_validation, "compile_checks", counting("checks", openapi_validation.compile_checks)
        )
        monkeypatch.setattr(
            openapi_validation, "_validator", counting("validator", openapi_validation._validator)
        )
        monkeypatch.setattr(
            openapi_validation, "load_document", counting("document", openapi_validation.load_document)
        )
        monkeypatch.setattr(
            openapi_validation.re, "compile", counting("regex", openapi_validation.re.compile)
        )

        answers = []
        for n in range(60):
            body = b'{"username": "ada", "password": "pw"}' if n % 2 else b'{"username": 5}'
            flow = tflow.tflow(
                req=tutils.treq(
                    method=b"POST",
                    path=b"/api/v1/accounts/login",
                    host="legacy.internal",
                    port=8000,
                    headers=((b"host", b"legacy.internal"), (b"content-type", b"application/json")),
                    content=body,
                )
            )
            router.requestheaders(flow)
            validation.request(flow)
            answers.append(flow.response.status_code if flow.response else None)
        router.done()

    assert sorted(answers, key=str) == [400] * 30 + [None] * 30, answers
    assert compiled == []

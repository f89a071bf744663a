"""Strict payload validation at the edge, from the target's own OpenAPI document.

A route names a document (and, optionally, one operation of it) in routes.yaml (`openapi:`). At start the
document is read once and each operation is compiled into an OperationCheck: a path-template regex, one
JSON Schema validator per parameter and one for the JSON body (OpenAPI 3.0's `nullable` turned into JSON
Schema, `$ref`s inlined from the document; a recursive one is cut at its second visit and accepts
anything there), compiled to Python code by fastjsonschema: the jsonschema package's interpreter with a
reference registry cost ~10x more per request (bench/edge_validation.py). The first problem of a
parameter or body is reported. Per request the PayloadValidation addon finds the
operation by method and path and checks the path and query parameters (strings coerced to the declared
integer/number/boolean first) and the JSON body; a request that breaks its contract is answered 400
`invalid_request` by the gateway, with the problems in `extra.errors`, and is never forwarded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import fastjsonschema
import yaml
from mitmproxy import ctx, exceptions, http

from strangler_proxy.gateway_errors import answer, error_response
from strangler_proxy.guard import request_target

Validate = Callable[[Any], Any]  # a compiled schema: returns the value or raises JsonSchemaValueException
METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
MAX_ERRORS = 10


class ContractError(ValueError):
    """The document or operation cannot be used (raised at start, with what is wrong)."""


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    location: str  # "path" or "query"
    required: bool
    kind: str | None  # the schema's type, to coerce the string: integer, number, boolean, array, ...
    validate: Validate


@dataclass(frozen=True, slots=True)
class OperationCheck:
    """One compiled operation: what a request to it must look like."""

    operation_id: str
    method: str
    path: re.Pattern[str]
    parameters: tuple[Parameter, ...]
    body: Validate | None
    body_required: bool

    def problems(
        self, path_match: re.Match[str], query: str, content_type: str, body: bytes | None
    ) -> list[dict]:
        found: list[dict] = []
        values = dict(parse_qsl(query, keep_blank_values=True))
        for parameter in self.parameters:
            raw = (
                path_match.group(parameter.name)
                if parameter.location == "path"
                else values.get(parameter.name)
            )
            if raw is None:
                if parameter.required:
                    found.append(_problem(f"{parameter.location}.{parameter.name}", "is required"))
                continue
            try:
                parameter.validate(_coerce(raw, parameter.kind))
            except fastjsonschema.JsonSchemaValueException as error:
                found.append(_problem(f"{parameter.location}.{parameter.name}", error.message))
        if self.body is not None:
            found += self._body_problems(content_type, body)
        return found[:MAX_ERRORS]

    def _body_problems(self, content_type: str, body: bytes | None) -> list[dict]:
        if not body:
            return [_problem("body", "is required")] if self.body_required else []
        media = content_type.split(";", 1)[0].strip().lower()
        if media != "application/json" and not media.endswith("+json"):
            return [_problem("body", "must be application/json")]
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            return [_problem("body", "is not valid JSON")]
        try:
            self.body(document)
        except fastjsonschema.JsonSchemaValueException as error:
            location = "body" + error.name.removeprefix("data")
            return [_problem(location, error.message.removeprefix(error.name + " "))]
        return []


def _problem(location: str, message: str) -> dict:
    return {"location": location, "message": message[:300]}


def _coerce(raw: str, kind: str | None) -> Any:
    """A parameter string as the type its schema declares (left as it is when it does not parse, so the
    validator names the problem)."""
    try:
        if kind == "integer" and re.fullmatch(r"[+-]?[0-9]+", raw):
            return int(raw)
        if kind == "number":
            return (
                float(raw) if re.fullmatch(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?", raw) else raw
            )
        if kind == "boolean" and raw.lower() in ("true", "false"):
            return raw.lower() == "true"
    except ValueError:
        pass
    return raw


def json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema 2020-12: `nullable: true` adds "null" to the type (and to an
    enum); everything else is kept."""
    if isinstance(node, list):
        return [json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        if isinstance(converted.get("type"), str):
            converted["type"] = [converted["type"], "null"]
        if isinstance(converted.get("enum"), list) and None not in converted["enum"]:
            converted["enum"] = [*converted["enum"], None]
        if "$ref" in converted or "allOf" in converted:
            converted = {"anyOf": [converted, {"type": "null"}]}
    return converted


@cache
def load_document(path: str) -> Mapping[str, Any]:
    """The OpenAPI document at `path` (YAML or JSON), read once per process; ContractError if unusable."""
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ContractError(f"cannot read the OpenAPI document {path}: {exc}") from None
    if not isinstance(document, dict) or not str(document.get("openapi", "")).startswith("3."):
        raise ContractError(f"{path} is not an OpenAPI 3 document")
    if not isinstance(document.get("paths"), dict):
        raise ContractError(f"{path} has no paths")
    return document


def operations(document: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any], list]]:
    """(path template, method, operation, path-level parameters) of every operation of the document."""
    for template, item in document["paths"].items():
        if isinstance(item, dict):
            for method in METHODS:
                if isinstance(item.get(method), dict):
                    yield template, method.upper(), item[method], list(item.get("parameters") or [])


def compile_checks(path: str, operation_id: str | None = None) -> tuple[OperationCheck, ...]:
    """Every operation of the document (or only `operation_id`), compiled; ContractError names a problem."""
    document = load_document(path)
    converted = json_schema(document)
    checks = []
    for template, method, operation, shared in operations(document):
        if operation_id is not None and operation.get("operationId") != operation_id:
            continue
        checks.append(_compile(template, method, operation, shared, converted))
    if operation_id is not None and not checks:
        raise ContractError(f"{path} has no operation {operation_id!r}")
    return tuple(checks)


def _validator(schema: Any, document: Mapping[str, Any]) -> Validate:
    """One schema of the document, references inlined, compiled to Python (a bad schema: ContractError)."""
    try:
        return fastjsonschema.compile(inline_refs(json_schema(schema), document))
    except fastjsonschema.JsonSchemaDefinitionException as exc:
        raise ContractError(f"a schema of the document cannot be compiled: {exc}") from None


def inline_refs(node: Any, document: Mapping[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """`node` with every `#/...` reference replaced by what it points at (a reference already being
    inlined above, i.e. a recursive schema, becomes {}: anything goes there)."""
    if isinstance(node, list):
        return [inline_refs(item, document, seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        if ref in seen:
            return {}
        target: Any = document
        for part in ref[2:].split("/"):
            if not isinstance(target, dict) or part not in target:
                raise ContractError(f"unresolvable reference {ref}")
            target = target[part]
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        return inline_refs({**target, **siblings}, document, (*seen, ref))
    return {key: inline_refs(value, document, seen) for key, value in node.items()}


def _compile(
    template: str, method: str, operation: Mapping[str, Any], shared: list, document: Mapping[str, Any]
) -> OperationCheck:
    names = re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", template)
    pattern = "^" + re.sub(r"\\\{([A-Za-z_][A-Za-z0-9_]*)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
    parameters = []
    for spec in [*shared, *(operation.get("parameters") or [])]:
        if (
            not isinstance(spec, dict)
            or spec.get("in") not in ("path", "query")
            or "<" in str(spec.get("name"))
        ):
            continue  # header and cookie parameters, and name patterns (attr.<name>), are not checked
        schema = spec.get("schema") or {}
        if spec["in"] == "path" and spec["name"] not in names:
            raise ContractError(
                f"{operation.get('operationId')}: path parameter {spec['name']!r} is not in {template}"
            )
        kind = schema.get("type") if isinstance(schema, dict) else None
        parameters.append(
            Parameter(
                spec["name"],
                spec["in"],
                bool(spec.get("required")) or spec["in"] == "path",
                kind,
                _validator(schema, document),
            )
        )
    body, body_required = None, False
    request_body = operation.get("requestBody")
    if isinstance(request_body, dict):
        content = request_body.get("content") or {}
        media = next((m for m in content if m == "application/json" or m.endswith("+json")), None)
        if media is not None:
            body = _validator((content[media] or {}).get("schema") or {}, document)
            body_required = bool(request_body.get("required"))
    return OperationCheck(
        operation_id=str(operation.get("operationId") or f"{method} {template}"),
        method=method,
        path=re.compile(pattern),
        parameters=tuple(parameters),
        body=body,
        body_required=body_required,
    )


def find(
    checks: tuple[OperationCheck, ...], method: str, path: str
) -> tuple[OperationCheck, re.Match[str]] | None:
    """The operation a request is for (HEAD is checked as GET), with its path match."""
    wanted = "GET" if method == "HEAD" else method
    for check in checks:
        if check.method == wanted and (match := check.path.match(path)):
            return check, match
    return None


class PayloadValidation:
    """The addon: reads the Router's route table (`strangler_routes`) at start, compiles the contract of
    every route that names one, and checks each request of such a route once its body is in."""

    def __init__(self) -> None:
        self.checks: dict[str, tuple[OperationCheck, ...]] = {}
        self._source: str | None = None

    def configure(self, updated: set[str]) -> None:
        from strangler_proxy.routes_parser import RoutesError, load_routes  # it imports this module

        source = getattr(ctx.options, "strangler_routes", None)
        if not source or (source == self._source and "strangler_routes" not in updated):
            return
        try:
            table = load_routes(source)
            self.checks = {
                route.id: compile_checks(route.openapi.document, route.openapi.operation)
                for route in table.routes
                if route.openapi is not None
            }
        except (RoutesError, ContractError) as exc:
            raise exceptions.OptionsError(str(exc)) from None
        self._source = source

    def request(self, flow: http.HTTPFlow) -> None:
        decision = flow.metadata.get(
            "strangler.decision"
        )  # routing.DECISION_KEY (routing imports this module)
        if flow.response or flow.error or decision is None or decision.route_id not in self.checks:
            return
        request = flow.request
        target = request_target(flow)
        found = find(self.checks[decision.route_id], request.method, target.route_path)
        if found is None:
            problems = [_problem("request", f"{request.method} {target.route_path} is not in the contract")]
        else:
            check, match = found
            body = request.raw_content
            problems = check.problems(match, target.query, request.headers.get("content-type", ""), body)
        if problems:
            answer(
                flow,
                error_response(
                    400,
                    "invalid_request",
                    "The request does not follow the API contract.",
                    {"errors": problems},
                ),
            )

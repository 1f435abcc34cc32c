"""The contract's HTTP bindings: every RPC's ``google.api.http`` rule (AIP-127), read from the generated
descriptors, parsed into path templates that both the OpenAPI document (openapi.py) and the HTTP/JSON
gateway (gateway.py) use, so the two cannot disagree.

A template such as ``/v1/{name=enterprises/*/profiles/*}:progress`` is a list of segments: literals
(``v1``), wildcards that belong to a variable (``name`` collects ``enterprises/<id>/profiles/<id>``)
and an optional custom verb after the last ``:``. The grammar is the one of google/api/http.proto,
without ``**`` (the contract uses none; a rule with one is refused at start-up rather than mis-routed).
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor, descriptor_pool

import tanxiao

# The contract's proto packages and which server serves them (the console dials both).
REGISTRY = "registry"
SCORING = "scoring"
_SERVED_BY = {"tanxiao.registry.": REGISTRY}  # everything else is served by the scoring server

_VARIABLE = re.compile(r"\{([a-z_][a-z0-9_.]*)(?:=([^}]*))?\}")


class RuleError(ValueError):
    """A google.api.http rule this gateway cannot serve (said at start-up and by the OpenAPI check)."""


@dataclass(frozen=True)
class Segment:
    """One path segment: a literal, or a ``*`` wildcard of ``variable``."""

    literal: str | None
    variable: str | None = None  # field path ("name", "enterprise.name") the wildcard belongs to

    @property
    def wildcard(self) -> bool:
        return self.literal is None


@dataclass(frozen=True)
class Template:
    segments: tuple[Segment, ...]
    verb: str = ""
    # Each variable's own pattern: literals and None for wildcards, e.g. ("enterprises", None).
    variables: dict[str, tuple[str | None, ...]] = field(default_factory=dict)

    @property
    def literal_count(self) -> int:
        return sum(1 for s in self.segments if not s.wildcard)


@dataclass(frozen=True)
class Binding:
    """One RPC bound to one HTTP method and path."""

    service: descriptor.ServiceDescriptor
    method: descriptor.MethodDescriptor
    http_method: str  # GET, POST, PATCH, PUT, DELETE
    path: str  # the rule's path as written
    template: Template
    body: str  # "*", a field name, or "" (no body: fields come from the query string)
    response_body: str

    @property
    def full_method(self) -> str:
        return f"/{self.service.full_name}/{self.method.name}"

    @property
    def served_by(self) -> str:
        package = self.service.file.package + "."
        return next((s for prefix, s in _SERVED_BY.items() if package.startswith(prefix)), SCORING)

    @property
    def client_streaming(self) -> bool:
        return bool(self.method.client_streaming)

    @property
    def server_streaming(self) -> bool:
        return bool(self.method.server_streaming)

    @property
    def operation_id(self) -> str:
        return f"{self.service.name}_{self.method.name}"


def parse_template(path: str) -> Template:
    """Parse ``/v1/{name=enterprises/*}:verb``; RuleError for what the grammar does not allow here."""
    if not path.startswith("/"):
        raise RuleError(f"{path}: a path template starts with /")
    body, verb = path[1:], ""
    last = body.rsplit("/", 1)[-1]
    if ":" in last and "}" not in last.rsplit(":", 1)[1]:
        body, verb = body.rsplit(":", 1)
    segments: list[Segment] = []
    variables: dict[str, tuple[str | None, ...]] = {}
    position = 0
    for match in re.finditer(r"\{[^}]*\}|[^/{}]+|/", body):
        if match.start() != position:
            raise RuleError(f"{path}: cannot parse near {body[position:]!r}")
        position = match.end()
        token = match.group(0)
        if token == "/":
            continue
        variable = _VARIABLE.fullmatch(token)
        if token.startswith("{"):
            if variable is None:
                raise RuleError(f"{path}: bad variable {token}")
            name, pattern = variable.group(1), variable.group(2) or "*"
            parts: list[str | None] = []
            for part in pattern.split("/"):
                if part == "**":
                    raise RuleError(f"{path}: ** is not supported")
                parts.append(None if part == "*" else part)
                segments.append(Segment(None if part == "*" else part, name))
            variables[name] = tuple(parts)
        else:
            if "*" in token:
                raise RuleError(f"{path}: wildcards outside a variable are not supported")
            segments.append(Segment(token))
    if position != len(body):
        raise RuleError(f"{path}: cannot parse near {body[position:]!r}")
    return Template(tuple(segments), verb, variables)


def _rules(method: descriptor.MethodDescriptor) -> list[http_pb2.HttpRule]:
    options = method.GetOptions()
    if not options.HasExtension(annotations_pb2.http):
        return []
    rule = options.Extensions[annotations_pb2.http]
    return [rule, *rule.additional_bindings]


def _binding(
    service: descriptor.ServiceDescriptor, method: descriptor.MethodDescriptor, rule: http_pb2.HttpRule
) -> Binding:
    kind = rule.WhichOneof("pattern")
    if kind is None or kind == "custom":
        raise RuleError(f"{method.full_name}: only get/post/put/patch/delete rules are supported")
    path = getattr(rule, kind)
    template = parse_template(path)
    for variable in template.variables:
        _field_path(method.input_type, variable, method.full_name)
    if rule.body not in ("", "*"):
        _field_path(method.input_type, rule.body, method.full_name)
    if kind == "get" and rule.body:
        raise RuleError(f"{method.full_name}: a GET rule has no body")
    return Binding(service, method, kind.upper(), path, template, rule.body, rule.response_body)


def _field_path(message: descriptor.Descriptor, path: str, where: str) -> list[descriptor.FieldDescriptor]:
    fields = []
    for part in path.split("."):
        found = message.fields_by_name.get(part) if message is not None else None
        if found is None:
            raise RuleError(f"{where}: the rule names {path!r}, which the request has no field for")
        fields.append(found)
        message = found.message_type
    return fields


def field_path(message: descriptor.Descriptor, path: str) -> list[descriptor.FieldDescriptor]:
    return _field_path(message, path, message.full_name)


def contract_files() -> list[descriptor.FileDescriptor]:
    """Every generated file of the contract (tanxiao/<area>/v1/*_pb2), imported so that the default
    pool holds them; new protos are picked up without a list to keep."""
    root = Path(tanxiao.__file__).parent
    names = sorted(
        ".".join(("tanxiao", *p.relative_to(root).with_suffix("").parts)) for p in root.glob("*/v*/*_pb2.py")
    )
    return [importlib.import_module(name).DESCRIPTOR for name in names]


@cache
def bindings() -> tuple[Binding, ...]:
    """All bindings of all services, in proto order."""
    found: list[Binding] = []
    for file in contract_files():
        for service in file.services_by_name.values():
            for method in service.methods:
                found.extend(_binding(service, method, rule) for rule in _rules(method))
    return tuple(found)


def unbound_methods() -> list[str]:
    """RPCs without a google.api.http rule (the contract wants none: every RPC has one)."""
    missing: list[str] = []
    for file in contract_files():
        for service in file.services_by_name.values():
            missing.extend(m.full_name for m in service.methods if not _rules(m))
    return missing


def pool() -> descriptor_pool.DescriptorPool:
    return descriptor_pool.Default()

"""The OpenAPI 3 document of the HTTP/JSON API (docs/openapi.yaml), generated from the contract's
descriptors and their google.api.http rules: ``python -m tanxiao.httpapi.openapi`` writes it,
``--check`` fails when the checked-in copy is stale (``make lint`` and a test run the check).

Why a project script and not a protoc plugin: the maintained generators (gnostic's protoc-gen-openapi,
protoc-gen-connect-openapi, grpc-gateway v2's protoc-gen-openapiv2) are Go programs that none of the
registries this project installs from (PyPI, npm, Debian) carries; Debian's golang-grpc-gateway is
1.6.4 (2018), writes OpenAPI 2 only and predates proto3 ``optional``, which the contract uses. The
mapping below follows the proto3 JSON mapping (what ``json_format`` reads and writes) and the HTTP rule
semantics of google/api/http.proto, the same as the gateway (rules.py is shared by both).

Paths spell each wildcard of a resource name as its own path parameter: the rule
``/v1/{name=enterprises/*}`` is ``/v1/enterprises/{enterpriseId}``; the gateway puts the name back
together (``name = "enterprises/" + enterpriseId``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml
from google.protobuf import descriptor
from google.protobuf.descriptor import FieldDescriptor as F

from tanxiao.httpapi.rules import Binding, bindings, unbound_methods

ROOT = Path(__file__).resolve().parent.parent.parent
DOCUMENT = ROOT / "docs" / "openapi.yaml"
PROTO_ROOT = ROOT / "protos"
STATUS = "google.rpc.Status"

# Wildcards whose parameter name is not "<singular collection>Id".
_PARAMETER_NAMES = {
    ("utilityAccounts", 0): "utilityAccountKind",
    ("utilityAccounts", 1): "utilityAccountNumber",
}
# A path parameter is one segment: no "/", no ":" (custom verbs), not "." or "..".
_SEGMENT = {"type": "string", "pattern": r"^[^/:.][^/:]*$"}

_INT32 = {"type": "integer", "format": "int32"}
_SCALARS: dict[int, dict[str, Any]] = {
    F.TYPE_STRING: {"type": "string"},
    F.TYPE_BYTES: {"type": "string", "format": "byte"},
    F.TYPE_BOOL: {"type": "boolean"},
    F.TYPE_DOUBLE: {"type": "number", "format": "double"},
    F.TYPE_FLOAT: {"type": "number", "format": "float"},
    F.TYPE_INT32: _INT32,
    F.TYPE_SINT32: _INT32,
    F.TYPE_SFIXED32: _INT32,
    F.TYPE_UINT32: {"type": "integer", "format": "int64", "minimum": 0, "maximum": 4294967295},
    F.TYPE_FIXED32: {"type": "integer", "format": "int64", "minimum": 0, "maximum": 4294967295},
    # 64-bit integers are JSON strings in the proto3 mapping (numbers are accepted on input too).
    F.TYPE_INT64: {"type": "string", "format": "int64", "pattern": r"^-?[0-9]{1,18}$"},
    F.TYPE_SINT64: {"type": "string", "format": "int64", "pattern": r"^-?[0-9]{1,18}$"},
    F.TYPE_SFIXED64: {"type": "string", "format": "int64", "pattern": r"^-?[0-9]{1,18}$"},
    F.TYPE_UINT64: {"type": "string", "format": "uint64", "pattern": r"^[0-9]{1,19}$"},
    F.TYPE_FIXED64: {"type": "string", "format": "uint64", "pattern": r"^[0-9]{1,19}$"},
}
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]{1,9})?s$"},
    "google.protobuf.FieldMask": {
        "type": "string",
        "description": "Comma-separated lowerCamelCase field paths.",
    },
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.Empty": {"type": "object"},
    "google.protobuf.Any": {
        "type": "object",
        "properties": {"@type": {"type": "string"}},
        "required": ["@type"],
        "additionalProperties": True,
    },
    "google.protobuf.DoubleValue": {"type": "number", "format": "double"},
    "google.protobuf.FloatValue": {"type": "number", "format": "float"},
    "google.protobuf.Int64Value": _SCALARS[F.TYPE_INT64],
    "google.protobuf.UInt64Value": _SCALARS[F.TYPE_UINT64],
    "google.protobuf.Int32Value": _INT32,
    "google.protobuf.UInt32Value": _SCALARS[F.TYPE_UINT32],
    "google.protobuf.BoolValue": {"type": "boolean"},
    "google.protobuf.StringValue": {"type": "string"},
    "google.protobuf.BytesValue": {"type": "string", "format": "byte"},
}


def singular(collection: str) -> str:
    return collection[:-1] if collection.endswith("s") else collection


def path_parameters(binding: Binding) -> list[tuple[str, str, int]]:
    """(parameter name, variable, index of the wildcard within the variable) per wildcard, in order."""
    found: list[tuple[str, str, int]] = []
    segments = binding.template.segments
    seen: dict[str, int] = {}
    for position, segment in enumerate(segments):
        if not segment.wildcard:
            continue
        assert segment.variable is not None
        index = seen.get(segment.variable, 0)
        seen[segment.variable] = index + 1
        literals = [s.literal for s in segments[:position] if not s.wildcard]
        collection = literals[-1] if literals else segment.variable
        run = 0  # wildcards straight after the collection literal: utilityAccounts/*/*
        for previous in reversed(segments[:position]):
            if not previous.wildcard:
                break
            run += 1
        name = _PARAMETER_NAMES.get((collection or "", run), f"{singular(collection or '')}Id")
        found.append((name, segment.variable, index))
    return found


def openapi_path(binding: Binding) -> str:
    names = iter(path_parameters(binding))
    parts = []
    for segment in binding.template.segments:
        parts.append("{" + next(names)[0] + "}" if segment.wildcard else str(segment.literal))
    verb = f":{binding.template.verb}" if binding.template.verb else ""
    return "/" + "/".join(parts) + verb


def proto_comments() -> dict[str, str]:
    """Full name -> the leading comment in protos/ of every message, field, enum, service and method
    (the descriptors compiled into Python carry no comments, so protoc compiles them once more here)."""
    import tempfile

    from google.protobuf import descriptor_pb2
    from grpc_tools import protoc  # dev dependency, as for `make protos`

    from tanxiao.protogen import CONTRACT_ROOT, generate_args

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "contract.pb"
        files = [str(p.relative_to(PROTO_ROOT)) for p in sorted(CONTRACT_ROOT.rglob("*.proto"))]
        if (
            protoc.main([*generate_args(), "--include_source_info", f"--descriptor_set_out={out}", *files])
            != 0
        ):
            raise SystemExit("protoc failed")
        descriptors = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    comments: dict[str, str] = {}
    for file in descriptors.file:
        names: dict[tuple[int, ...], str] = {}

        Names = dict[tuple[int, ...], str]

        def walk(messages: Any, path: tuple[int, ...], prefix: str, names: Names) -> None:
            for i, message in enumerate(messages):
                name = f"{prefix}.{message.name}"
                names[(*path, i)] = name
                for j, field in enumerate(message.field):
                    names[(*path, i, 2, j)] = f"{name}.{field.name}"
                for j, enum in enumerate(message.enum_type):
                    names[(*path, i, 4, j)] = f"{name}.{enum.name}"
                walk(message.nested_type, (*path, i, 3), name, names)

        walk(file.message_type, (4,), file.package, names)
        for i, enum in enumerate(file.enum_type):
            names[(5, i)] = f"{file.package}.{enum.name}"
        for i, service in enumerate(file.service):
            names[(6, i)] = f"{file.package}.{service.name}"
            for j, method in enumerate(service.method):
                names[(6, i, 2, j)] = f"{file.package}.{service.name}.{method.name}"
        for location in file.source_code_info.location:
            name = names.get(tuple(location.path))
            text = " ".join(line.strip() for line in location.leading_comments.splitlines() if line.strip())
            if name and text:
                comments[name] = text
    return comments


class _Schemas:
    def __init__(self, comments: dict[str, str]) -> None:
        self.components: dict[str, Any] = {}
        self.comments = comments

    def ref(self, message: descriptor.Descriptor) -> dict[str, Any]:
        if message.full_name in _WELL_KNOWN:
            return dict(_WELL_KNOWN[message.full_name])
        if message.full_name not in self.components:
            self.components[message.full_name] = {}  # placeholder against recursion
            self.components[message.full_name] = self.object(message)
            if message.full_name in self.comments:
                self.components[message.full_name]["description"] = self.comments[message.full_name]
        return {"$ref": f"#/components/schemas/{message.full_name}"}

    def object(self, message: descriptor.Descriptor, without: set[str] = frozenset()) -> dict[str, Any]:  # type: ignore[assignment]
        properties = {f.json_name: self.field(f) for f in message.fields if f.name not in without}
        return {"type": "object", "properties": properties, "additionalProperties": False}

    def value(self, field: descriptor.FieldDescriptor) -> dict[str, Any]:
        if field.type == F.TYPE_MESSAGE:
            return self.ref(field.message_type)
        if field.type == F.TYPE_ENUM:
            return {"type": "string", "enum": [v.name for v in field.enum_type.values]}
        return dict(_SCALARS[field.type])

    def field(self, field: descriptor.FieldDescriptor) -> dict[str, Any]:
        schema = self._field(field)
        comment = self.comments.get(field.full_name)
        if comment and "$ref" not in schema:  # a $ref takes no siblings in OpenAPI 3.0
            schema["description"] = comment
        return schema

    def _field(self, field: descriptor.FieldDescriptor) -> dict[str, Any]:
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            key, value = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
            del key
            return {"type": "object", "additionalProperties": self.value(value)}
        if field.is_repeated:
            return {"type": "array", "items": self.value(field)}
        return self.value(field)


def _query_parameters(
    schemas: _Schemas, message: descriptor.Descriptor, bound: set[str], prefix: str = "", depth: int = 0
) -> list[dict[str, Any]]:
    """Every field not bound by the path as a query parameter (nested messages as dotted names)."""
    parameters: list[dict[str, Any]] = []
    for field in message.fields:
        path = f"{prefix}{field.name}"
        if path in bound:
            continue
        name = f"{prefix}{field.json_name}"
        nested = field.message_type
        if nested is not None and nested.full_name not in _WELL_KNOWN and not nested.GetOptions().map_entry:
            if field.is_repeated or depth > 2:
                continue  # not expressible in a query string
            parameters.extend(_query_parameters(schemas, nested, bound, f"{name}.", depth + 1))
            continue
        if nested is not None and nested.GetOptions().map_entry:
            continue
        schema = schemas.field(field)
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": False, "schema": schema}
        if field.is_repeated:
            parameter.update(style="form", explode=True)
        parameters.append(parameter)
    return parameters


def _operation(schemas: _Schemas, binding: Binding, summary: str) -> dict[str, Any]:
    request = binding.method.input_type
    bound = set(binding.template.variables)
    parameters: list[dict[str, Any]] = []
    for name, variable, index in path_parameters(binding):
        pattern = "/".join("*" if p is None else p for p in binding.template.variables[variable])
        description = f"Wildcard #{index + 1} of {variable} ({pattern})."
        parameters.append({"name": name, "in": "path", "required": True, "schema": dict(_SEGMENT),
                           "description": description})  # fmt: skip
    operation: dict[str, Any] = {
        "operationId": binding.operation_id,
        "tags": [binding.service.full_name],
        "summary": summary or binding.method.name,
        "description": f"gRPC {binding.full_method}.",
    }
    if binding.body == "":
        parameters += _query_parameters(schemas, request, bound)
    else:
        top_bound = {v for v in bound if "." not in v}
        if binding.body == "*":
            schema = schemas.object(request, top_bound)
        else:
            schema = schemas.field(request.fields_by_name[binding.body])
        description = (
            "One request message; a stream of them as newline-delimited JSON (application/x-ndjson)."
            if binding.client_streaming
            else "The request message (fields bound by the path are taken from the path)."
        )
        operation["requestBody"] = {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": schema}},
        }
    if parameters:
        operation["parameters"] = parameters
    response = schemas.ref(binding.method.output_type)
    if binding.server_streaming:
        content = {"application/x-ndjson": {"schema": response}}
        ok = 'One JSON message a line, in stream order (a failure mid-stream ends with {"error": Status}).'
    else:
        content = {"application/json": {"schema": response}}
        ok = f"The {binding.method.output_type.name}."
    operation["responses"] = {
        "200": {"description": ok, "content": content},
        "default": {
            "description": "An error: the gRPC status as google.rpc.Status (ErrorInfo, BadRequest, ...).",
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{STATUS}"}}},
        },
    }
    return operation


def document() -> dict[str, Any]:
    missing = unbound_methods()
    if missing:
        raise SystemExit("RPCs without a google.api.http rule: " + ", ".join(missing))
    from google.rpc import error_details_pb2, status_pb2

    comments = proto_comments()
    schemas = _Schemas(comments)
    schemas.ref(status_pb2.Status.DESCRIPTOR)
    for detail in ("ErrorInfo", "BadRequest", "RetryInfo", "ResourceInfo", "PreconditionFailure"):
        schemas.ref(error_details_pb2.DESCRIPTOR.message_types_by_name[detail])
    paths: dict[str, dict[str, Any]] = {}
    for binding in bindings():
        path = openapi_path(binding)
        method = binding.http_method.lower()
        if method in paths.setdefault(path, {}):
            raise SystemExit(f"{binding.method.full_name}: {method.upper()} {path} is bound twice")
        paths[path][method] = _operation(schemas, binding, comments.get(binding.method.full_name, ""))
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "tanxiao HTTP/JSON API",
            "version": "v1",
            "description": (
                "The gRPC contract (protos/) over HTTP/JSON, transcoded by its google.api.http rules "
                "(AIP-127) and the proto3 JSON mapping. Authenticate with the same bearer token as over "
                "gRPC; errors are google.rpc.Status with the gRPC code mapped to the HTTP status. "
                "Generated by `python -m tanxiao.httpapi.openapi`; do not edit."
            ),
            "license": {"name": "Apache-2.0"},
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": dict(sorted(schemas.components.items())),
        },
    }


def render() -> str:
    return yaml.safe_dump(document(), sort_keys=False, allow_unicode=True, width=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if docs/openapi.yaml is stale")
    parser.add_argument("--out", type=Path, default=DOCUMENT)
    args = parser.parse_args()
    text = render()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is stale; run `make openapi`")
            sys.exit(1)
        print(f"{args.out.relative_to(ROOT)} is current")
        return
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

"""The HTTP/JSON gateway: the contract's RPCs at the paths of their google.api.http rules, transcoded to
gRPC calls on the services with the caller's own bearer token.

Served by the console's ASGI app under /v1/ (docs/operations.md, "HTTP/JSON"). Per request: the route
comes from the rules read from the descriptors at start-up (rules.py), the request message from the path
variables, the query string (rules without a body) or the JSON body (``body: "*"``), parsed with
``json_format``; the call goes to the server of the service (registry or scoring) with
``authorization: Bearer <token>`` from the HTTP request, so the services' authorization table decides
exactly as over gRPC — the gateway holds no token of its own and decides nothing. The reply is the proto3
JSON of the response; an error is the gRPC status as google.rpc.Status JSON (with its ErrorInfo,
BadRequest, ... details) and the HTTP status of google/rpc/code.proto's mapping.

Streams: a server-streaming RPC answers newline-delimited JSON (one message a line); a client-streaming
RPC reads its body as a sequence of JSON messages (one object, or newline-delimited objects).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

import grpc
import structlog
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from tanxiao.client import with_token
from tanxiao.errors import ResourceExhausted
from tanxiao.httpapi.forwarded import TrustedProxies, client_address
from tanxiao.httpapi.rules import REGISTRY, Binding, bindings, field_path
from tanxiao.platform.limits import Admission, LimitSettings
from tanxiao.platform.rpc_status import retry_info

log = structlog.get_logger("tanxiao.httpapi")

PREFIX = "/v1/"
TIMEOUT = 120.0
MAX_BODY_BYTES = 16 * 1024 * 1024
JSON = "application/json"
NDJSON = "application/x-ndjson"
FORWARDED_HEADERS = ("x-request-id", "traceparent", "tracestate", "accept-language")

# google/rpc/code.proto: the HTTP status of each canonical code.
HTTP_STATUS = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
}
_PRINTABLE = re.compile(r"[\x20-\x7e]{1,1024}")
_TRUE, _FALSE = frozenset({"true", "1"}), frozenset({"false", "0"})
_WELL_KNOWN_SCALARS = frozenset(
    {"google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask"}
    | {f"google.protobuf.{t}Value" for t in ("Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool",
                                            "String", "Bytes")}
)  # fmt: skip


class HttpError(Exception):
    """A request the gateway refuses before any call: a google.rpc.Status of its own."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        field: str = "",
        reason: str = "",
        http_status: int = 0,
        retry_after: float = 0.0,
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.field, self.reason = code, message, field, reason
        self.http_status = http_status or HTTP_STATUS.get(code, 500)
        self.retry_after = retry_after

    def status(self) -> status_pb2.Status:
        status = status_pb2.Status(code=self.code.value[0], message=self.message)
        if self.reason:
            info = error_details_pb2.ErrorInfo(reason=self.reason, domain="tanxiao.io")
            status.details.add().Pack(info)
        if self.field:
            bad = error_details_pb2.BadRequest()
            bad.field_violations.add(field=self.field, description=self.message)
            status.details.add().Pack(bad)
        if self.retry_after:
            status.details.add().Pack(retry_info(self.retry_after))
        return status


@dataclass(frozen=True)
class _Route:
    binding: Binding
    pattern: re.Pattern[str]
    groups: tuple[str, ...]  # the variable each capture group fills
    request_class: type[Message]
    response_class: type[Message]


def _compile(binding: Binding) -> _Route:
    parts: list[str] = []
    groups: list[str] = []
    segments = binding.template.segments
    position = 0
    while position < len(segments):
        segment = segments[position]
        if segment.variable is None:
            parts.append(re.escape(str(segment.literal)))
            position += 1
            continue
        variable = segment.variable
        inner = []
        while position < len(segments) and segments[position].variable == variable:
            literal = segments[position].literal
            inner.append("[^/]+" if literal is None else re.escape(literal))
            position += 1
        parts.append("(" + "/".join(inner) + ")")
        groups.append(variable)
    verb = ":" + re.escape(binding.template.verb) if binding.template.verb else ""
    pattern = re.compile("^/" + "/".join(parts) + verb + "$")
    request = message_factory.GetMessageClass(binding.method.input_type)
    response = message_factory.GetMessageClass(binding.method.output_type)
    return _Route(binding, pattern, tuple(groups), request, response)


class Gateway:
    """Routes /v1/... to the services over ``channels`` (the console's: one per server)."""

    def __init__(
        self,
        registry: grpc.Channel,
        scoring: grpc.Channel,
        known_token: Callable[[str], bool] | None = None,
        *,
        trusted_proxies: TrustedProxies | None = None,
        auth_failures_per_minute: int = 20,
    ) -> None:
        self.registry, self.scoring = registry, scoring
        # Every HTTP caller reaches the services from the gateway's one address, and the services refuse
        # an address after repeated failed authentications: a token they would refuse is answered 401
        # here instead, so one client's bad tokens cannot lock every HTTP caller (and the console) out.
        self.known_token = known_token
        # ... and it throttles them itself, per client address (forwarded.py: X-Forwarded-For only as
        # written by trusted proxies), as the servers do per peer: guessing tokens over HTTP is no cheaper.
        self.trusted_proxies = trusted_proxies or TrustedProxies()
        self.failures = Admission(LimitSettings(auth_failures_per_minute=auth_failures_per_minute))
        routes = [_compile(b) for b in bindings()]
        # Custom verbs first ("/v1/decisions/x:explain" is not decision "x:explain"), then the most literal.
        routes.sort(key=lambda r: (not r.binding.template.verb, -r.binding.template.literal_count))
        self.routes = routes

    def match(self, method: str, raw_path: str) -> tuple[_Route, dict[str, str]] | None:
        """The route of ``method raw_path`` and its variables (each segment percent-decoded on its own,
        so an encoded "/" never changes the route); None for no route; HttpError 405 for another method."""
        path = raw_path.split("?", 1)[0]
        methods: set[str] = set()
        for route in self.routes:
            found = route.pattern.match(path)
            if found is None:
                continue
            if route.binding.http_method != method:
                methods.add(route.binding.http_method)
                continue
            values = {
                variable: "/".join(unquote(part) for part in value.split("/"))
                for variable, value in zip(route.groups, found.groups(), strict=True)
            }
            return route, values
        if methods:
            message = f"{method} is not bound here; use {sorted(methods)}"
            raise HttpError(grpc.StatusCode.UNIMPLEMENTED, message, reason="NOT_ALLOWED", http_status=405)
        return None

    def channel(self, binding: Binding, token: str | None) -> grpc.Channel:
        return with_token(self.registry if binding.served_by == REGISTRY else self.scoring, token)

    def client_of(self, request: Request) -> str:
        """The address the request came from (throttling, logs): see tanxiao/httpapi/forwarded.py."""
        peer = request.client.host if request.client is not None else None
        return client_address(peer, request.headers.getlist("x-forwarded-for"), self.trusted_proxies)

    async def handle(self, request: Request) -> Response:
        client = self.client_of(request)
        with structlog.contextvars.bound_contextvars(client=client):
            return await self._handle(request, client)

    async def _handle(self, request: Request, client: str) -> Response:
        try:
            matched = self.match(request.method, request.scope.get("raw_path", b"").decode("latin-1")
                                 or request.url.path)  # fmt: skip
            if matched is None:
                raise HttpError(grpc.StatusCode.NOT_FOUND, f"no RPC is bound to {request.url.path}")
            route, variables = matched
            token = _bearer(request)
            if self.known_token is not None:
                await self._check_token(token, client)
            metadata = tuple(
                (h, request.headers[h])
                for h in FORWARDED_HEADERS
                if _PRINTABLE.fullmatch(request.headers.get(h, ""))  # gRPC metadata is printable ASCII
            )
            body = await _read_body(request) if route.binding.body else b""
            messages = build_requests(route, variables, request.url.query, body)
            channel = self.channel(route.binding, token)
            if route.binding.server_streaming:
                return await self._stream(route, channel, messages, metadata)
            reply = await run_in_threadpool(_unary_reply, route, channel, messages, metadata)
            return Response(_json(reply), media_type=JSON)
        except HttpError as exc:
            return error_response(exc.code, exc.status(), exc.http_status)
        except grpc.RpcError as exc:
            return error_response(*_status_of(exc))
        except Exception:  # a bug of the gateway's own: logged, and still a google.rpc.Status
            log.exception("httpapi.error", path=request.url.path)
            status = status_pb2.Status(code=grpc.StatusCode.INTERNAL.value[0], message="internal error")
            return error_response(grpc.StatusCode.INTERNAL, status)

    async def _check_token(self, token: str | None, client: str) -> None:
        try:
            self.failures.check_peer(client)
        except ResourceExhausted as exc:
            raise HttpError(grpc.StatusCode.RESOURCE_EXHAUSTED, exc.message, reason="AUTH_THROTTLED",
                            retry_after=exc.retry_after_seconds or 60.0) from None  # fmt: skip
        if not await run_in_threadpool(self.known_token or (lambda _token: True), token or ""):
            self.failures.auth_failed(client)
            log.info("httpapi.unauthenticated", client=client)
            raise HttpError(grpc.StatusCode.UNAUTHENTICATED, "unknown, expired or revoked token",
                            reason="UNAUTHENTICATED")  # fmt: skip

    async def _stream(
        self,
        route: _Route,
        channel: grpc.Channel,
        messages: list[Message],
        metadata: tuple[tuple[str, str], ...],
    ) -> Response:
        replies = _stream_replies(route, channel, messages, metadata)
        first = await run_in_threadpool(next, replies, None)  # errors before the first message: a status

        async def lines() -> Any:
            if first is None:
                return
            yield _json(first) + "\n"
            try:
                async for reply in iterate_in_threadpool(replies):
                    yield _json(reply) + "\n"
            except grpc.RpcError as exc:
                yield json.dumps({"error": json.loads(_json(_status_of(exc)[1]))}) + "\n"

        return StreamingResponse(lines(), media_type=NDJSON)


class GatewayMiddleware:
    """ASGI middleware in front of the console: every /v1/ request goes to the gateway before any routing
    (so that no path, however odd, falls through to the console's pages or a plain-text 404)."""

    def __init__(self, app: ASGIApp, gateway: Gateway) -> None:
        self.app, self.gateway = app, gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope.get("path", "")).startswith(PREFIX):
            response = await self.gateway.handle(Request(scope, receive))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _read_body(request: Request) -> bytes:
    """The body, refused (429) once it grows past MAX_BODY_BYTES instead of being read whole first."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise HttpError(grpc.StatusCode.RESOURCE_EXHAUSTED, f"body over {MAX_BODY_BYTES} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise HttpError(grpc.StatusCode.RESOURCE_EXHAUSTED, f"body over {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _unary_reply(
    route: _Route, channel: grpc.Channel, messages: list[Message], metadata: tuple[tuple[str, str], ...]
) -> Message:
    binding = route.binding
    serialize, deserialize = _serializers(route)
    if binding.client_streaming:
        call = channel.stream_unary(binding.full_method, request_serializer=serialize,
                                    response_deserializer=deserialize)  # fmt: skip
        return call(iter(messages), timeout=TIMEOUT, metadata=metadata)
    unary = channel.unary_unary(binding.full_method, request_serializer=serialize,
                                response_deserializer=deserialize)  # fmt: skip
    return unary(messages[0], timeout=TIMEOUT, metadata=metadata)


def _stream_replies(
    route: _Route, channel: grpc.Channel, messages: list[Message], metadata: tuple[tuple[str, str], ...]
) -> Iterator[Message]:
    binding = route.binding
    serialize, deserialize = _serializers(route)
    if binding.client_streaming:
        call = channel.stream_stream(binding.full_method, request_serializer=serialize,
                                     response_deserializer=deserialize)  # fmt: skip
        return iter(call(iter(messages), timeout=TIMEOUT, metadata=metadata))
    stream = channel.unary_stream(binding.full_method, request_serializer=serialize,
                                  response_deserializer=deserialize)  # fmt: skip
    return iter(stream(messages[0], timeout=TIMEOUT, metadata=metadata))


def _serializers(route: _Route) -> tuple[Any, Any]:
    return (lambda m: m.SerializeToString()), route.response_class.FromString


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HttpError(grpc.StatusCode.UNAUTHENTICATED, "Authorization must be 'Bearer <token>'",
                        reason="UNAUTHENTICATED")  # fmt: skip
    return token.strip()


def _json(message: Message) -> str:
    return str(json_format.MessageToJson(message, indent=None, ensure_ascii=False))


def _status_of(error: grpc.RpcError) -> tuple[grpc.StatusCode, status_pb2.Status]:
    status = rpc_status.from_call(error)
    code = error.code()
    if status is None:
        status = status_pb2.Status(code=code.value[0], message=error.details() or "")
    return code, status


def error_response(code: grpc.StatusCode, status: status_pb2.Status, http_status: int = 0) -> Response:
    http = http_status or HTTP_STATUS.get(code, 500)
    headers = {"www-authenticate": "Bearer"} if http == 401 else {}
    return Response(_json(status), status_code=http, media_type=JSON, headers=headers)


# --- request building --------------------------------------------------------------------------------


def build_requests(route: _Route, variables: dict[str, str], query: str, body: bytes) -> list[Message]:
    """The request message(s): the body's, then query fields, then path variables (which win)."""
    binding = route.binding
    if binding.body:
        documents = _json_documents(body) if binding.client_streaming else [_one_document(body)]
        messages = [_parse_body(route, document) for document in documents]
        if query:
            for message in messages:
                _apply_query(message, query)
    else:
        messages = [route.request_class()]
        _apply_query(messages[0], query)
    for message in messages:
        for variable, value in variables.items():
            _set_path(message, variable, value)
    return messages


def _one_document(body: bytes) -> Any:
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise HttpError(
            grpc.StatusCode.INVALID_ARGUMENT, f"the body is not JSON: {exc}", reason="MALFORMED_JSON"
        ) from exc


def _json_documents(body: bytes) -> list[Any]:
    """One JSON object, or newline-delimited objects (a client stream)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HttpError(
            grpc.StatusCode.INVALID_ARGUMENT, "the body is not UTF-8", reason="MALFORMED_JSON"
        ) from exc
    decoder = json.JSONDecoder()
    documents, position = [], 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            break
        try:
            document, position = decoder.raw_decode(text, position)
        except ValueError as exc:
            raise HttpError(grpc.StatusCode.INVALID_ARGUMENT, f"the body is not JSON: {exc}",
                            reason="MALFORMED_JSON") from exc  # fmt: skip
        documents.append(document)
    return documents or [{}]


def _parse_body(route: _Route, document: Any) -> Message:
    binding = route.binding
    message = route.request_class()
    if binding.body == "*":
        target, at = message, ""
    else:
        fields = field_path(binding.method.input_type, binding.body)
        target, at = _mutable(message, fields), binding.body
    if not isinstance(document, dict) and (
        binding.body == "*" or target.DESCRIPTOR.full_name not in _WELL_KNOWN_SCALARS
    ):
        raise HttpError(grpc.StatusCode.INVALID_ARGUMENT, "the body must be a JSON object", field=at,
                        reason="MALFORMED_JSON")  # fmt: skip
    try:
        json_format.ParseDict(document, target)
    except (json_format.ParseError, ValueError, TypeError, OverflowError) as exc:
        raise HttpError(grpc.StatusCode.INVALID_ARGUMENT, f"invalid request body: {exc}",
                        field=_field_in(str(exc)), reason="MALFORMED_JSON") from exc  # fmt: skip
    return message


def _field_in(error: str) -> str:
    """The field a json_format error names, e.g. 'Failed to parse requestedAmountFen field: ...'."""
    found = re.search(r"(?:parse|for) (\w+) field", error) or re.search(r'field named "(\w+)"', error)
    return found.group(1) if found else ""


def _mutable(message: Message, fields: list[FieldDescriptor]) -> Message:
    target = message
    for field in fields:
        target = getattr(target, field.name)
    return target


def _set_path(message: Message, variable: str, value: str) -> None:
    fields = field_path(message.DESCRIPTOR, variable)
    parent = _mutable(message, fields[:-1])
    leaf = fields[-1]
    if leaf.type != FieldDescriptor.TYPE_STRING or leaf.is_repeated:
        raise HttpError(grpc.StatusCode.INTERNAL, f"path variable {variable} is not a string field")
    setattr(parent, leaf.name, value)


def _resolve(descriptor: Descriptor, name: str) -> list[FieldDescriptor] | None:
    """A query key (proto or JSON names, dotted for nested messages) as a field path."""
    fields: list[FieldDescriptor] = []
    current: Descriptor | None = descriptor
    for part in name.split("."):
        if current is None:
            return None
        found = current.fields_by_name.get(part) or next(
            (f for f in current.fields if f.json_name == part), None
        )
        if found is None:
            return None
        fields.append(found)
        current = (
            found.message_type
            if found.message_type and found.message_type.full_name not in _WELL_KNOWN_SCALARS
            else None
        )
    return fields


def _apply_query(message: Message, query: str) -> None:
    values: dict[str, list[str]] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        values.setdefault(key, []).append(value)
    for key, items in values.items():
        fields = _resolve(message.DESCRIPTOR, key)
        if fields is None:
            raise HttpError(grpc.StatusCode.INVALID_ARGUMENT, f"unknown query parameter {key!r}", field=key,
                            reason="UNKNOWN_PARAMETER")  # fmt: skip
        leaf = fields[-1]
        if leaf.message_type is not None and leaf.message_type.full_name not in _WELL_KNOWN_SCALARS:
            raise HttpError(grpc.StatusCode.INVALID_ARGUMENT, f"{key} is a message, not a query value",
                            field=key, reason="UNKNOWN_PARAMETER")  # fmt: skip
        repeated = leaf.is_repeated
        if not repeated and len(items) > 1:
            raise HttpError(grpc.StatusCode.INVALID_ARGUMENT, f"{key} is given {len(items)} times", field=key,
                            reason="INVALID_ARGUMENT")  # fmt: skip
        converted = [_query_value(leaf, key, item) for item in items]
        parent = _mutable(message, fields[:-1])
        document = {leaf.json_name: converted if repeated else converted[0]}
        try:
            json_format.ParseDict(document, parent, ignore_unknown_fields=False)
        except (json_format.ParseError, ValueError, TypeError, OverflowError) as exc:
            raise HttpError(grpc.StatusCode.INVALID_ARGUMENT, f"invalid {key}: {exc}", field=key,
                            reason="INVALID_ARGUMENT") from exc  # fmt: skip


def _query_value(field: FieldDescriptor, key: str, value: str) -> Any:
    kind = field.type
    if kind == FieldDescriptor.TYPE_BOOL or (
        field.message_type is not None and field.message_type.full_name == "google.protobuf.BoolValue"
    ):
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise HttpError(grpc.StatusCode.INVALID_ARGUMENT, f"{key} must be true or false", field=key,
                        reason="INVALID_ARGUMENT")  # fmt: skip
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        if value in ("NaN", "Infinity", "-Infinity"):
            return value
        try:
            return float(value)
        except ValueError:
            raise HttpError(grpc.StatusCode.INVALID_ARGUMENT, f"{key} must be a number", field=key,
                            reason="INVALID_ARGUMENT") from None  # fmt: skip
    return value  # strings, integers (quoted integers are valid proto3 JSON), enums by name, WKT strings

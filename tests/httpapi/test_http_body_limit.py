"""The gateway refuses an oversized body before reading it whole, and before any call: a
RESOURCE_EXHAUSTED google.rpc.Status (429). No service is needed: nothing is dialled."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import grpc

from tanxiao.httpapi.gateway import MAX_BODY_BYTES, Gateway, GatewayMiddleware


async def _not_the_console(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("a /v1/ request reached the console")


def _post(app: GatewayMiddleware, path: str, chunks: list[bytes]) -> tuple[int, bytes]:
    scope = {
        "type": "http", "http_version": "1.1", "method": "POST", "scheme": "http", "path": path,
        "raw_path": path.encode(), "query_string": b"", "root_path": "", "server": ("127.0.0.1", 80),
        "headers": [(b"content-type", b"application/json"), (b"authorization", b"Bearer t")],
    }  # fmt: skip
    last = len(chunks) - 1
    messages = [{"type": "http.request", "body": c, "more_body": i < last} for i, c in enumerate(chunks)]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_an_oversized_body_is_429_with_a_status_and_reaches_no_service() -> None:
    nowhere = grpc.insecure_channel("127.0.0.1:9")  # the discard port: a call would fail as UNAVAILABLE
    app = GatewayMiddleware(_not_the_console, Gateway(nowhere, nowhere))
    chunk = b" " * (1024 * 1024)
    status, body = _post(app, "/v1/records:batchIngest", [chunk] * (MAX_BODY_BYTES // len(chunk) + 1))
    assert status == 429
    assert json.loads(body)["code"] == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    nowhere.close()

"""The HTTP client's address (throttling of bad tokens, logs): X-Forwarded-For is believed only as
written by trusted proxies (TANXIAO_HTTP_TRUSTED_PROXIES), read from the right; a client cannot pick
its address, nor escape the throttle, nor lock another client out, by writing the header itself.
The gateway runs in-process on raw ASGI messages; no service is dialled (every token is refused
before any call)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import grpc
import pytest

from tanxiao.httpapi.forwarded import TrustedProxies, client_address
from tanxiao.httpapi.gateway import Gateway, GatewayMiddleware
from tanxiao.platform.config import Settings

PROXIES = TrustedProxies.parse("10.0.0.0/24, 2001:db8::1")


@pytest.mark.parametrize(
    ("peer", "headers", "expected"),
    [
        # No trusted proxy in the path: the header is the client's own text, ignored.
        ("203.0.113.7", ["198.51.100.1"], "203.0.113.7"),
        ("203.0.113.7", ["10.0.0.5"], "203.0.113.7"),
        # Through a trusted proxy: the right-most address that is not a trusted proxy.
        ("10.0.0.1", ["198.51.100.20"], "198.51.100.20"),
        ("10.0.0.1", ["1.1.1.1, 198.51.100.20"], "198.51.100.20"),  # a forged entry on the left
        ("10.0.0.1", ["1.1.1.1, 198.51.100.20, 10.0.0.2"], "198.51.100.20"),  # two proxies
        ("10.0.0.1", ["1.1.1.1", "198.51.100.20"], "198.51.100.20"),  # several headers, in order
        ("10.0.0.1", ["198.51.100.20:5123"], "198.51.100.20"),  # with a port
        ("10.0.0.1", ["[2001:db8::7]:443"], "2001:db8::7"),
        ("2001:db8::1", ["2001:db8::7"], "2001:db8::7"),
        ("::ffff:10.0.0.1", ["198.51.100.20"], "198.51.100.20"),  # IPv4-mapped proxy
        # Every hop trusted: the left-most; no header at all: the proxy itself.
        ("10.0.0.1", ["10.0.0.3, 10.0.0.2"], "10.0.0.3"),
        ("10.0.0.1", [], "10.0.0.1"),
        # A malformed entry stops the walk at the last trusted proxy: nothing left of it is believed.
        ("10.0.0.1", ["198.51.100.20, nonsense"], "10.0.0.1"),
        ("10.0.0.1", ["198.51.100.20, 10.0.0.2, <script>"], "10.0.0.1"),
        ("10.0.0.1", ["1.1.1.1, nonsense, 10.0.0.2"], "10.0.0.2"),
        # A peer that is not an address (a unix socket, a test client) is taken as it is.
        ("testclient", ["198.51.100.20"], "testclient"),
        (None, ["198.51.100.20"], ""),
    ],
)
def test_the_client_is_the_right_most_untrusted_address(
    peer: str | None, headers: list[str], expected: str
) -> None:
    assert client_address(peer, headers, PROXIES) == expected


def test_with_no_trusted_proxy_configured_the_header_is_never_read() -> None:
    assert client_address("10.0.0.1", ["198.51.100.20"], TrustedProxies()) == "10.0.0.1"
    assert Settings().http_trusted_proxies == ""


def test_a_bad_proxy_setting_fails_at_start_up_naming_the_entry() -> None:
    with pytest.raises(ValueError, match=r"TANXIAO_HTTP_TRUSTED_PROXIES.*'10\.0\.0\.300'"):
        Settings.from_env({"TANXIAO_HTTP_TRUSTED_PROXIES": "10.0.0.1, 10.0.0.300"})
    ok = Settings.from_env({"TANXIAO_HTTP_TRUSTED_PROXIES": "10.0.0.1, 10.1.0.0/16, ::1"})
    assert len(TrustedProxies.parse(ok.http_trusted_proxies).networks) == 3


async def _not_the_console(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("a /v1/ request reached the console")


def _get(app: GatewayMiddleware, peer: str, forwarded_for: str | None = None) -> tuple[int, dict[str, Any]]:
    headers = [(b"authorization", b"Bearer not-a-token")]
    if forwarded_for is not None:
        headers.append((b"x-forwarded-for", forwarded_for.encode()))
    path = "/v1/enterprises"
    scope = {
        "type": "http", "http_version": "1.1", "method": "GET", "scheme": "http", "path": path,
        "raw_path": path.encode(), "query_string": b"", "root_path": "", "server": ("127.0.0.1", 80),
        "client": (peer, 40000), "headers": headers,
    }  # fmt: skip
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body)


@pytest.fixture
def app() -> Any:
    nowhere = grpc.insecure_channel("127.0.0.1:9")  # a call would fail: none is made
    refuse_all = lambda _token: False  # noqa: E731
    gateway = Gateway(
        nowhere, nowhere, known_token=refuse_all, trusted_proxies=PROXIES, auth_failures_per_minute=3
    )
    yield GatewayMiddleware(_not_the_console, gateway)
    nowhere.close()


def _reason(body: dict[str, Any]) -> str:
    (info,) = [d for d in body["details"] if d["@type"].endswith("ErrorInfo")]
    return str(info["reason"])


def test_a_direct_client_cannot_escape_the_throttle_by_forging_the_header(app: Any) -> None:
    for forged in ("198.51.100.1", "198.51.100.2", "10.0.0.1"):
        assert _get(app, "203.0.113.7", forged)[0] == 401
    status, body = _get(app, "203.0.113.7", "198.51.100.4")
    assert status == 429 and _reason(body) == "AUTH_THROTTLED"
    assert any(d["@type"].endswith("RetryInfo") for d in body["details"])
    # Another direct client is not affected.
    assert _get(app, "203.0.113.8")[0] == 401


def test_behind_a_trusted_proxy_each_client_is_throttled_on_its_own(app: Any) -> None:
    for forged in ("1.1.1.1", "2.2.2.2", "3.3.3.3"):  # what the client wrote, then what the proxy saw
        assert _get(app, "10.0.0.1", f"{forged}, 198.51.100.20")[0] == 401
    assert _get(app, "10.0.0.1", "4.4.4.4, 198.51.100.20")[0] == 429
    # The proxy's other clients are not locked out by that one, nor is the proxy address itself.
    assert _get(app, "10.0.0.1", "198.51.100.21")[0] == 401
    assert _get(app, "10.0.0.2", "198.51.100.22")[0] == 401


def test_a_client_cannot_frame_another_by_writing_its_address(app: Any) -> None:
    for _ in range(3):
        assert _get(app, "10.0.0.1", "198.51.100.30, 198.51.100.31")[0] == 401  # counted to .31
    assert _get(app, "10.0.0.1", "198.51.100.30")[0] == 401  # the real .30 still gets through

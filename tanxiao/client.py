"""One way for every client of the suite (the CLI, the console) to dial the services.

``Dialer`` opens channels with the same TANXIAO_TLS_* settings the servers serve with (plaintext only
with TANXIAO_ALLOW_PLAINTEXT, TLS with TANXIAO_TLS_CA_FILE, mutual TLS with the client certificate
pair) and attaches the caller's bearer token to every call. When a call cannot reach the server,
``unreachable_reason`` probes the address and says in one line which setting to change: the usual
mistake is a client dialling TLS to `make run`'s plaintext servers (``WRONG_VERSION_NUMBER``) or the
other way round.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc

from tanxiao.platform.config import Settings
from tanxiao.platform.tls import ConfigError, channel_credentials, secure_channel

# OpenSSL reasons a TLS client reports when the peer answered with something other than TLS records
# (a plaintext HTTP/2 server sends its SETTINGS frame, which is not a TLS record).
_NOT_TLS = frozenset(
    {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "UNEXPECTED_RECORD",
     "HTTP_REQUEST", "UNKNOWN_PROTOCOL", "WRONG_SSL_VERSION"}
)  # fmt: skip
_PROBE_SECONDS = 3.0


class _TokenInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds ``authorization: Bearer <token>`` to every call (per-call metadata, so it also works on a
    plaintext loopback channel, where gRPC refuses call credentials)."""

    def __init__(self, token: str) -> None:
        self._metadata = ("authorization", f"Bearer {token}")

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        metadata = [*(details.metadata or ()), self._metadata]
        return _CallDetails(
            details.method, details.timeout, metadata, details.credentials,
            details.wait_for_ready, details.compression,
        )  # fmt: skip

    def intercept_unary_unary(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation: Callable[..., Any], details: Any, requests: Any) -> Any:
        return continuation(self._details(details), requests)

    def intercept_stream_stream(self, continuation: Callable[..., Any], details: Any, requests: Any) -> Any:
        return continuation(self._details(details), requests)


@dataclass(frozen=True)
class _CallDetails(grpc.ClientCallDetails):  # type: ignore[misc]
    method: str
    timeout: float | None
    metadata: Sequence[tuple[str, str]] | None
    credentials: grpc.CallCredentials | None
    wait_for_ready: bool | None
    compression: grpc.Compression | None


@dataclass(frozen=True)
class Dialer:
    """Channels to the services for one caller: ``settings`` say how to dial, ``token`` who calls."""

    settings: Settings
    token: str | None = None

    def channel(self, target: str) -> grpc.Channel:
        """A channel to ``target``; ConfigError (naming the TANXIAO_ variable) on unusable TLS settings."""
        options = [
            ("grpc.max_receive_message_length", self.settings.max_message_bytes),
            ("grpc.max_send_message_length", self.settings.max_message_bytes),
        ]
        return with_token(secure_channel(target, self.settings, options), self.token)

    def scoring(self, addr: str | None = None) -> grpc.Channel:
        return self.channel(addr or self.settings.scoring_addr)

    def registry(self, addr: str | None = None) -> grpc.Channel:
        return self.channel(addr or self.settings.registry_addr)


def with_token(channel: grpc.Channel, token: str | None) -> grpc.Channel:
    """``channel`` with ``token`` sent on every call (cheap: the console wraps one shared channel per
    request with the signed-in user's token)."""
    return grpc.intercept_channel(channel, _TokenInterceptor(token)) if token else channel


def probe(target: str, timeout: float = _PROBE_SECONDS) -> str:
    """What the server at ``host:port`` speaks: "plaintext", "tls", "mutual_tls" (TLS that wants a client
    certificate) or "none" when nothing answers.

    The probe verifies nothing (it only asks which protocol the port speaks) and sends no request.
    """
    host, port = _split(target)
    if port is None:
        return "none"
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as sock,
            context.wrap_socket(sock, server_hostname=host or None) as tls,
        ):
            return _after_handshake(tls)
    except ssl.SSLError as exc:
        if exc.reason in _NOT_TLS or isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
            return "plaintext"
        return "mutual_tls" if "CERTIFICATE" in str(exc.reason) else "tls"
    except (ConnectionResetError, BrokenPipeError):
        return "plaintext"  # a plaintext HTTP/2 server drops a connection that opens with a ClientHello
    except OSError:
        return "none"


def _after_handshake(tls: ssl.SSLSocket) -> str:
    """A TLS 1.3 server that requires a client certificate refuses only after the handshake (an alert or
    a closed connection); an HTTP/2 server that accepted us sends its SETTINGS frame instead."""
    tls.settimeout(1.0)
    try:
        return "tls" if tls.recv(1) else "mutual_tls"
    except TimeoutError:
        return "tls"
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return "mutual_tls"
    except OSError:
        return "tls"


def _split(target: str) -> tuple[str, int | None]:
    target = target.removeprefix("dns:///").removeprefix("ipv4:").removeprefix("ipv6:")
    if target.startswith("["):
        host, _, rest = target[1:].partition("]")
        port = rest.removeprefix(":")
    else:
        host, _, port = target.rpartition(":")
    return host, int(port) if port.isdigit() else None


def unreachable_reason(target: str, settings: Settings, details: str = "") -> str:
    """One line saying why ``target`` cannot be reached and which setting to change; ``details`` is the
    failed call's message (kept when the server was reached and answered UNAVAILABLE itself)."""
    try:
        dials_tls = channel_credentials(settings) is not None
    except ConfigError as exc:
        return str(exc)
    speaks = probe(target)
    if speaks == "none":
        return (
            f"nothing answers at {target}: start the services (`make run` or `tanxiao serve all`) "
            "or point TANXIAO_SCORING_ADDR / TANXIAO_REGISTRY_ADDR (or --addr) at them"
        )
    if dials_tls and speaks == "plaintext":
        return (
            f"{target} serves plaintext (as `make run` does) but this client dials TLS: "
            "set TANXIAO_ALLOW_PLAINTEXT=true and leave TANXIAO_TLS_CA_FILE empty"
        )
    if not dials_tls and speaks != "plaintext":
        return (
            f"{target} serves TLS but this client dials plaintext: "
            "set TANXIAO_TLS_CA_FILE to the servers' CA "
            "(and TANXIAO_TLS_CLIENT_CERT_FILE / TANXIAO_TLS_CLIENT_KEY_FILE for mutual TLS)"
        )
    if speaks == "mutual_tls" and not settings.tls_client_cert_file:
        return (
            f"{target} requires a client certificate (mutual TLS): set TANXIAO_TLS_CLIENT_CERT_FILE and "
            "TANXIAO_TLS_CLIENT_KEY_FILE"
        )
    if speaks != "plaintext" and ("handshake" in details.lower() or "ssl" in details.lower()):
        return (
            f"the TLS handshake with {target} failed: check TANXIAO_TLS_CA_FILE (the CA that signed the "
            "server's certificate) and, for mutual TLS, "
            "TANXIAO_TLS_CLIENT_CERT_FILE / TANXIAO_TLS_CLIENT_KEY_FILE"
        )
    return f"UNAVAILABLE: {details or 'the service is not available'} ({target})"


def describe_error(error: grpc.RpcError, target: str, settings: Settings) -> str:
    """One line for a failed call: the status and message, or for UNAVAILABLE the setting at fault."""
    code = error.code()  # type: ignore[attr-defined]
    if code == grpc.StatusCode.UNAVAILABLE:
        return unreachable_reason(target, settings, error.details() or "")  # type: ignore[attr-defined]
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return f"UNAUTHENTICATED: {error.details()} (give --token or set TANXIAO_TOKEN)"  # type: ignore[attr-defined]
    return f"{code.name}: {error.details()}"  # type: ignore[attr-defined]

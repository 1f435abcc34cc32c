"""TLS and mutual TLS end to end over a real gRPC server, plus the configuration errors."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from tanxiao.platform.config import Settings
from tanxiao.platform.tls import (
    ConfigError,
    DevCerts,
    channel_credentials,
    generate_dev_certs,
    is_loopback,
    secure_channel,
    server_credentials,
)

METHOD = "/test.Echo/Echo"
# A private subchannel pool per channel: gRPC must not reuse a connection made with other credentials.
OPTIONS = [("grpc.use_local_subchannel_pool", 1)]


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> DevCerts:
    return generate_dev_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> DevCerts:
    return generate_dev_certs(tmp_path_factory.mktemp("other"))


def _server_settings(certs: DevCerts, *, mutual: bool) -> Settings:
    env = {"TANXIAO_TLS_CERT_FILE": str(certs.server_cert), "TANXIAO_TLS_KEY_FILE": str(certs.server_key)}
    if mutual:
        env["TANXIAO_TLS_CLIENT_CA_FILE"] = str(certs.ca_cert)
    return Settings.from_env(env)


def _client_settings(ca: Path, client: DevCerts | None = None) -> Settings:
    env = {"TANXIAO_TLS_CA_FILE": str(ca)}
    if client is not None:
        env["TANXIAO_TLS_CLIENT_CERT_FILE"] = str(client.client_cert)
        env["TANXIAO_TLS_CLIENT_KEY_FILE"] = str(client.client_key)
    return Settings.from_env(env)


def _serve(settings: Settings) -> tuple[grpc.Server, int]:
    server = grpc.server(futures.ThreadPoolExecutor(2))
    handler = grpc.unary_unary_rpc_method_handler(lambda request, _context: request)
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("test.Echo", {"Echo": handler})])
    credentials = server_credentials(settings)
    assert credentials is not None
    port = server.add_secure_port("127.0.0.1:0", credentials)
    assert port
    server.start()
    return server, port


def _echo(target: str, settings: Settings) -> bytes:
    with secure_channel(target, settings, OPTIONS) as channel:
        result: bytes = channel.unary_unary(METHOD)(b"ping", timeout=10)
        return result


@pytest.fixture(scope="module")
def tls_port(certs: DevCerts) -> Iterator[int]:
    server, port = _serve(_server_settings(certs, mutual=False))
    yield port
    server.stop(None)


@pytest.fixture(scope="module")
def mtls_port(certs: DevCerts) -> Iterator[int]:
    server, port = _serve(_server_settings(certs, mutual=True))
    yield port
    server.stop(None)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_tls_call_verifies_server_against_ca(certs: DevCerts, tls_port: int, host: str) -> None:
    assert _echo(f"{host}:{tls_port}", _client_settings(certs.ca_cert)) == b"ping"


def test_client_trusting_another_ca_fails(certs: DevCerts, other_ca: DevCerts, tls_port: int) -> None:
    with pytest.raises(grpc.RpcError) as err:
        _echo(f"localhost:{tls_port}", _client_settings(other_ca.ca_cert))
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


def test_plaintext_client_cannot_talk_to_tls_server(tls_port: int) -> None:
    with pytest.raises(grpc.RpcError) as err:
        _echo(f"127.0.0.1:{tls_port}", Settings.from_env({"TANXIAO_ALLOW_PLAINTEXT": "true"}))
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


def test_mutual_tls_accepts_client_certificate(certs: DevCerts, mtls_port: int) -> None:
    assert _echo(f"localhost:{mtls_port}", _client_settings(certs.ca_cert, certs)) == b"ping"


def test_mutual_tls_rejects_client_without_certificate(certs: DevCerts, mtls_port: int) -> None:
    with pytest.raises(grpc.RpcError) as err:
        _echo(f"localhost:{mtls_port}", _client_settings(certs.ca_cert))
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


def test_mutual_tls_rejects_certificate_from_another_ca(
    certs: DevCerts, other_ca: DevCerts, mtls_port: int
) -> None:
    with pytest.raises(grpc.RpcError) as err:
        _echo(f"localhost:{mtls_port}", _client_settings(certs.ca_cert, other_ca))
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


# --- configuration -----------------------------------------------------------------------------


def test_no_tls_and_no_plaintext_is_an_error() -> None:
    with pytest.raises(ConfigError, match="TANXIAO_TLS_CERT_FILE"):
        server_credentials(Settings.from_env({}))


def test_plaintext_allowed_without_tls() -> None:
    settings = Settings.from_env({"TANXIAO_ALLOW_PLAINTEXT": "true"})
    assert server_credentials(settings) is None
    assert channel_credentials(settings) is None


def test_config_error_is_a_value_error() -> None:
    assert issubclass(ConfigError, ValueError)


def test_cert_without_key_is_an_error(certs: DevCerts) -> None:
    settings = Settings.from_env({"TANXIAO_TLS_CERT_FILE": str(certs.server_cert)})
    with pytest.raises(ConfigError, match="TANXIAO_TLS_KEY_FILE"):
        server_credentials(settings)


def test_client_cert_without_key_is_an_error(certs: DevCerts) -> None:
    settings = Settings.from_env(
        {"TANXIAO_TLS_CA_FILE": str(certs.ca_cert), "TANXIAO_TLS_CLIENT_CERT_FILE": str(certs.client_cert)}
    )
    with pytest.raises(ConfigError, match="TANXIAO_TLS_CLIENT_KEY_FILE"):
        channel_credentials(settings)


def test_missing_file_names_the_variable(certs: DevCerts, tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"TANXIAO_TLS_CERT_FILE": str(certs.server_cert), "TANXIAO_TLS_KEY_FILE": str(tmp_path / "nope")}
    )
    with pytest.raises(ConfigError, match="TANXIAO_TLS_KEY_FILE"):
        server_credentials(settings)
    with pytest.raises(ConfigError, match="TANXIAO_TLS_CA_FILE"):
        channel_credentials(Settings.from_env({"TANXIAO_TLS_CA_FILE": str(tmp_path / "nope")}))


def test_client_ca_without_server_certificate_is_an_error(certs: DevCerts) -> None:
    settings = Settings.from_env(
        {"TANXIAO_ALLOW_PLAINTEXT": "true", "TANXIAO_TLS_CLIENT_CA_FILE": str(certs.ca_cert)}
    )
    with pytest.raises(ConfigError, match="TANXIAO_TLS_CLIENT_CA_FILE"):
        server_credentials(settings)


def test_tls_configured_wins_over_plaintext(certs: DevCerts) -> None:
    settings = Settings.from_env(
        {
            "TANXIAO_ALLOW_PLAINTEXT": "true",
            "TANXIAO_TLS_CERT_FILE": str(certs.server_cert),
            "TANXIAO_TLS_KEY_FILE": str(certs.server_key),
            "TANXIAO_TLS_CA_FILE": str(certs.ca_cert),
        }
    )
    assert server_credentials(settings) is not None
    assert channel_credentials(settings) is not None


@pytest.mark.parametrize(
    ("listen", "expected"),
    [
        ("127.0.0.1:50051", True),
        ("localhost:0", True),
        ("[::1]:1", True),
        ("127.0.0.2:1", True),
        ("LOCALHOST:1", True),
        ("0.0.0.0:50051", False),
        ("[::]:1", False),
        ("10.0.0.5:1", False),
        ("example.com:1", False),
        ("", False),
    ],
)
def test_is_loopback(listen: str, expected: bool) -> None:
    assert is_loopback(listen) is expected


# --- development certificates ------------------------------------------------------------------


def test_dev_certs_contents(certs: DevCerts) -> None:
    ca = x509.load_pem_x509_certificate(certs.ca_cert.read_bytes())
    server = x509.load_pem_x509_certificate(certs.server_cert.read_bytes())
    client = x509.load_pem_x509_certificate(certs.client_cert.read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    server_eku = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    client_eku = client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(server_eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert list(client_eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    for cert in (server, client):
        assert cert.issuer == ca.subject
        cert.verify_directly_issued_by(ca)
    for key in (certs.server_key, certs.client_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_dev_certs_refuse_to_overwrite(tmp_path: Path) -> None:
    first = generate_dev_certs(tmp_path)
    before = first.ca_cert.read_bytes()
    with pytest.raises(FileExistsError):
        generate_dev_certs(tmp_path)
    assert first.ca_cert.read_bytes() == before
    again = generate_dev_certs(tmp_path, force=True, hosts=("tanxiao.internal",))
    assert again.ca_cert.read_bytes() != before
    assert stat.S_IMODE(again.server_key.stat().st_mode) == 0o600

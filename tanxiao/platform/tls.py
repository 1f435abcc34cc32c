"""TLS for the servers and the clients that dial them; mutual TLS when a client CA is configured.

Servers: ``server_credentials`` (``None`` means plaintext, allowed only with ``TANXIAO_ALLOW_PLAINTEXT``).
Clients: ``channel_credentials`` / ``secure_channel``. ``generate_dev_certs`` (``tanxiao dev-certs``) makes
a throwaway CA, a server and a client certificate for local testing; never use them in production.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tanxiao.platform.config import PREFIX, Settings


class ConfigError(ValueError):
    """TLS settings are missing, inconsistent or point at unreadable files."""


def _var(name: str) -> str:
    return f"{PREFIX}{name.upper()}"


def _read_pem(settings: Settings, name: str) -> bytes:
    """The PEM file named by setting ``name``; ConfigError naming the variable if unusable."""
    path = getattr(settings, name)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{_var(name)}: cannot read {path!r}: {exc.strerror or exc}") from exc
    if b"-----BEGIN " not in data:
        raise ConfigError(f"{_var(name)}: {path!r} is not a PEM file")
    return data


def _pair(settings: Settings, cert: str, key: str) -> tuple[bytes, bytes] | None:
    """(certificate chain, private key) from two settings, None if neither is set."""
    cert_set, key_set = bool(getattr(settings, cert)), bool(getattr(settings, key))
    if not cert_set and not key_set:
        return None
    if not (cert_set and key_set):
        missing, present = (key, cert) if cert_set else (cert, key)
        raise ConfigError(f"{_var(missing)} must be set together with {_var(present)}")
    return _read_pem(settings, cert), _read_pem(settings, key)


def server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """Credentials for ``add_secure_port``; None (plaintext) only when TLS is unset and plaintext allowed.

    With ``tls_client_ca_file`` set, clients must present a certificate signed by that CA (mutual TLS).
    """
    pair = _pair(settings, "tls_cert_file", "tls_key_file")
    if pair is None:
        if settings.tls_client_ca_file:
            raise ConfigError(
                f"{_var('tls_client_ca_file')} needs {_var('tls_cert_file')} and {_var('tls_key_file')}"
            )
        if settings.allow_plaintext:
            return None
        raise ConfigError(
            f"TLS is not configured: set {_var('tls_cert_file')} and {_var('tls_key_file')} "
            f"(or {_var('allow_plaintext')}=true for local development)"
        )
    chain, key = pair
    client_ca = _read_pem(settings, "tls_client_ca_file") if settings.tls_client_ca_file else None
    return grpc.ssl_server_credentials(
        [(key, chain)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


def channel_credentials(settings: Settings) -> grpc.ChannelCredentials | None:
    """Credentials for dialling a server; None (plaintext) when plaintext is allowed and no CA is set.

    Without ``tls_ca_file`` (and plaintext not allowed) the system's trusted roots are used.
    """
    pair = _pair(settings, "tls_client_cert_file", "tls_client_key_file")
    if settings.allow_plaintext and not settings.tls_ca_file:
        if pair is not None:
            raise ConfigError(f"{_var('tls_client_cert_file')} needs {_var('tls_ca_file')} to dial with TLS")
        return None
    root = _read_pem(settings, "tls_ca_file") if settings.tls_ca_file else None
    chain, key = pair if pair is not None else (None, None)
    return grpc.ssl_channel_credentials(root_certificates=root, private_key=key, certificate_chain=chain)


def secure_channel(target: str, settings: Settings, options: Sequence[tuple[str, Any]] = ()) -> grpc.Channel:
    """A channel to ``target``: TLS unless ``channel_credentials`` says plaintext, and plaintext only to
    a loopback address (as serving): a bearer token must never travel in clear over a network."""
    credentials = channel_credentials(settings)
    if credentials is None:
        if not is_loopback(dial_address(target)):
            raise ConfigError(
                f"refusing to dial {target} in plaintext: {_var('allow_plaintext')} is for development on"
                f" loopback only; set {_var('tls_ca_file')} to dial with TLS"
            )
        return grpc.insecure_channel(target, options=list(options))
    return grpc.secure_channel(target, credentials, options=list(options))


def dial_address(target: str) -> str:
    """``dns:///host:port`` / ``ipv4:host:port`` / ``ipv6:[h]:port`` -> the ``host:port`` part."""
    for scheme in ("dns:///", "dns:", "ipv4:", "ipv6:"):
        if target.startswith(scheme):
            return target[len(scheme) :]
    return target


def transport(settings: Settings) -> str:
    """What a server serves, for the start-up log: plaintext, tls or mutual_tls."""
    if not settings.tls_cert_file:
        return "plaintext"
    return "mutual_tls" if settings.tls_client_ca_file else "tls"


def is_loopback(listen: str) -> bool:
    """Whether a listen address (``host:port``, ``[v6]:port``, ``unix:path``) is reachable only locally.

    Host names other than ``localhost`` are not resolved and count as non-loopback.
    """
    if listen.startswith(("unix:", "unix-abstract:")):
        return True
    if listen.startswith("["):
        host = listen[1 : listen.find("]")] if "]" in listen else ""
    else:
        host = listen.rsplit(":", 1)[0] if listen.count(":") == 1 else listen
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- development certificates -------------------------------------------------------------------


@dataclass(frozen=True)
class DevCerts:
    directory: Path
    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tanxiao development"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _san(hosts: Sequence[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def _builder(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey, days: int
) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))  # tolerate small clock skew
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )


def _leaf(
    common_name: str,
    ca: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    days: int,
    usage: x509.ObjectIdentifier,
    hosts: Sequence[str] = (),
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        _builder(_name(common_name), ca.subject, key, days)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
    )
    if hosts:
        builder = builder.add_extension(_san(hosts), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write atomically (temp file + rename) with ``mode``; the temp file is 0600 from the start."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def generate_dev_certs(
    directory: Path,
    *,
    hosts: Sequence[str] = ("localhost", "127.0.0.1"),
    client_name: str = "tanxiao-dev-client",
    days: int = 365,
    force: bool = False,
) -> DevCerts:
    """Write a development CA, a server certificate for ``hosts`` and a client certificate as PEM.

    Keys are 0600; the CA key is not kept. Refuses (FileExistsError) to overwrite unless ``force``.
    """
    if not hosts:
        raise ValueError("hosts: at least one host name or IP address is needed")
    if days < 1:
        raise ValueError(f"days must be positive, got {days}")
    directory = Path(directory)
    certs = DevCerts(
        directory=directory,
        ca_cert=directory / "ca.crt",
        server_cert=directory / "server.crt",
        server_key=directory / "server.key",
        client_cert=directory / "client.crt",
        client_key=directory / "client.key",
    )
    outputs = [certs.ca_cert, certs.server_cert, certs.server_key, certs.client_cert, certs.client_key]
    existing = [str(p) for p in outputs if p.exists()]
    if existing and not force:
        raise FileExistsError(f"refusing to overwrite {', '.join(existing)} (use force)")
    directory.mkdir(parents=True, exist_ok=True)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("tanxiao development CA")
    ca = (
        _builder(ca_name, ca_name, ca_key, days)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server, server_key = _leaf(hosts[0], ca, ca_key, days, ExtendedKeyUsageOID.SERVER_AUTH, hosts)
    client, client_key = _leaf(client_name, ca, ca_key, days, ExtendedKeyUsageOID.CLIENT_AUTH)

    _write(certs.ca_cert, _cert_pem(ca), 0o644)
    _write(certs.server_cert, _cert_pem(server), 0o644)
    _write(certs.server_key, _key_pem(server_key), 0o600)
    _write(certs.client_cert, _cert_pem(client), 0o644)
    _write(certs.client_key, _key_pem(client_key), 0o600)
    return certs

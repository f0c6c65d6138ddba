"""Secure channels: an endpoint's security settings, applied to an asyncua client with no fallback to None.

The server certificate is checked against the trust list (and CRLs) before the secure channel opens and again in
every CreateSession, which also checks that the open channel has exactly the configured policy and mode. Also: a
self-signed demo PKI and the simulator's server side."""
from __future__ import annotations

import hashlib
import hmac
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from asyncua import Client, Server, ua
from asyncua.common.utils import ServiceError
from asyncua.crypto import cert_gen, security_policies, uacrypto
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.crypto.truststore import TrustStore
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from mes.plant_config.security import DEPRECATED, SecuritySettings

POLICIES: dict[str, type[security_policies.SecurityPolicy]] = {
    "Basic256Sha256": security_policies.SecurityPolicyBasic256Sha256,
    "Aes128_Sha256_RsaOaep": security_policies.SecurityPolicyAes128Sha256RsaOaep,
    "Aes256_Sha256_RsaPss": security_policies.SecurityPolicyAes256Sha256RsaPss,
}
CERT_SUFFIXES = {".der", ".pem", ".crt", ".cer"}
CRL_SUFFIXES = {".der", ".pem", ".crl"}
REASONS = {
    "BadCertificateUntrusted": "it is not in the trust list {trust}",
    "BadCertificateRevoked": "it is revoked by a CRL in {crl}",
    "BadCertificateTimeInvalid": "it is expired or not yet valid",
    "BadCertificateUriInvalid": "its SubjectAltName URI is not the server's application URI {uri}",
    "BadCertificateUseNotAllowed": "its key usage or extended key usage does not allow an OPC UA server",
    "BadCertificateInvalid": "it has no SubjectAltName or key usage extension",
}


class ChannelSecurityError(ua.UaError):
    """A connection refused because it would not be as secure as configured."""


class _TrustStore(TrustStore):
    # asyncua's loader takes any file whose name contains "der" or "pem" and parses by suffix; go by content.
    async def _load_trust_location(self, location: Path) -> list[x509.Certificate]:
        return [(x509.load_pem_x509_certificate if _pem(d) else x509.load_der_x509_certificate)(d)
                for d in _files(location)]

    async def _load_crl_location(self, location: Path) -> list[x509.RevokedCertificate]:
        return [revoked for d in _files(location, CRL_SUFFIXES)
                for revoked in (x509.load_pem_x509_crl if _pem(d) else x509.load_der_x509_crl)(d)]


def _files(folder: Path, suffixes: set[str] = CERT_SUFFIXES) -> list[bytes]:
    return [p.read_bytes() for p in sorted(folder.iterdir()) if p.suffix.lower() in suffixes]


def _pem(data: bytes) -> bool:
    return data.lstrip().startswith(b"-----BEGIN")


def _load(path: Path, field: str) -> uacrypto.CertProperties:
    """A certificate or key file's content, PEM or DER told by content (asyncua goes by the file suffix)."""
    if not Path(path).is_file():
        raise ValueError(f"{field}: no such file {path}")
    data = Path(path).read_bytes()
    return uacrypto.CertProperties(data, "pem" if _pem(data) else "der")


def _application_uri(cert: x509.Certificate) -> str:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        return san.get_values_for_type(x509.UniformResourceIdentifier)[0]
    except (x509.ExtensionNotFound, IndexError):
        raise ValueError(f"certificate {cert.subject.rfc4514_string()} has no application URI in its "
                         "SubjectAltName") from None


async def _validator(settings: SecuritySettings) -> CertificateValidator:
    for field in ("trust_list", "revocation_list"):
        folder = getattr(settings, field)
        if folder is not None and not folder.is_dir():
            raise ValueError(f"{field}: no such folder {folder}")
    store = _TrustStore([settings.trust_list], [settings.revocation_list] if settings.revocation_list else [])
    await store.load()
    if not _files(settings.trust_list):
        raise ValueError(f"trust_list: {settings.trust_list} holds no certificate (.der, .pem, .crt, .cer)")
    return CertificateValidator(
        CertificateValidatorOptions.TRUSTED_VALIDATION | CertificateValidatorOptions.PEER_SERVER, store)


async def _check_server(validator: CertificateValidator, cert: x509.Certificate, server: ua.ApplicationDescription,
                        settings: SecuritySettings, url: str) -> None:
    try:
        await validator(cert, server)
    except ServiceError as exc:
        name = ua.StatusCode(exc.code).name
        why = REASONS.get(name, "{name}").format(
            trust=settings.trust_list, crl=settings.revocation_list, uri=server.ApplicationUri, name=name)
        thumbprint = hashlib.sha1(cert.public_bytes(Encoding.DER)).hexdigest()  # as OPC UA tools show it
        raise ChannelSecurityError(f"{url}: server certificate {cert.subject.rfc4514_string()} (SHA-1 thumbprint "
                                   f"{thumbprint}) refused ({name}): {why}") from exc


def _choose(endpoints: list[ua.EndpointDescription], settings: SecuritySettings, url: str) -> ua.EndpointDescription:
    uri, mode = POLICIES[settings.policy].URI, ua.MessageSecurityMode[settings.mode]
    for ep in endpoints:
        if ep.SecurityPolicyUri == uri and ep.SecurityMode == mode and ep.ServerCertificate:
            return ep
    offered = sorted({_name(ep.SecurityPolicyUri, ep.SecurityMode) for ep in endpoints})
    if all(ep.SecurityMode == ua.MessageSecurityMode.None_ for ep in endpoints):
        raise ChannelSecurityError(f"{url}: the server offers only security policy None; refusing to connect "
                                   f"unsecured (configured {settings.policy}/{settings.mode})")
    raise ChannelSecurityError(f"{url}: the server does not offer {settings.policy}/{settings.mode}; "
                               f"it offers {', '.join(offered)}")


async def apply(client: Client, settings: SecuritySettings) -> None:
    """Configure `client` before connect: user token, policy, certificates, and a trust check of the server.

    Raises ChannelSecurityError when the server offers only None, not the configured policy and mode, or an untrusted
    certificate; ValueError for a missing file, folder or password environment variable."""
    url = client.server_url.geturl()
    if settings.username is not None:
        client.set_user(settings.username)
        client.set_password(settings.password_value())
    if settings.policy == "None":
        return
    certificate, key = _load(settings.certificate, "certificate"), _load(settings.private_key, "private_key")
    own = await uacrypto.load_certificate(certificate.path_or_content, certificate.extension)
    client.application_uri = _application_uri(own)  # servers check it against the certificate's SubjectAltName
    validator = await _validator(settings)
    # GetEndpoints is the one service a None channel is for (discovery); it is closed before the secure one opens.
    none = security_policies.SecurityPolicyNone()
    client.security_policy = none
    client.uaclient.set_security(none)
    endpoint = _choose(await client.connect_and_get_server_endpoints(), settings, url)
    server_cert = uacrypto.x509_from_der(endpoint.ServerCertificate)  # the first of a chain
    await _check_server(validator, server_cert, endpoint.Server, settings, url)
    await client.set_security(POLICIES[settings.policy], certificate, key,
                              server_certificate=uacrypto.CertProperties(uacrypto.der_from_x509(server_cert), "der"),
                              mode=ua.MessageSecurityMode[settings.mode])

    async def check_session(cert: x509.Certificate, server: ua.ApplicationDescription) -> None:
        # asyncua calls this in every CreateSession (reconnects too), when the channel is open and before any
        # password is sent: the place to refuse a channel that is not the configured one.
        verify_channel(client, settings)
        await _check_server(validator, cert, server, settings, url)

    client.certificate_validator = check_session


def verify_channel(client: Client, settings: SecuritySettings) -> None:
    """Raise ChannelSecurityError unless the client's open channel uses exactly the configured policy and mode."""
    if settings.policy == "None":
        return
    protocol = client.uaclient.protocol
    # the policy the socket protocol actually signs and encrypts with, not the one the client was asked for
    actual = protocol._connection.security_policy if protocol is not None else client.security_policy
    wanted = POLICIES[settings.policy].URI, ua.MessageSecurityMode[settings.mode]
    if (actual.URI, actual.Mode) != wanted:
        raise ChannelSecurityError(f"{client.server_url.geturl()}: the channel uses {_name(actual.URI, actual.Mode)}, "
                                   f"not the configured {settings.policy}/{settings.mode}")


def _name(uri: str, mode: ua.MessageSecurityMode) -> str:
    return f"{uri.rsplit('#', 1)[-1]}/{mode.name.rstrip('_')}"


def make_certificate(folder: Path, name: str, application_uri: str, days: int = 365) -> tuple[Path, Path]:
    """A self-signed application certificate (DER, `<name>.der`) and its key (PEM, `<name>.pem`) in `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    key = cert_gen.generate_private_key()
    names = [x509.UniformResourceIdentifier(application_uri), x509.DNSName(socket.gethostname()),
             x509.DNSName("localhost")]
    cert = cert_gen.generate_self_signed_app_certificate(
        key, name, {}, names, [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH], days=days)
    cert_path, key_path = folder / f"{name}.der", folder / f"{name}.pem"
    cert_path.write_bytes(cert.public_bytes(Encoding.DER))
    key_path.write_bytes(cert_gen.dump_private_key_as_pem(key))
    return cert_path, key_path


class PasswordUserManager:
    """Accepts the given username/password pairs and nobody else."""

    def __init__(self, users: dict[str, str]) -> None:
        self.users = dict(users)

    def get_user(self, iserver: Any, username: str | None = None, password: str | None = None,
                 certificate: Any = None) -> User | None:
        expected = self.users.get(username or "")
        ok = expected is not None and password is not None and hmac.compare_digest(password.encode(), expected.encode())
        return User(role=UserRole.User, name=username) if ok else None


async def secure_server(server: Server, cert_path: Path, key_path: Path,
                        policies: Iterable[ua.SecurityPolicyType | str],
                        trusted_client_certs_folder: Path | None = None, users: dict[str, str] | None = None) -> None:
    """Secure a server after `await server.init()` and before `start()`: only the given policies (None only if
    listed, e.g. "NoSecurity", "Basic256Sha256_SignAndEncrypt"), its certificate, client trust, and user accounts."""
    chosen = [p if isinstance(p, ua.SecurityPolicyType) else ua.SecurityPolicyType[p] for p in policies]
    if deprecated := [p.name for p in chosen if p.name.split("_")[0] in DEPRECATED]:
        raise ValueError(f"security policies {', '.join(deprecated)} are deprecated and refused")
    server.set_security_policy(chosen)
    cert, key = _load(cert_path, "cert_path"), _load(key_path, "key_path")
    await server.load_certificate(cert.path_or_content, cert.extension)
    await server.load_private_key(key.path_or_content, None, key.extension)
    # clients check the endpoint's application URI against the certificate's SubjectAltName
    await server.set_application_uri(_application_uri(server.iserver.certificate))
    if trusted_client_certs_folder is not None:
        store = _TrustStore([Path(trusted_client_certs_folder)], [])
        await store.load()
        server.set_certificate_validator(CertificateValidator(
            CertificateValidatorOptions.TRUSTED_VALIDATION | CertificateValidatorOptions.PEER_CLIENT, store))
    if users is not None:
        server.iserver.set_user_manager(PasswordUserManager(users))
        server.set_identity_tokens([ua.UserNameIdentityToken])  # no anonymous sessions

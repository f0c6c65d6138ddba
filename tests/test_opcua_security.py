"""Secure channels against a real asyncua server on 127.0.0.1: policies, trust list, CRL, user tokens, no fallback."""
from __future__ import annotations

import asyncio
import datetime
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from asyncua import Client, Server, ua
from asyncua.crypto import uacrypto
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from pydantic import ValidationError

from line_adapters.security import (
    ChannelSecurityError,
    SecuritySettings,
    apply,
    make_certificate,
    secure_server,
    verify_channel,
)

NAMESPACE = "urn:satplant:test"
USERS = {"mes": "s3cret"}
SECURE_POLICIES = ["Basic256Sha256_SignAndEncrypt", "Aes256Sha256RsaPss_SignAndEncrypt", "Aes128Sha256RsaOaep_Sign"]


@dataclass
class Pki:
    plc: tuple[Path, Path]  # the server's certificate and key
    client: tuple[Path, Path]
    rogue: tuple[Path, Path]  # trusted by nobody
    trust: Path  # the client's trust list: the PLC's certificate
    rogue_trust: Path  # a trust list without the PLC's certificate
    client_trust: Path  # the server's trust list: the client's certificate
    crl: Path  # a CRL revoking the PLC's certificate


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = tmp_path_factory.mktemp("pki")
    plc = make_certificate(root / "own", "plc", "urn:satplant:test:plc")
    client = make_certificate(root / "own", "mes-adapter", "urn:satplant:mes:adapter")
    rogue = make_certificate(root / "own", "rogue", "urn:satplant:test:plc")
    folders = {name: root / name for name in ("trust", "rogue_trust", "client_trust", "crl")}
    for folder in folders.values():
        folder.mkdir()
    shutil.copy(plc[0], folders["trust"])
    shutil.copy(rogue[0], folders["rogue_trust"])
    shutil.copy(client[0], folders["client_trust"])
    (folders["crl"] / "plc.crl").write_bytes(_revoking(*plc))
    return Pki(plc, client, rogue, **folders)


def _revoking(cert_path: Path, key_path: Path) -> bytes:
    cert = x509.load_der_x509_certificate(cert_path.read_bytes())
    key = serialization.load_pem_private_key(key_path.read_bytes(), None)
    now = datetime.datetime.now(datetime.UTC)
    revoked = x509.RevokedCertificateBuilder().serial_number(cert.serial_number).revocation_date(now).build()
    crl = (x509.CertificateRevocationListBuilder().issuer_name(cert.subject).last_update(now)
           .next_update(now + datetime.timedelta(days=1)).add_revoked_certificate(revoked)
           .sign(key, hashes.SHA256()))
    return crl.public_bytes(serialization.Encoding.PEM)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _start(pki: Pki, policies: list[str]) -> tuple[Server, str]:
    server = Server()
    await server.init()
    url = f"opc.tcp://127.0.0.1:{_free_port()}/"
    server.set_endpoint(url)
    if policies == ["NoSecurity"]:
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    else:
        await secure_server(server, *pki.plc, policies, pki.client_trust, USERS)
    idx = await server.register_namespace(NAMESPACE)
    await server.nodes.objects.add_variable(ua.NodeId("Temperature", idx), "Temperature", 21.5)
    await server.start()
    return server, url


@dataclass
class Servers:
    secure: str  # offers SECURE_POLICIES only, with the PLC's certificate
    plain: str  # offers None only


@pytest.fixture(scope="module")
def servers(pki: Pki) -> Iterator[Servers]:
    """Both servers on one event loop of their own, for the whole module (an asyncua server takes ~1 s to init)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coro):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, loop).result(30)

    secure, secure_url = run(_start(pki, SECURE_POLICIES))
    plain, plain_url = run(_start(pki, ["NoSecurity"]))
    yield Servers(secure_url, plain_url)
    run(secure.stop())
    run(plain.stop())
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def _settings(pki: Pki, **changes: object) -> SecuritySettings:
    fields: dict[str, object] = dict(policy="Basic256Sha256", mode="SignAndEncrypt", certificate=pki.client[0],
                                     private_key=pki.client[1], username="mes", password="s3cret", trust_list=pki.trust)
    fields.update(changes)
    return SecuritySettings(**{k: v for k, v in fields.items() if v is not None})


async def _read_temperature(url: str, settings: SecuritySettings) -> tuple[float, object]:
    client = Client(url, timeout=4)
    await apply(client, settings)
    await client.connect()
    try:
        verify_channel(client, settings)
        idx = await client.get_namespace_index(NAMESPACE)
        value = await client.get_node(ua.NodeId("Temperature", idx)).read_value()
        return value, client.uaclient.protocol._connection.security_policy
    finally:
        await client.disconnect()


@pytest.mark.parametrize(("policy", "mode"), [("Basic256Sha256", "SignAndEncrypt"),
                                              ("Aes256_Sha256_RsaPss", "SignAndEncrypt"),
                                              ("Aes128_Sha256_RsaOaep", "Sign")])
def test_a_secure_channel_with_certificates_and_a_user_token_reads_a_variable(
        pki: Pki, servers: Servers, monkeypatch: pytest.MonkeyPatch, policy: str, mode: str) -> None:
    monkeypatch.setenv("SATPLANT_PLC_PASSWORD", "s3cret")
    settings = _settings(pki, policy=policy, mode=mode, password=None, password_env="SATPLANT_PLC_PASSWORD")
    value, channel = asyncio.run(_read_temperature(servers.secure, settings))
    assert value == 21.5
    assert channel.URI.endswith("#" + policy) and channel.Mode == ua.MessageSecurityMode[mode]


def test_an_untrusted_server_certificate_is_refused(pki: Pki, servers: Servers) -> None:
    with pytest.raises(ChannelSecurityError, match=r"CN=plc.*not in the trust list"):
        asyncio.run(_read_temperature(servers.secure, _settings(pki, trust_list=pki.rogue_trust)))


def test_a_revoked_server_certificate_is_refused(pki: Pki, servers: Servers) -> None:
    with pytest.raises(ChannelSecurityError, match="BadCertificateRevoked"):
        asyncio.run(_read_temperature(servers.secure, _settings(pki, revocation_list=pki.crl)))


def test_each_session_rechecks_the_server_certificate_and_the_channel(pki: Pki, servers: Servers) -> None:
    async def main() -> None:
        client = Client(servers.secure)
        await apply(client, _settings(pki))
        rogue = await uacrypto.load_certificate(pki.rogue[0])
        server = ua.ApplicationDescription(ApplicationUri="urn:satplant:test:plc",
                                           ApplicationType=ua.ApplicationType.Server)
        with pytest.raises(ChannelSecurityError, match="not in the trust list"):
            await client.certificate_validator(rogue, server)

    asyncio.run(main())
    with pytest.raises(ChannelSecurityError, match="uses None/None, not the configured Basic256Sha256"):
        verify_channel(Client(servers.secure), _settings(pki))  # a client never secured


def test_a_none_only_endpoint_is_refused_when_security_is_configured(pki: Pki, servers: Servers) -> None:
    with pytest.raises(ChannelSecurityError, match="offers only security policy None; refusing"):
        asyncio.run(_read_temperature(servers.plain, _settings(pki)))


def test_a_policy_and_mode_the_server_does_not_offer_is_refused(pki: Pki, servers: Servers) -> None:
    with pytest.raises(ChannelSecurityError, match="does not offer Basic256Sha256/Sign; it offers"):
        asyncio.run(_read_temperature(servers.secure, _settings(pki, mode="Sign")))


def test_a_wrong_password_is_refused(pki: Pki, servers: Servers) -> None:
    with pytest.raises(ua.uaerrors.BadUserAccessDenied):
        asyncio.run(_read_temperature(servers.secure, _settings(pki, password="guess")))


def test_a_client_certificate_the_server_does_not_trust_is_refused(pki: Pki, servers: Servers) -> None:
    with pytest.raises(ua.uaerrors.BadCertificateUntrusted):
        asyncio.run(_read_temperature(servers.secure, _settings(pki, certificate=pki.rogue[0],
                                                                private_key=pki.rogue[1])))


@pytest.mark.parametrize("policy", ["Basic128Rsa15", "Basic256", "http://opcfoundation.org/UA/SecurityPolicy#Basic256"])
def test_a_deprecated_policy_is_refused_at_validation(policy: str) -> None:
    with pytest.raises(ValidationError, match=r"policy\n.*deprecated and refused"):
        SecuritySettings(policy=policy, mode="SignAndEncrypt")


@pytest.mark.parametrize(("fields", "message"), [
    (dict(mode=None), "mode is required with policy Basic256Sha256"),
    (dict(mode="Encrypt"), r"mode\n.*'Sign' or 'SignAndEncrypt'"),
    (dict(policy="Basic512"), r"policy\n.*Input should be 'None', 'Basic256Sha256'"),
    (dict(trust_list=None), "trust_list required with policy Basic256Sha256"),
    (dict(password_env="X"), "password or password_env, not both"),
    (dict(password=None), "username needs password"),
    (dict(policy="None", mode=None), "certificate, private_key, trust_list given but policy is None"),
    (dict(pasword="typo"), r"pasword\n.*Extra inputs are not permitted"),
])
def test_incomplete_or_wrong_settings_are_refused_naming_the_field(pki: Pki, fields: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _settings(pki, **fields)


def test_the_password_comes_from_the_named_environment_variable(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(pki, password=None, password_env="SATPLANT_TEST_PW")
    monkeypatch.delenv("SATPLANT_TEST_PW", raising=False)
    with pytest.raises(ValueError, match="password_env: environment variable SATPLANT_TEST_PW is not set"):
        settings.password_value()
    monkeypatch.setenv("SATPLANT_TEST_PW", "from-env")
    assert settings.password_value() == "from-env"
    assert "s3cret" not in repr(_settings(pki))  # a literal password never shows in logs


def test_relative_paths_are_taken_from_the_configuration_folder(tmp_path: Path) -> None:
    settings = SecuritySettings(policy="Aes256_Sha256_RsaPss", mode="Sign", certificate="pki/own.der",
                                private_key="pki/own.pem", trust_list="pki/trusted").resolved(tmp_path)
    assert settings.certificate == tmp_path / "pki/own.der" and settings.trust_list == tmp_path / "pki/trusted"

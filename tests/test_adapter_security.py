"""The adapter over a secure channel: SignAndEncrypt with certificates and a user token, configured per endpoint.

A real simulator server secured with line_adapters.security and the real adapter; the refusals themselves
(untrusted server, None-only endpoint, deprecated policies) are tested in test_opcua_security.
"""
from __future__ import annotations

import asyncio
import logging
import shutil

from asyncua import Server
from sqlalchemy import func, select

from line_adapters import security
from line_adapters.runner import run_adapters
from line_adapters.simulator import PlantSimulator
from mes.models import EndpointHealth, Machine, Sample
from tests import test_adapters
from tests.test_adapters import samples_of, settled

line_one = test_adapters.line_one  # the fixture: line 1's machines on free ports

BALANCER = "RWA-BAL1"


def pki(folder, plc_uri: str):  # type: ignore[no-untyped-def]
    """The PLC's and the MES's certificates, each trusted by the other side."""
    plc_cert, plc_key = security.make_certificate(folder / "plc", "plc", plc_uri)
    mes_cert, mes_key = security.make_certificate(folder / "mes", "mes", "urn:satplant:mes:adapter")
    for trusted, cert in (("mes-trusts", plc_cert), ("plc-trusts", mes_cert)):
        (folder / trusted).mkdir()
        shutil.copy(cert, folder / trusted)
    return plc_cert, plc_key, mes_cert, mes_key


def test_an_endpoint_configured_for_sign_and_encrypt_is_read_over_a_secure_channel(
        line_one, sessions, tmp_path, monkeypatch, caplog) -> None:
    config, offset = line_one
    with sessions() as session:
        endpoint = session.scalars(select(Machine.endpoint).filter_by(code=BALANCER)).one()
    plc_cert, plc_key, mes_cert, mes_key = pki(tmp_path, f"urn:satplant:plc:{BALANCER}")
    monkeypatch.setenv("MES_TEST_PLC_PASSWORD", "s3cret-for-the-plc")
    with sessions.begin() as session:  # as the loader stores `[machines.security]` of a line file
        session.scalars(select(Machine).filter_by(code=BALANCER)).one().security = {
            "policy": "Aes256_Sha256_RsaPss", "mode": "SignAndEncrypt", "certificate": str(mes_cert),
            "private_key": str(mes_key), "trust_list": str(tmp_path / "mes-trusts"), "username": "mes-adapter",
            "password_env": "MES_TEST_PLC_PASSWORD"}

    async def prepare(url: str, server: Server) -> None:
        if url == endpoint:
            await security.secure_server(server, plc_cert, plc_key, ["Aes256Sha256RsaPss_SignAndEncrypt"],
                                         tmp_path / "plc-trusts", {"mes-adapter": "s3cret-for-the-plc"})

    async def main() -> None:
        simulator = PlantSimulator(config, lines={1}, rate=2.0, seed=5, port_offset=offset, prepare=prepare)
        async with simulator:
            stop, ready = asyncio.Event(), asyncio.Event()
            adapter = asyncio.create_task(run_adapters(sessions, {1}, stop, ready, window=0.1, retention=False))
            await asyncio.wait_for(ready.wait(), 30)
            await asyncio.sleep(4)
            await settled(sessions)
            stop.set()
            await adapter

    with caplog.at_level(logging.WARNING, logger="line_adapters"):
        asyncio.run(main())
    with sessions() as session:
        assert samples_of(session, BALANCER) > 0
        health = session.get(EndpointHealth, endpoint)
        assert health is not None and health.connected and health.error is None
        assert session.scalar(select(func.count()).select_from(Sample)) > samples_of(session, BALANCER)
    assert not [r for r in caplog.records if "refus" in r.getMessage()]

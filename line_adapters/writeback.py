"""The adapter's side of write-back: do the MES's pending machine writes over the connected endpoint clients.

Every `poll_s` the task reads the pending writes for the machines its clients serve (mes.machine_writes, off the
event loop). A write whose step ended, or that a newer request replaced, fails at once. One whose machine is not
idle (its latest stored state outside mes.machine_writes.IDLE_STATES, or none yet), or whose machine cannot be
reached, waits; `wait_s` after its request it fails with that reason. Otherwise the value is written as the
configured data type (after checking the node has that type), read back and compared; the write is then marked
verified or failed, with an audit row, in one transaction.

The idle check reads the state the MES stored, a publishing interval and a batch window behind the PLC: the PLC's
own interlock must still refuse a write while it runs a cycle.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from datetime import UTC, datetime

from asyncua import ua
from sqlalchemy.orm import Session, sessionmaker

from line_adapters.client import DATA_TYPES, EndpointClient
from mes import machine_writes
from mes.machine_writes import PendingWrite

log = logging.getLogger(__name__)
POLL_S = 0.5
WAIT_S = 120.0  # how long a write waits for its machine to be idle (or reachable) before it fails
# Status codes that say the connection, not the machine, failed: the write is tried again.
TRANSIENT = frozenset({"BadTimeout", "BadCommunicationError", "BadConnectionClosed", "BadSessionClosed",
                       "BadSessionIdInvalid", "BadSecureChannelClosed", "BadServerNotConnected", "BadNotConnected",
                       "BadTooManyOperations", "BadServerHalted"})


async def write_back(sessions: sessionmaker[Session], clients: list[EndpointClient], stop: asyncio.Event,
                     poll_s: float | None = None, wait_s: float | None = None) -> None:
    """Until `stop`: do the pending writes of the machines `clients` (growing as endpoints connect) serve."""
    poll_s, wait_s = poll_s or POLL_S, wait_s or WAIT_S  # read at the call, so a test can shorten them
    db_away = False
    while not stop.is_set():
        by_machine = {code: client for client in list(clients) for code in client.plan.machines}
        try:
            if by_machine:
                for write in await asyncio.to_thread(_pending, sessions, set(by_machine)):
                    await _handle(sessions, by_machine[write.machine], write, wait_s)
            db_away = False
        except Exception:  # the database is away: the writes stay pending and the next poll tries again
            if not db_away:
                log.exception("write-back cannot reach the database; retrying")
            db_away = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), poll_s)


def _pending(sessions: sessionmaker[Session], machines: set[str]) -> list[PendingWrite]:
    with sessions() as session:
        return machine_writes.pending_writes(session, machines)


def _finish(sessions: sessionmaker[Session], write_id: int, error: str | None) -> None:
    with sessions.begin() as session:
        machine_writes.finish(session, write_id, error)


async def _handle(sessions: sessionmaker[Session], client: EndpointClient, write: PendingWrite,
                  wait_s: float) -> None:
    """Fail, wait with, or do one pending write."""
    error = write.obsolete
    if error is None:
        waiting = write.blocked
        if waiting is None:
            try:
                error = await write_and_verify(client, write)
            except Exception as exc:  # any other failure is the link's: tried again until `wait_s`
                waiting = f"{write.machine} could not be reached ({_plain(exc)})"
                log.debug("write %d: %s", write.id, waiting)
            else:
                if error is None:
                    log.info("wrote %r to %s.%s and read it back", write.value, write.machine, write.tag)
        if waiting is not None:
            if (datetime.now(UTC) - write.requested_at).total_seconds() < wait_s:
                return
            error = f"not written: {waiting} for {wait_s:g} s"
    await asyncio.to_thread(_finish, sessions, write.id, error)


async def write_and_verify(client: EndpointClient, write: PendingWrite) -> str | None:
    """Write the value, read it back and compare: None when it took, else why not in plain words.

    Raises for a failure of the connection (worth another try); a refusal by the machine is returned.
    """
    try:
        variant = to_variant(write.value, write.data_type)
    except (ValueError, KeyError, ua.UaError):
        return f"{write.value!r} is not a {write.data_type}; nothing written"
    try:
        node = client.client.get_node(await _node_id(client, write.node))
        actual = await node.read_data_type()
        if actual.NamespaceIndex == 0 and actual.Identifier != DATA_TYPES[write.data_type]:
            held = ua.ObjectIdNames.get(actual.Identifier, str(actual))
            return f"the node {write.node} holds a {held}, not a {write.data_type} as configured; nothing written"
        # No timestamps: many PLCs (the S7-1500 among them) refuse a write that carries them.
        await node.write_attribute(ua.AttributeIds.Value, ua.DataValue(variant))
        back = await node.read_value()
    except ua.UaStatusCodeError as exc:
        name = ua.StatusCode(exc.code).name
        if name in TRANSIENT:
            raise
        if name == "BadNodeIdUnknown":
            return f"{write.machine} has no node {write.node} ({name}); nothing written"
        return f"{write.machine} refused the write to {write.node}: {_plain(exc)}"
    except ValueError as exc:  # a namespace URI the server does not know
        return f"{write.machine} has no node {write.node}: {exc}"
    if not _same(back, variant.Value):
        return f"read back {back!r} after writing {variant.Value!r} to {write.node}"
    return None


def to_variant(text: str, data_type: str) -> ua.Variant:
    """The requested text as a value of the configured data type; raises if it is not one."""
    if data_type == "String":
        value: object = text
    elif data_type == "Boolean":
        value = {"true": True, "1": True, "false": False, "0": False}[text.strip().lower()]
    elif data_type in ("Float", "Double"):
        value = float(text)
    else:
        value = int(text)
    variant = ua.Variant(value, getattr(ua.VariantType, data_type))
    ua.ua_binary.variant_to_binary(variant)  # an integer out of the type's range fails here, not on the wire
    return variant


async def _node_id(client: EndpointClient, node: str) -> ua.NodeId:
    """The configured node id as the server's: a namespace named by URI becomes its index there."""
    node_id = ua.NodeId.from_string(node)
    if uri := getattr(node_id, "NamespaceUri", None):
        node_id = ua.NodeId(node_id.Identifier, await client.client.get_namespace_index(uri), node_id.NodeIdType)
    return node_id


def _same(back: object, sent: object) -> bool:
    if isinstance(sent, float) and isinstance(back, float):
        return math.isclose(back, sent, rel_tol=1e-6)  # a Float node keeps 32 bits of what was sent
    return back == sent and type(back) is type(sent)


def _plain(exc: Exception) -> str:
    return str(exc) or type(exc).__name__

"""The plant simulator: an asyncua server per machine endpoint of the configured plant, with the node maps the
adapters read, driven by the seeded behaviour models of `line_adapters.sim_machines`.

Address space. Each server holds the machines configured at its endpoint (several machines may share one),
each in a folder ``ns=<sim>;s=<CODE>`` under Objects, with variables at exactly the configured node ids and
data types. Namespace indexes ``ns=N`` exist because placeholder URIs ``urn:satplant:sim:nsK`` are registered
up to N; then ``urn:satplant:sim`` (the "sim" namespace) and every URI named by ``nsu=`` (clients resolve those
at connect). loaded_serial and recipe tags are writable, as the MES may load them.

Sequence tag. ``ns=<index of urn:satplant:sim>;s=<CODE>.Sequence`` (UInt32) counts every data change sent on
the machine's configured tags since start: the simulator's own writes and client writes that changed a value.
It does not count its own changes, nor the initial values. It is written after the tick's changes, so a
subscriber that has seen Sequence = S has been sent all S changes (a client's write is counted at the next
tick, or on `resume()` while paused). A subscriber with a deadband filter receives fewer than it counts.

Speed. Every server shares one read-only copy of the standard OPC UA address space, built once per process
(about 2 s) and copied node by node only where a server touches it, so a server starts in milliseconds and
costs about 1 MB. Values are written through the address space directly (`write_attribute_value`), one
tick's changes at a time.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import pickle
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import click

from line_adapters.sim_machines import Change, MachineModel, Value

if TYPE_CHECKING:
    from asyncua import Server, ua
    from asyncua.server.address_space import AddressSpace, NodeData

    from mes.plant_config import PlantConfig
    from mes.plant_config.schema import MachineConfig, TagConfig

# asyncua is imported inside functions: `mes` imports this module for its CLI and must start fast.
log = logging.getLogger(__name__)
SIM_NAMESPACE = "urn:satplant:sim"
WRITABLE = ("loaded_serial", "recipe")

_standard: dict[Any, Any] | None = None
_standard_lock = threading.Lock()


def _standard_nodes() -> dict[Any, Any]:
    """The standard address space, built once per process and never changed afterwards."""
    global _standard
    with _standard_lock:
        if _standard is None:
            from asyncua.server.address_space import AddressSpace, NodeManagementService
            from asyncua.server.standard_address_space import standard_address_space

            aspace = AddressSpace()
            standard_address_space.fill_address_space(NodeManagementService(aspace))
            _standard = dict(aspace._nodes)
    return _standard


_pickled: dict[Any, bytes] = {}  # standard nodes a server has touched, pickled once for every other server


class _CopyOnRead(MutableMapping):
    """A server's nodes: its own, plus the shared standard nodes, each copied the first time it is touched."""

    def __init__(self, shared: dict[Any, Any]) -> None:
        self.shared, self.own = shared, {}

    def __getitem__(self, key: Any) -> Any:
        try:
            return self.own[key]
        except KeyError:
            data = _pickled.get(key)
            if data is None:
                data = _pickled[key] = pickle.dumps(self.shared[key], pickle.HIGHEST_PROTOCOL)
            node = self.own[key] = pickle.loads(data)
            return node

    def __setitem__(self, key: Any, value: Any) -> None:
        self.own[key] = value

    def __delitem__(self, key: Any) -> None:
        del self.own[key]

    def __contains__(self, key: object) -> bool:
        return key in self.own or key in self.shared

    def __iter__(self) -> Iterator[Any]:
        return iter(self.own)

    def __len__(self) -> int:
        return len(self.own)


def endpoint_url(url: str, host_override: str | None = None, port_offset: int = 0) -> str:
    """The configured endpoint with the host replaced and the port shifted (tests run beside a demo)."""
    parts = urlsplit(url)
    host = host_override or parts.hostname or "127.0.0.1"
    port = (parts.port or 4840) + port_offset
    return urlunsplit((parts.scheme, f"[{host}]:{port}" if ":" in host else f"{host}:{port}", parts.path, "", ""))


@dataclass
class _Tag:
    config: TagConfig
    node_id: ua.NodeId
    variant: ua.VariantType


@dataclass
class SimMachine:
    """One simulated machine as served: its model, its nodes and its sequence count."""

    model: MachineModel
    endpoint: str
    tags: dict[str, _Tag] = field(default_factory=dict)
    sequence_id: ua.NodeId | None = None
    sequence: int = 0
    aspace: AddressSpace | None = None
    external: list[tuple[str, Value]] = field(default_factory=list)  # client writes not yet counted
    own: Any = None  # the DataValue the simulator is writing, which the value setter must not count

    @property
    def code(self) -> str:
        return self.model.code


class PlantSimulator:
    """Servers for the selected machines and the task that writes their changes.

    `await start()` builds and starts the servers and the writer; `await stop()` ends both. `await pause()`
    returns once no more writes will happen until `resume()`, which restarts the clock without catching up:
    values depend on the tick count only, so pausing does not change the sequence of values.
    """

    def __init__(self, config: PlantConfig, *, lines: set[int] | None = None, machines: set[str] | None = None,
                 rate: float = 1.0, seed: int = 1, host_override: str | None = None, port_offset: int = 0,
                 paused: bool = False, historize: frozenset[str] = frozenset(),
                 prepare: Callable[[str, Server], Awaitable[None]] | None = None) -> None:
        """`historize`: machine codes whose servers keep their values' history (HistoryRead), as some PLCs do.
        `prepare(url, server)`: awaited before each server starts, e.g. to secure it (line_adapters.security)."""
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate, self.seed, self.historize, self.prepare = rate, seed, historize, prepare
        self.machines = _select(config, lines, machines, rate=rate, seed=seed, host_override=host_override,
                                port_offset=port_offset)
        self.by_code = {m.code: m for m in self.machines}
        self.endpoints: dict[str, list[SimMachine]] = {}
        for machine in self.machines:
            self.endpoints.setdefault(machine.endpoint, []).append(machine)
        self.tick_s = self.machines[0].model.tick_s
        self.servers: list[Server] = []
        self.writes = self.ticks = 0
        self._task: asyncio.Task[None] | None = None
        self._paused = paused
        self._resumed = asyncio.Event()
        self._idle = asyncio.Event()
        if not paused:
            self._resumed.set()
        self._idle.set()

    async def __aenter__(self) -> PlantSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def sequence(self, code: str) -> int:
        return self.by_code[code].sequence

    async def start(self) -> None:
        started = time.perf_counter()
        shared = await asyncio.to_thread(_standard_nodes)
        try:
            for url, machines in self.endpoints.items():
                self.servers.append(await _serve(url, machines, shared, self.historize, self.prepare))
        except BaseException:
            await self._stop_servers()
            raise
        self._task = asyncio.create_task(self._run(), name="plant-simulator")
        log.info("simulating %d machine(s) on %d endpoint(s), rate %s, seed %s, started in %.2f s",
                 len(self.machines), len(self.endpoints), self.rate, self.seed, time.perf_counter() - started)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._stop_servers()

    async def _stop_servers(self) -> None:
        servers, self.servers = self.servers, []
        await asyncio.gather(*(server.stop() for server in servers))  # each waits up to 1 s for its clock task

    async def pause(self) -> None:
        self._paused = True
        self._resumed.clear()
        await self._idle.wait()

    def resume(self) -> None:
        self._paused = False
        self._resumed.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        warned = 0.0
        while True:
            if self._paused:
                await self._resumed.wait()
                due = loop.time()
                continue
            await asyncio.sleep(max(0.0, due - loop.time()))  # always yields: clients are served between ticks
            if self._paused:
                continue
            self._idle.clear()
            try:
                await self._tick()
            finally:
                self._idle.set()
            due += self.tick_s
            behind = loop.time() - due
            if behind > 1.0:
                if loop.time() - warned > 10:
                    log.warning("simulator %.1f s behind its clock at rate %s: lower the rate", behind, self.rate)
                    warned = loop.time()
                due = loop.time()

    async def _tick(self) -> None:
        from asyncua import ua

        self.ticks += 1
        now = datetime.now(UTC)
        good = ua.StatusCode(ua.StatusCodes.Good)
        for m in self.machines:
            counted = len(m.external)
            for name, value in m.external:
                m.model.adopt(name, value)
            m.external.clear()
            changes = m.model.tick()
            if changes:
                await _write(m, changes, now)
                self.writes += len(changes)
            if changes or counted:
                m.sequence += len(changes) + counted
                dv = _sent_value()(ua.Variant(m.sequence, ua.VariantType.UInt32), StatusCode=good,
                                   SourceTimestamp=now, ServerTimestamp=now)
                assert m.aspace is not None and m.sequence_id is not None
                await m.aspace.write_attribute_value(m.sequence_id, ua.AttributeIds.Value, dv)


@functools.cache
def _sent_value() -> type[ua.DataValue]:
    from asyncua import ua

    class SentValue(ua.DataValue):
        """A DataValue nobody changes once sent: asyncua deep-copies a value for every monitored item, this one
        is shared instead (the copies were half the cost of a write with a subscriber)."""

        __slots__ = ()

        def __deepcopy__(self, memo: dict[int, Any]) -> SentValue:
            return self

    return SentValue


async def _write(m: SimMachine, changes: list[Change], now: datetime) -> None:
    from asyncua import ua

    good, bad = ua.StatusCode(ua.StatusCodes.Good), ua.StatusCode(ua.StatusCodes.BadSensorFailure)
    sent = _sent_value()
    assert m.aspace is not None
    for change in changes:
        tag = m.tags[change.tag]
        value = ua.Variant(None) if change.bad else ua.Variant(change.value, tag.variant)
        dv = m.own = sent(value, StatusCode=bad if change.bad else good, SourceTimestamp=now, ServerTimestamp=now)
        status = await m.aspace.write_attribute_value(tag.node_id, ua.AttributeIds.Value, dv)
        if not status.is_good():
            log.error("%s: writing %s to %s refused: %s", m.code, change.value, tag.config.node, status.name)
    m.own = None


def _select(config: PlantConfig, lines: set[int] | None, codes: set[str] | None, *, rate: float, seed: int,
            host_override: str | None, port_offset: int) -> list[SimMachine]:
    known_lines = {line.config.line.number for line in config.lines}
    if lines and (unknown := sorted(set(lines) - known_lines)):
        raise ValueError(f"no line(s) {', '.join(map(str, unknown))} in the configuration")
    selected: list[SimMachine] = []
    for line in config.lines:
        if lines and line.config.line.number not in lines:
            continue
        for machine in line.config.machines:
            if codes and machine.code not in codes:
                continue
            model = MachineModel(machine, seed=seed, rate=rate, serial_prefix=line.config.unit_type.serial_prefix,
                                 serial_format=config.plant.plant.serial_format, line_code=line.config.line.code)
            selected.append(SimMachine(model, endpoint_url(machine.endpoint, host_override, port_offset)))
    if codes and (unknown := sorted(set(codes) - {m.code for m in selected})):
        raise ValueError(f"no machine(s) {', '.join(unknown)} in the selected line(s)")
    if not selected:
        raise ValueError("no machines to simulate")
    return selected


def _split_node(node: str) -> tuple[str | None, str]:
    """`nsu=URI;s=X` -> (URI, "s=X"); any other form -> (None, node)."""
    if node.startswith("nsu="):
        uri, _, rest = node[4:].partition(";")
        return uri, rest
    return None, node


async def _serve(url: str, machines: list[SimMachine], shared: dict[Any, Any],
                 historize: frozenset[str] = frozenset(),
                 prepare: Callable[[str, Server], Awaitable[None]] | None = None) -> Server:
    """Build and start the server for one endpoint."""
    from asyncua import Server, ua

    server = Server()
    if hasattr(server.iserver, "load_standard_address_space") and hasattr(server.iserver.aspace, "_nodes"):
        async def use_shared(shelf_file: Path | None = None) -> None:
            server.iserver.aspace._nodes = _CopyOnRead(shared)

        server.iserver.load_standard_address_space = use_shared  # type: ignore[method-assign]
    await server.init()
    parts = urlsplit(url)
    server.set_endpoint(url)
    server.set_server_name(f"Satplant simulator ({', '.join(m.code for m in machines)})")
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    server.set_identity_tokens([ua.AnonymousIdentityToken])
    await server.set_application_uri(f"urn:satplant:sim:{parts.hostname}:{parts.port}")

    numeric = [ua.NodeId.from_string(t.node).NamespaceIndex for m in machines for t in m.model.machine.tags
               if not t.node.startswith("nsu=")]
    while len(await server.get_namespace_array()) <= max(numeric, default=1):
        await server.register_namespace(f"urn:satplant:sim:ns{len(await server.get_namespace_array())}")
    sim = await server.register_namespace(SIM_NAMESPACE)
    seen: dict[ua.NodeId, str] = {}
    for m in machines:
        m.aspace = server.iserver.aspace
        # A restarted server shows where the machine is, not its first values again.
        initial = m.model.current() if m.model.sent else {c.tag: c.value for c in m.model.initial()}
        config: MachineConfig = m.model.machine
        folder = await server.nodes.objects.add_folder(ua.NodeId(m.code, sim), ua.QualifiedName(m.code, sim))
        for tag in config.tags:
            uri, rest = _split_node(tag.node)
            if uri is not None:
                rest = f"ns={await server.register_namespace(uri)};{rest}"
            node_id = ua.NodeId.from_string(rest)
            if node_id in seen:
                raise ValueError(f"{url}: node {tag.node} is mapped by both {seen[node_id]} and {m.code}")
            seen[node_id] = m.code
            variant = getattr(ua.VariantType, tag.data_type)
            var = await folder.add_variable(node_id, ua.QualifiedName(tag.name, node_id.NamespaceIndex),
                                            ua.Variant(initial[tag.name], variant), datatype=ua.NodeId(variant.value))
            m.tags[tag.name] = _Tag(tag, node_id, variant)
            if m.code in historize:
                await server.historize_node_data_change(var, period=timedelta(hours=1))
            if tag.meaning in WRITABLE:
                await var.set_writable()
                server.set_attribute_value_setter(node_id, _client_write_counter(m, tag.name))
        m.sequence_id = ua.NodeId(f"{m.code}.Sequence", sim)
        await folder.add_variable(m.sequence_id, ua.QualifiedName("Sequence", sim),
                                  ua.Variant(0, ua.VariantType.UInt32), datatype=ua.NodeId(ua.VariantType.UInt32.value))
    if prepare is not None:
        await prepare(url, server)
    try:
        await server.start()
    except OSError as exc:  # asyncua has logged it and stopped its internal server
        raise OSError(exc.errno, f"cannot serve {url}: {exc.strerror or exc}") from exc
    for m in machines:
        log.info("serving %s (%s) at %s: %d tags, sequence %s", m.code, m.model.machine.kind, url, len(m.tags),
                 m.sequence_id.to_string() if m.sequence_id else "-")
    return server


def _client_write_counter(m: SimMachine, tag_name: str) -> Any:
    """A value setter that stores every write and notes the clients' ones that change the value."""

    def setter(node: NodeData, attr: Any, value: Any) -> None:
        attval = node.attributes[attr]
        old = attval.value
        attval.value, attval.value_callback = value, None
        if value is not m.own and (old is None or old.StatusCode != value.StatusCode or old.Value != value.Value):
            m.external.append((tag_name, value.Value.Value if value.Value is not None else None))

    return setter


async def run_simulator(config: PlantConfig, *, lines: set[int] | None = None, machines: set[str] | None = None,
                        rate: float = 1.0, seed: int = 1, host_override: str | None = None, port_offset: int = 0,
                        stop: asyncio.Event | None = None, ready: asyncio.Event | None = None) -> None:
    """Serve the selected machines until `stop` is set (forever without one); `ready` is set once they listen."""
    simulator = PlantSimulator(config, lines=lines, machines=machines, rate=rate, seed=seed,
                               host_override=host_override, port_offset=port_offset)
    async with simulator:
        if ready is not None:
            ready.set()
        await (stop or asyncio.Event()).wait()


@click.command("simulate")
@click.option("--config", "config_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Configuration folder (default MES_CONFIG_DIR or ./config).")
@click.option("--line", "lines", type=int, multiple=True, help="Line number to simulate (repeatable; default all).")
@click.option("--machine", "machines", multiple=True, help="Machine code to simulate (repeatable; default all).")
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Speed and load: cycles run 60×RATE faster than ideal, process values change RATE times a second.")
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed and rate, same values.")
@click.option("--host", "host_override", help="Listen on this host instead of the configured one.")
@click.option("--port-offset", type=int, default=0, show_default=True, help="Add this to every configured port.")
@click.pass_context
def simulate(ctx: click.Context, config_dir: Path | None, lines: tuple[int, ...], machines: tuple[str, ...],
             rate: float, seed: int, host_override: str | None, port_offset: int) -> None:
    """Serve the configured machines over OPC UA with simulated behaviour until Ctrl-C."""
    from mes.plant_config import PlantConfigError, load_plant_config

    if config_dir is None:
        from mes.settings import load_settings

        config_dir = (ctx.obj or load_settings()).config_dir
    try:
        config = load_plant_config(config_dir)
    except PlantConfigError as exc:
        raise click.ClickException(str(exc)) from None
    logging.getLogger("asyncua").setLevel(max(logging.WARNING, logging.getLogger().getEffectiveLevel()))

    async def main() -> None:
        stop, ready = asyncio.Event(), asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        task = asyncio.create_task(run_simulator(
            config, lines=set(lines) or None, machines=set(machines) or None, rate=rate, seed=seed,
            host_override=host_override, port_offset=port_offset, stop=stop, ready=ready))
        ready_wait = asyncio.create_task(ready.wait())
        await asyncio.wait([task, ready_wait], return_when=asyncio.FIRST_COMPLETED)
        if ready.is_set():
            click.echo(f"simulating at rate {rate}, seed {seed}; Ctrl-C stops")
        ready_wait.cancel()
        await task

    try:
        asyncio.run(main())
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from None

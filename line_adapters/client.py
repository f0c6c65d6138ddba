"""One asyncua client per endpoint: secure the channel, resolve the node map, subscribe, notice gaps.

Publish responses are turned into Readings by line_adapters.subscription; this client connects (with
the configured security, never falling back to None), checks every node, subscribes, measures the
server's clock, and declares a gap where values may be missing, after reading back what the server's
history kept. Database work is the writer's, on another thread.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from asyncua import Client, ua

from line_adapters import security
from line_adapters.plan import EndpointPlan, TagPlan
from line_adapters.subscription import BatchSubscription, aware, to_reading
from mes.telemetry import Reading

log = logging.getLogger(__name__)

# The OPC UA built-in DataType node of each configured data type, to check a node before trusting it.
DATA_TYPES = {name: getattr(ua.ObjectIds, name) for name in (
    "Boolean", "SByte", "Byte", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64", "Float", "Double", "String")}
CREATE_CHUNK = 500  # monitored items per CreateMonitoredItems request
WATCHDOG_S = 10.0
RECONNECT_CAP_S = 30.0  # the longest wait between reconnect attempts (asyncua doubles it from 1 s)
CLOCK_EVERY_S = 30.0  # how often the endpoint's clock is compared with ours


@dataclass(frozen=True)
class Granted:
    """What the server granted for a tag, against what was asked."""

    tag: TagPlan
    sampling_ms: float
    queue_size: int


class EndpointClient:
    """Connects to one endpoint, checks the node map against the server, and subscribes to what is valid."""

    def __init__(self, plan: EndpointPlan, on_values: Callable[[list[Reading]], None], timeout: float = 4.0,
                 on_gap: Callable[[EndpointPlan, datetime | None, datetime, int], None] | None = None) -> None:
        """`on_gap(plan, last value before (None: the first values of this run), first value after, backfilled)`."""
        self.plan = plan
        self.on_values = on_values
        self.on_gap = on_gap
        # asyncua probes the server every watchdog interval and waits as long for the answer; its 1 s default
        # marks a busy PLC as gone, and without auto-reconnect that endpoint would then stay silent for good.
        self.client = Client(plan.endpoint, timeout=timeout, watchdog_intervall=WATCHDOG_S)
        self.client.session_timeout = 600_000  # ms; what servers commonly grant, so none has to cut it down
        self.subscriptions: list[BatchSubscription] = []
        self.refused: dict[str, str] = {}  # tag label -> why it is not subscribed
        self.granted: list[Granted] = []
        self.last_value_at: datetime | None = None  # when the last notification with values arrived (our clock)
        self.clock_offset_s: float | None = None  # the server's clock minus ours
        self._gap_from: datetime | None = None
        self._lost_at: datetime | None = None  # the connection dropped after the value received then
        self._historized: list[tuple[TagPlan, ua.NodeId]] = []  # nodes whose history the server keeps
        self._clock_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # The longest cut the servers' queues ride through: the configured queue of the busiest tag.
        self.queue_window_s = min((t.queue_size * max(t.sampling_ms, 1) / 1000 for t in plan.tags), default=0.0)
        self.client.connection_lost_callback = self._connection_lost

    async def connect(self) -> None:
        if self.plan.security is not None and self.plan.security.policy != "None":
            await security.apply(self.client, self.plan.security)  # refuses rather than fall back to None
        # auto_reconnect re-creates self.client._subscriptions after a cut, backing off up to the cap
        await self.client.connect(auto_reconnect=True, reconnect_max_delay=RECONNECT_CAP_S)
        nodes = await self._resolve()
        await self._check(nodes)
        await self._subscribe(nodes)
        self._clock_task = asyncio.create_task(self._watch_clock())

    @property
    def connected(self) -> bool:
        return self.client.uaclient.state.value == "connected"

    async def _connection_lost(self, exc: Exception) -> None:
        if self._lost_at is None:
            self._lost_at = self.last_value_at or datetime.now(UTC)
            log.warning("%s: connection lost (%s); reconnecting", self.plan.endpoint, exc)

    def lost_values(self) -> None:
        """Values were lost (a subscription had to be re-created): a gap opens at the last value received."""
        if self._gap_from is None:
            self._gap_from = self._lost_at or self.last_value_at or datetime.now(UTC)

    def receiving(self, now: datetime, overflow: bool = False) -> None:
        """Values arrive (our clock: re-sent values keep their old times). A gap closes here: after a
        re-created subscription, a cut longer than the queues hold, or a queue the server says overflowed."""
        before, self.last_value_at = self.last_value_at, now
        if before is None and self.on_gap is not None:
            self.on_gap(self.plan, None, now, 0)
        if self._lost_at is not None:
            lost, self._lost_at = self._lost_at, None
            if overflow or (now - lost).total_seconds() > self.queue_window_s:
                self._gap_from = self._gap_from or lost
        elif overflow and before is not None:
            self._gap_from = self._gap_from or before
        if self._gap_from is not None:
            started, self._gap_from = self._gap_from, None
            task = asyncio.get_running_loop().create_task(self._declare(started, now))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _declare(self, started: datetime, ended: datetime) -> None:
        """Read back what the server's history kept of the gap, then declare it."""
        # From a publishing interval and a queue's worth earlier: values queued on the server but not yet
        # sent when the link broke are older than the last one received. Those stored are skipped.
        lead = timedelta(seconds=max(self.plan.groups, default=0) / 1000 + self.queue_window_s + 1)
        backfilled = await self._backfill(started - lead, ended)
        log.warning("%s: values may be missing from %s to %s: a gap (%d read back from history)",
                    self.plan.endpoint, started, ended, backfilled)
        if self.on_gap is not None:
            self.on_gap(self.plan, started, ended, backfilled)

    async def _backfill(self, started: datetime, ended: datetime) -> int:
        now, readings = datetime.now(UTC), []
        for tag, node_id in self._historized:
            try:
                values = await self.client.get_node(node_id).read_raw_history(started, ended)
            except Exception as exc:  # history is a bonus; the gap is declared whatever it gives
                log.warning("%s: history of %s unreadable: %s", self.plan.endpoint, tag.label, exc)
                continue
            readings.extend(to_reading(tag, dv, now, backfilled=True) for dv in values)
        if readings:
            self.on_values(readings)
        return len(readings)

    async def _watch_clock(self) -> None:
        """Compare the server's clock with ours now and then; alarm past the configured bound."""
        node = self.client.get_node(ua.NodeId(ua.ObjectIds.Server_ServerStatus_CurrentTime))
        while True:
            with contextlib.suppress(Exception):  # a missed reading is retried at the next interval
                before = datetime.now(UTC)
                theirs = aware(await node.read_value())
                after = datetime.now(UTC)
                if theirs is not None:
                    self.clock_offset_s = (theirs - (before + (after - before) / 2)).total_seconds()
                    if abs(self.clock_offset_s) > self.plan.clock_alarm_s:
                        log.warning("%s: its clock is %.1f s off ours (bound %.1f s)", self.plan.endpoint,
                                    self.clock_offset_s, self.plan.clock_alarm_s)
            await asyncio.sleep(CLOCK_EVERY_S)

    async def disconnect(self) -> None:
        for task in [self._clock_task, *self._tasks]:
            if task is not None:
                task.cancel()
        try:
            await self.client.disconnect()
        except Exception:  # a dead connection cannot be closed politely; nothing is lost by that
            log.debug("disconnect from %s failed", self.plan.endpoint, exc_info=True)

    async def _resolve(self) -> dict[int, ua.NodeId]:
        """Configured node ids as the server's NodeIds: a namespace given by URI becomes its index here."""
        indexes: dict[str, int] = {}
        resolved = {}
        for tag in self.plan.tags:
            try:
                node_id = ua.NodeId.from_string(tag.node)
            except (ValueError, ua.UaError) as exc:
                self._refuse(tag, f"not a node id: {exc}")
                continue
            uri = getattr(node_id, "NamespaceUri", None)
            if uri:
                if uri not in indexes:
                    try:
                        indexes[uri] = await self.client.get_namespace_index(uri)
                    except ValueError:
                        indexes[uri] = -1
                if indexes[uri] < 0:
                    self._refuse(tag, f"namespace {uri} is not on the server")
                    continue
                node_id = ua.NodeId(node_id.Identifier, indexes[uri], node_id.NodeIdType)
            resolved[tag.tag_id] = node_id
        return resolved

    async def _check(self, nodes: dict[int, ua.NodeId]) -> None:
        """Drop, by name, nodes the server does not have or whose data type is not the configured one;
        note the ones whose history the server keeps (to read back a gap)."""
        tags = {t.tag_id: t for t in self.plan.tags}
        ids = list(nodes)
        params = ua.ReadParameters()
        for tag_id in ids:
            for attribute in (ua.AttributeIds.DataType, ua.AttributeIds.Historizing):
                rv = ua.ReadValueId()
                rv.NodeId, rv.AttributeId = nodes[tag_id], attribute
                params.NodesToRead.append(rv)
        answers = await self.client.uaclient.read(params) if ids else []
        for tag_id, result, historizing in zip(ids, answers[::2], answers[1::2], strict=True):
            tag = tags[tag_id]
            if not result.StatusCode.is_good():
                self._refuse(tag, f"the server has no such node ({result.StatusCode.name})")
                del nodes[tag_id]
                continue
            actual = result.Value.Value
            expected = DATA_TYPES[tag.data_type]
            if isinstance(actual, ua.NodeId) and actual.NamespaceIndex == 0 and actual.Identifier != expected:
                self._refuse(tag, f"its data type is {ua.ObjectIdNames.get(actual.Identifier, actual)}, "
                                  f"not {tag.data_type}")
                del nodes[tag_id]
            elif historizing.StatusCode.is_good() and historizing.Value.Value is True:
                self._historized.append((tag, nodes[tag_id]))

    def _refuse(self, tag: TagPlan, why: str) -> None:
        self.refused[tag.label] = why
        log.error("%s: %s %s; the other tags keep flowing", self.plan.endpoint, tag.label, why)

    async def _subscribe(self, nodes: dict[int, ua.NodeId]) -> None:
        handle = 0
        for publishing_ms, group in self.plan.groups.items():
            tags = [t for t in group if t.tag_id in nodes]
            if not tags:
                continue
            params = ua.CreateSubscriptionParameters()
            params.RequestedPublishingInterval = publishing_ms
            params.RequestedLifetimeCount = 10000
            params.RequestedMaxKeepAliveCount = self.client.get_keepalive_count(publishing_ms)
            params.MaxNotificationsPerPublish = 0  # no limit: a busy second arrives in one response
            params.PublishingEnabled = True
            by_handle: dict[int, TagPlan] = {}
            subscription = BatchSubscription(self.client.uaclient.session, params, self.on_values, by_handle, self)
            result = await subscription.init()
            log.info("%s: subscription %s publishes every %.0f ms (asked %d)", self.plan.endpoint,
                     subscription.subscription_id, result.RevisedPublishingInterval, publishing_ms)
            self.client._subscriptions.append(subscription)  # so asyncua restores it on reconnect
            self.subscriptions.append(subscription)
            requests = []
            for tag in tags:
                handle += 1
                by_handle[handle] = tag
                requests.append(_request(nodes[tag.tag_id], handle, tag))
            for start in range(0, len(requests), CREATE_CHUNK):
                chunk = requests[start:start + CREATE_CHUNK]
                for request, answer in zip(chunk, await subscription.create_items(chunk), strict=True):
                    tag = by_handle[request.RequestedParameters.ClientHandle]
                    if not answer.StatusCode.is_good():
                        self._refuse(tag, f"cannot be monitored ({answer.StatusCode.name})")
                        continue
                    self.granted.append(Granted(tag, answer.RevisedSamplingInterval, answer.RevisedQueueSize))
        self._log_grants()

    def _log_grants(self) -> None:
        """One line per endpoint: how many tags got less than asked (each one at INFO)."""
        short = [g for g in self.granted if g.queue_size < g.tag.queue_size or g.sampling_ms > g.tag.sampling_ms]
        for g in short:
            log.info("%s: %s granted sampling %.0f ms, queue %d (asked %d ms, %d)", self.plan.endpoint, g.tag.label,
                     g.sampling_ms, g.queue_size, g.tag.sampling_ms, g.tag.queue_size)
        if short:
            log.warning("%s: %d of %d tags granted slower sampling or a shorter queue than configured (e.g. %s: "
                        "%.0f ms, queue %d); -v lists them", self.plan.endpoint, len(short), len(self.granted),
                        short[0].tag.label, short[0].sampling_ms, short[0].queue_size)
        log.info("%s: %d tags subscribed, %d refused", self.plan.endpoint, len(self.granted), len(self.refused))


def _request(node_id: ua.NodeId, handle: int, tag: TagPlan) -> ua.MonitoredItemCreateRequest:
    item = ua.ReadValueId()
    item.NodeId, item.AttributeId = node_id, ua.AttributeIds.Value
    parameters = ua.MonitoringParameters()
    parameters.ClientHandle = handle
    parameters.SamplingInterval = tag.sampling_ms
    parameters.QueueSize = tag.queue_size
    parameters.DiscardOldest = True
    if tag.deadband:
        deadband = ua.DataChangeFilter()
        deadband.Trigger = ua.DataChangeTrigger.StatusValue
        deadband.DeadbandType = ua.DeadbandType.Absolute
        deadband.DeadbandValue = tag.deadband / tag.scale if tag.scale else tag.deadband  # in PLC units
        parameters.Filter = deadband
    request = ua.MonitoredItemCreateRequest()
    request.ItemToMonitor = item
    request.MonitoringMode = ua.MonitoringMode.Reporting
    request.RequestedParameters = parameters
    return request

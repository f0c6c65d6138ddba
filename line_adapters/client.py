"""One asyncua client per endpoint: resolve the node map, subscribe, turn publish responses into Readings.

A whole publish response is handled at once (no task per value, no bounded iterator queue that drops
the oldest): each notification becomes a `Reading` appended to the sink, and nothing else happens in
the callback. Database work is the runner's, on another thread.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asyncua import Client, ua
from asyncua.common.node import Node
from asyncua.common.subscription import Subscription, SubscriptionItemData

from line_adapters.plan import EndpointPlan, TagPlan
from mes.telemetry import Reading

log = logging.getLogger(__name__)

# The OPC UA built-in DataType node of each configured data type, to check a node before trusting it.
DATA_TYPES = {name: getattr(ua.ObjectIds, name) for name in (
    "Boolean", "SByte", "Byte", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64", "Float", "Double", "String")}
CREATE_CHUNK = 500  # monitored items per CreateMonitoredItems request
WATCHDOG_S = 10.0


@dataclass(frozen=True)
class Granted:
    """What the server granted for a tag, against what was asked."""

    tag: TagPlan
    sampling_ms: float
    queue_size: int


def _aware(t: datetime | None) -> datetime | None:
    if t is None:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


class BatchSubscription(Subscription):
    """A subscription that hands every publish response to one callback, whole."""

    def __init__(self, session: Any, params: ua.CreateSubscriptionParameters,
                 on_values: Callable[[list[Reading]], None], tags: dict[int, TagPlan]) -> None:
        super().__init__(session, params, handler=_NoHandler())
        self._on_values = on_values
        self._tags = tags  # client handle -> tag

    async def publish_callback(self, publish_result: ua.PublishResult) -> None:
        self.last_publish_at = _monotonic()
        data = publish_result.NotificationMessage.NotificationData
        if not data:
            return
        self.last_sequence_number = int(publish_result.NotificationMessage.SequenceNumber)
        now = datetime.now(UTC)
        readings = []
        for notification in data:
            if not isinstance(notification, ua.DataChangeNotification):
                if isinstance(notification, ua.StatusChangeNotification):
                    log.warning("subscription %s status changed: %s", self.subscription_id, notification.Status)
                continue
            for item in notification.MonitoredItems:
                tag = self._tags.get(item.ClientHandle)
                if tag is not None:
                    readings.append(to_reading(tag, item.Value, now, self._replaying))
        if readings:
            self._on_values(readings)

    async def create_items(self, requests: list[ua.MonitoredItemCreateRequest]) -> list[ua.MonitoredItemCreateResult]:
        """Create monitored items and return the server's full answers (granted intervals and queue sizes)."""
        params = ua.CreateMonitoredItemsParameters()
        params.SubscriptionId = self.subscription_id
        params.ItemsToCreate = requests
        params.TimestampsToReturn = ua.TimestampsToReturn.Both
        for request in requests:  # registered first: a notification may arrive before the answer
            item = SubscriptionItemData()
            item.client_handle = request.RequestedParameters.ClientHandle
            item.node = Node(self.server, request.ItemToMonitor.NodeId)
            item.attribute = request.ItemToMonitor.AttributeId
            item.mfilter = request.RequestedParameters.Filter
            item.queuesize = request.RequestedParameters.QueueSize
            item.monitoring_mode = request.MonitoringMode
            item.sampling_interval = request.RequestedParameters.SamplingInterval
            self._monitored_items[item.client_handle] = item
        results = await self.server.create_monitored_items(params)
        for request, result in zip(requests, results, strict=True):
            handle = request.RequestedParameters.ClientHandle
            if result.StatusCode.is_good():
                self._monitored_items[handle].server_handle = result.MonitoredItemId
            else:
                del self._monitored_items[handle]
        return list(results)


class _NoHandler:
    """Keeps the base class in callback mode; our publish_callback never dispatches to it."""


def _monotonic() -> float:
    return time.monotonic()


def to_reading(tag: TagPlan, dv: ua.DataValue, now: datetime, backfilled: bool = False) -> Reading:
    """A DataValue as a Reading: engineering value or text, status code, source time (else server time)."""
    status = dv.StatusCode.value if dv.StatusCode is not None else 0
    at = _aware(dv.SourceTimestamp) or _aware(dv.ServerTimestamp) or now
    raw = dv.Value.Value if dv.Value is not None else None
    value: float | None = None
    text: str | None = None
    if isinstance(raw, str):
        text = raw[:200]
    elif isinstance(raw, bool):
        value = 1.0 if raw else 0.0
    elif isinstance(raw, int | float):
        value = float(raw) * tag.scale + tag.offset
    return Reading(tag.tag_id, at, value, text, status, now, backfilled)


class EndpointClient:
    """Connects to one endpoint, checks the node map against the server, and subscribes to what is valid."""

    def __init__(self, plan: EndpointPlan, on_values: Callable[[list[Reading]], None], timeout: float = 4.0) -> None:
        self.plan = plan
        self.on_values = on_values
        # asyncua probes the server every watchdog interval and waits as long for the answer; its 1 s default
        # marks a busy PLC as gone, and without auto-reconnect that endpoint would then stay silent for good.
        self.client = Client(plan.endpoint, timeout=timeout, watchdog_intervall=WATCHDOG_S)
        self.client.session_timeout = 600_000  # ms; what servers commonly grant, so none has to cut it down
        self.subscriptions: list[BatchSubscription] = []
        self.refused: dict[str, str] = {}  # tag label -> why it is not subscribed
        self.granted: list[Granted] = []

    async def connect(self) -> None:
        await self.client.connect(auto_reconnect=True)  # re-creates self.client._subscriptions after a cut
        nodes = await self._resolve()
        await self._check(nodes)
        await self._subscribe(nodes)

    async def disconnect(self) -> None:
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
        """Drop, by name, nodes the server does not have or whose data type is not the configured one."""
        tags = {t.tag_id: t for t in self.plan.tags}
        ids = list(nodes)
        params = ua.ReadParameters()
        for tag_id in ids:
            rv = ua.ReadValueId()
            rv.NodeId, rv.AttributeId = nodes[tag_id], ua.AttributeIds.DataType
            params.NodesToRead.append(rv)
        results = await self.client.uaclient.read(params) if ids else []
        for tag_id, result in zip(ids, results, strict=True):
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
            subscription = BatchSubscription(self.client.uaclient.session, params, self.on_values, by_handle)
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

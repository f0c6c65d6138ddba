"""A subscription that hands every publish response to one callback, whole, as Readings.

No task per value and no bounded iterator queue that drops the oldest (asyncua's defaults): each
notification becomes a `Reading`, and nothing else happens in the callback.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from asyncua import ua
from asyncua.common.node import Node
from asyncua.common.subscription import Subscription, SubscriptionItemData

from line_adapters.plan import TagPlan
from mes.telemetry import Reading

if TYPE_CHECKING:
    from line_adapters.client import EndpointClient

log = logging.getLogger(__name__)
OVERFLOW = 0x480  # StatusCode info bits: the item's queue overflowed and dropped values before this one


def aware(t: datetime | None) -> datetime | None:
    if t is None:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


class BatchSubscription(Subscription):
    """A subscription that hands every publish response to one callback, whole."""

    def __init__(self, session: Any, params: ua.CreateSubscriptionParameters,
                 on_values: Callable[[list[Reading]], None], tags: dict[int, TagPlan],
                 link: EndpointClient | None = None) -> None:
        super().__init__(session, params, handler=_NoHandler())
        self._on_values = on_values
        self._tags = tags  # client handle -> tag
        self._link = link

    async def recreate(self) -> None:
        """The server lost the subscription (restart, or a cut past its queue): what it held is gone, a gap."""
        if self._link is not None:
            self._link.lost_values()
        await super().recreate()

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
                    readings.append(to_reading(tag, item.Value, now))  # republished ones too: not history
        if self._link is not None:
            self._link.receiving(now, any(r.status & OVERFLOW == OVERFLOW for r in readings))
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
    at = aware(dv.SourceTimestamp) or aware(dv.ServerTimestamp) or now
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

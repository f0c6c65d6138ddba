"""What an adapter subscribes to, read from the loaded plant: endpoints, machines, tags and their settings."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mes.models import Line, Machine
from mes.plant_config.security import SecuritySettings

DEFAULT_SAMPLING_MS = 250
DEFAULT_PUBLISHING_MS = 1000
DEFAULT_QUEUE_SIZE = 10


@dataclass(frozen=True)
class TagPlan:
    tag_id: int
    machine: str
    name: str
    node: str  # as configured: ns=2;i=1042, ns=3;s="DB"."Tag", nsu=urn:...;s=Tag
    data_type: str
    scale: float
    offset: float
    sampling_ms: int
    queue_size: int
    deadband: float | None

    @property
    def label(self) -> str:
        return f"{self.machine}.{self.name} ({self.node})"


@dataclass(frozen=True)
class EndpointPlan:
    """One OPC UA server and every configured tag read from it, grouped by publishing interval."""

    endpoint: str
    machines: tuple[str, ...]
    groups: dict[int, tuple[TagPlan, ...]]  # publishing interval (ms) -> tags
    machine_ids: dict[str, int] = field(default_factory=dict)  # code -> id
    security: SecuritySettings | None = None  # paths resolved against the configuration folder
    clock_alarm_s: float = 2.0

    @property
    def tags(self) -> list[TagPlan]:
        return [t for group in self.groups.values() for t in group]


def endpoint_plans(session: Session, lines: set[int] | None = None,
                   config_dir: Path | None = None) -> list[EndpointPlan]:
    """Every endpoint of the active machines (of the chosen line numbers), with their tags.

    Relative certificate paths in an endpoint's security settings are taken from `config_dir`."""
    query = (select(Machine).join(Line).where(Machine.active.is_(True), Line.active.is_(True))
             .options(selectinload(Machine.tags)).order_by(Machine.endpoint, Machine.code))
    if lines:
        query = query.where(Line.number.in_(lines))
    by_endpoint: dict[str, list[Machine]] = defaultdict(list)
    for machine in session.scalars(query):
        by_endpoint[machine.endpoint].append(machine)
    plans = []
    for endpoint, machines in by_endpoint.items():
        groups: dict[int, list[TagPlan]] = defaultdict(list)
        for m in machines:
            sub = m.subscription or {}
            for t in m.tags:
                if not t.active:
                    continue
                own = {**sub, **(t.subscription or {})}  # a tag's own settings override its machine's
                deadband = own.get("deadband")
                groups[int(own.get("publishing_ms") or DEFAULT_PUBLISHING_MS)].append(TagPlan(
                    tag_id=t.id, machine=m.code, name=t.name, node=t.node_id, data_type=t.data_type,
                    scale=float(t.scale), offset=float(t.offset),
                    sampling_ms=int(own["sampling_ms"]) if own.get("sampling_ms") is not None else DEFAULT_SAMPLING_MS,
                    queue_size=int(own.get("queue_size") or DEFAULT_QUEUE_SIZE),
                    deadband=float(deadband) if deadband is not None else None))
        secured = next((m.security for m in machines if m.security), None)
        security = SecuritySettings.model_validate(secured) if secured else None
        if security is not None and config_dir is not None:
            security = security.resolved(config_dir)
        plans.append(EndpointPlan(endpoint, tuple(m.code for m in machines),
                                  {ms: tuple(tags) for ms, tags in sorted(groups.items())},
                                  {m.code: m.id for m in machines}, security,
                                  min(m.clock_alarm_s for m in machines)))
    return plans

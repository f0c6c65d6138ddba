"""Purchased material in the demo history: deliveries, receiving inspection, kitting and consumption.

Goods-in books deliveries on working-day mornings (the supervisor, who holds `material.receive`): for each
part whose stock (released plus still in quarantine) has fallen below about two weeks of the plant's
demand, the part's usual supplier (now and then its second source) delivers a lot, or a batch of serials,
covering a few weeks, with its certificate of conformity (CoC); cells, potting compound and gap pads carry an
expiry date. The quality engineer on duty inspects each delivery within a day and releases it, signed with
their PIN; about one delivery in thirty (one serial of a batch, or a whole lot) is rejected at receiving
inspection. Every few weeks a released, untouched lot turns out nonconforming (a supplier notification, a
sample re-test): quality raises an NCR on it and returns it to the supplier.

The simulation keeps its own book of released stock (`Stores`): a consuming step starts only when its kit
can be picked (lots drawn down first in, first out; serials one each), and the picks are scanned into the
unit a few minutes after the step starts (`mes.demo_floor`). A unit sent back to a step by rework already
holds that step's components, so it is not kitted again.
"""
from __future__ import annotations

import bisect
import itertools
import logging
import math
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from mes import consumption, materials, quality
from mes.demo_people import SUPERVISOR, minutes
from mes.demo_plan import BomLine, PlantPlan, StepPlan

if TYPE_CHECKING:
    import random

    from sqlalchemy.orm import Session

    from mes.demo_history import Job, Simulation

log = logging.getLogger(__name__)

# Suppliers by part family (the part number's first word): (name, code); the first is the usual source.
SUPPLIERS: dict[str, tuple[tuple[str, str], ...]] = {
    "CON": (("Xi'an Aerospace Connector Co.", "XAC"), ("Sichuan Hermetic Interconnect Ltd.", "SHI"),
            ("Nordic Space Connectors AB", "NSC")),
    "POT": (("Shanghai Aerospace Resins Co.", "SAR"), ("Polytek Space Materials GmbH", "PSM")),
    "DCDC": (("Shenzhen Space Power Hybrids Co.", "SPH"), ("Orbital Power Devices Inc.", "OPD")),
    "FPGA": (("Beijing Rad-Hard Microelectronics Co.", "BRM"), ("Orbital EEE Distribution Ltd.", "OEE")),
    "PRC": (("Beijing Rad-Hard Microelectronics Co.", "BRM"), ("Orbital EEE Distribution Ltd.", "OEE")),
    "FET": (("Zhuzhou Power Semiconductor Co.", "ZPS"), ("Beijing Rad-Hard Microelectronics Co.", "BRM")),
    "BRG": (("Luoyang Precision Bearing Co.", "LPB"), ("Harbin Aerospace Bearing Co.", "HAB")),
    "MOT": (("Changzhou Space Micromotor Co.", "CSM"), ("Xi'an Precision Motor Works", "XPM")),
    "LNS": (("Changchun Space Optics Co.", "CSO"), ("Chengdu Optical Glass Works", "COG")),
    "WIN": (("Chengdu Optical Glass Works", "COG"), ("Changchun Space Optics Co.", "CSO")),
    "BFL": (("Suzhou Precision Machining Co.", "SPM"), ("Ningbo Aerospace Structures Co.", "NAS")),
    "DET": (("Chongqing Space Imaging Sensors Co.", "CSI"), ("Tianjin Photonic Devices Co.", "TJP")),
    "DIE": (("Tianjin Photonic Devices Co.", "TJP"), ("Chongqing Space Imaging Sensors Co.", "CSI")),
    "CER": (("Shandong Advanced Ceramics Co.", "SAC"), ("Chaozhou Electronic Ceramics Co.", "CEC")),
    "FIB": (("Wuhan Fibre Photonics Co.", "WFP"), ("Changfei Special Fibre Co.", "CSF")),
    "IOC": (("Beijing Integrated Optics Co.", "BIO"), ("Wuhan Fibre Photonics Co.", "WFP")),
    "SLV": (("Shenzhen Splice Accessories Co.", "SSA"), ("Wuhan Fibre Photonics Co.", "WFP")),
    "FGX": (("Hefei Magnetic Sensor Co.", "HMS"), ("Nordic Fluxgate Instruments ApS", "NFI")),
    "PCB": (("Shenzhen Aerospace PCB Co.", "SAP"), ("Zhuhai High-Rel Circuits Co.", "ZHC"),
            ("Xi'an Polyimide Circuit Works", "XPC")),
    "WIR": (("Tongling Magnet Wire Co.", "TMW"), ("Jiangsu Enamelled Wire Co.", "JEW")),
    "COR": (("Baotou Soft Magnetic Alloys Co.", "BSM"), ("Shanghai Permalloy Works", "SPW")),
    "CEL": (("Tianjin Space Power Cells Co.", "TSC"), ("Shanghai Aerospace Battery Co.", "SAB")),
    "BUS": (("Shanghai Aerospace Battery Co.", "SAB"), ("Suzhou Precision Machining Co.", "SPM")),
    "BMS": (("Hangzhou Battery Electronics Co.", "HBE"), ("Shanghai Aerospace Battery Co.", "SAB")),
    "GEAR": (("Beijing Harmonic Drive Co.", "BHD"), ("Suzhou Strain Wave Gearing Co.", "SSW")),
    "SLR": (("Hangzhou Slip Ring Technology Co.", "HSR"), ("Shenzhen Rotary Contacts Co.", "SRC")),
    "PA": (("Nanjing GaN Microwave Co.", "NGM"), ("Chengdu RF Modules Co.", "CRF")),
    "HCT": (("Lanzhou Electric Propulsion Components Co.", "LEP"),),
    "CHN": (("Lanzhou Electric Propulsion Components Co.", "LEP"), ("Shandong Advanced Ceramics Co.", "SAC")),
    "ACC": (("Shanghai Orbital Compute Co.", "SOC"),),
    "TPD": (("Suzhou Thermal Interface Materials Co.", "STI"), ("Polytek Space Materials GmbH", "PSM")),
}
OTHER_SUPPLIERS = (("Orbital EEE Distribution Ltd.", "OEE"), ("General Space Components Co.", "GSC"))
SECOND_SOURCE = 0.25  # share of deliveries from a part's other suppliers
PACKS = {"CON": 25, "POT": 10, "BRG": 10, "BFL": 10, "FIB": 6, "SLV": 100, "DIE": 25, "CER": 50, "WIN": 20,
         "PCB": 10, "WIR": 4, "COR": 10, "FET": 50, "CEL": 100, "BUS": 10, "TPD": 50}  # lots come in these
SHELF_LIFE = {"CEL": (300, 540), "POT": (150, 330), "TPD": (240, 420)}  # days of life left on arrival
REORDER_DAYS = 12  # goods-in orders when stock covers less than this many days of demand
COVER_DAYS = {"lot": (18.0, 35.0), "serial": (10.0, 20.0)}  # what one delivery covers
GOODS_IN = (60, 330)  # minutes after the day's first shift starts that deliveries are booked
INSPECTION_HOURS = (1.5, 26.0)  # from booking until the quality engineer inspects it
REJECT_RATE = 1 / 30  # deliveries (or one serial of them) rejected at receiving inspection
FIRST_REJECT = 4  # the fourth delivery inspected is the first rejected, so even a short history has one
MATERIAL_NCR_DAYS = ((2.0, 5.0), (24.0, 45.0))  # until the first NCR on a released lot, then between them
DISPOSITION_DAYS = (0.3, 3.0)  # from the material NCR to its return-to-supplier disposition
MATERIAL_DEFECT = "MAT"
KIT_MARGIN = timedelta(days=1)  # nobody picks material that expires within a day
SCAN_AFTER = (2.0, 9.0)  # minutes from the step's start to its components being scanned in

REJECT_LOT = (
    "CoC lot number does not match the lot label on the packaging.",
    "Certificate of conformity lacks the space-grade qualification reference; supplier to reissue.",
    "Moisture barrier bag torn, humidity indicator pink: packaging not to specification.",
    "Sample inspection: 2 of 13 pieces outside drawing tolerance.",
)
REJECT_SERIAL = (
    "Visual inspection: scratch across the mounting face.",
    "Data package lacks this serial's acceptance test record.",
    "Shock indicator on the shipping container tripped.",
)
MATERIAL_NCR_TEXT = (
    "Supplier notification {ref}: plating thickness of this lot below specification. Lot held, none used.",
    "Sample re-test at receiving lab: 3 of 20 pieces below the insulation resistance limit.",
    "Outgassing report for this lot exceeds TML 1.0 % / CVCM 0.1 %; lot held pending return.",
)


@dataclass(frozen=True)
class PartPlan:
    """A purchased part as goods-in sees it: its tracking, demand per day, pack size and suppliers."""

    part_number: str
    tracking: str  # lot | serial
    per_day: float
    pack: int
    largest: int  # the most one step takes at once
    suppliers: tuple[tuple[str, str], ...]
    shelf_life: tuple[int, int] | None

    def order_quantity(self, rng: random.Random) -> int:
        """One delivery: a few weeks of demand, in whole packs, at least what one step takes."""
        low, high = COVER_DAYS[self.tracking]
        wanted = max(self.per_day * rng.uniform(low, high), self.largest, 2.0)
        return max(self.pack, math.ceil(wanted / self.pack) * self.pack)

    def reorder_point(self) -> float:
        return max(self.per_day * REORDER_DAYS, 2.0 * self.largest)


@dataclass(eq=False)
class Stock:
    """A released lot or serial on the shelf, as the simulation books it."""

    part_number: str
    identifier: str
    remaining: int
    quantity: int
    received_at: datetime
    expiry: date | None
    order: int  # arrival order: first in, first out

    def usable(self, today: date) -> bool:
        return self.expiry is None or self.expiry >= today


@dataclass(frozen=True)
class Pick:
    """What a kit takes: so much of one lot or serial (stock), or an accepted unit (stock is None)."""

    line: BomLine
    identifier: str
    quantity: int
    stock: Stock | None


@dataclass(frozen=True)
class Delivery:
    """A booked delivery awaiting receiving inspection."""

    receipt: str
    part: PartPlan
    identifiers: tuple[str, ...]
    quantity: int  # per identifier
    supplier: str
    coc: str
    expiry: date | None
    received_at: datetime


@dataclass
class Stores:
    """The simulation's book of material: what is released on the shelf, in quarantine, and accepted units."""

    plan: PlantPlan
    rng: random.Random
    parts: dict[str, PartPlan] = field(default_factory=dict)
    shelf: dict[str, list[Stock]] = field(default_factory=lambda: defaultdict(list))
    inbound: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # booked, not yet inspected
    units: dict[str, deque[str]] = field(default_factory=lambda: defaultdict(deque))  # accepted, free units
    lines_using: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # part -> line codes
    arrivals: itertools.count[int] = field(default_factory=itertools.count)  # release order: first in, first out
    numbers: dict[str, int] = field(default_factory=dict)  # a supplier's next lot, serial or CoC number
    inspected: int = 0
    reject_owed: float = 0.0

    def __post_init__(self) -> None:
        demand: dict[str, float] = defaultdict(float)
        largest: dict[str, int] = defaultdict(int)
        tracking: dict[str, str] = {}
        for line in self.plan.lines:
            for step in line.steps:
                if step.bom and step.machine_run:
                    log.warning("step %s runs in a machine and has a bill of material; the demo kits only"
                                " manual steps, so its runs will be refused", step.code)
                for item in step.bom:
                    self.lines_using[item.part_number].add(line.code)
                    if item.tracking == "unit":
                        continue
                    demand[item.part_number] += line.starts_per_day * item.quantity
                    largest[item.part_number] = max(largest[item.part_number], item.quantity)
                    tracking[item.part_number] = item.tracking
        for number, per_day in sorted(demand.items()):
            family = number.split("-")[0]
            pack = PACKS.get(family, 10) if tracking[number] == "lot" else 1
            self.parts[number] = PartPlan(number, tracking[number], per_day, pack, largest[number],
                                          SUPPLIERS.get(family, OTHER_SUPPLIERS), SHELF_LIFE.get(family))

    # --- the book ----------------------------------------------------------------------------------

    def on_hand(self, part_number: str, today: date) -> int:
        """Released and usable, plus booked and awaiting inspection."""
        usable = sum(s.remaining for s in self.shelf[part_number] if s.usable(today))
        return usable + self.inbound[part_number]

    def put_on_shelf(self, stock: Stock) -> None:
        bisect.insort(self.shelf[stock.part_number], stock, key=lambda s: s.order)

    def pick(self, bom: tuple[BomLine, ...], at: datetime) -> list[Pick] | None:
        """Take a whole kit off the shelf (first in, first out), or nothing if some of it is short."""
        today = (at + KIT_MARGIN).astimezone(self.plan.zone).date()
        for item in bom:
            if item.tracking == "unit":
                if len(self.units[item.part_number]) < item.quantity:
                    return None
            elif sum(s.remaining for s in self.shelf[item.part_number] if s.usable(today)) < item.quantity:
                return None
        picks: list[Pick] = []
        for item in bom:
            if item.tracking == "unit":
                picks += [Pick(item, self.units[item.part_number].popleft(), 1, None) for _ in range(item.quantity)]
                continue
            wanted = item.quantity
            for stock in list(self.shelf[item.part_number]):
                if wanted == 0:
                    break
                if not stock.usable(today):
                    continue
                taken = min(wanted, stock.remaining)  # a serial is one
                stock.remaining -= taken
                wanted -= taken
                picks.append(Pick(item, stock.identifier, taken, stock))
                if stock.remaining == 0:
                    self.shelf[item.part_number].remove(stock)
        return picks

    def put_back(self, picks: list[Pick]) -> None:
        """A kit that was not used goes back where it came from."""
        for p in picks:
            if p.stock is None:
                self.units[p.line.part_number].appendleft(p.identifier)
                continue
            if p.stock.remaining == 0:
                self.put_on_shelf(p.stock)
            p.stock.remaining += p.quantity

    def next_number(self, key: str, low: int, high: int) -> int:
        """A supplier's running numbers (CoCs, lots, serials), from a plausible start."""
        n = self.numbers.get(key)
        if n is None:
            n = self.rng.randint(low, high)
        self.numbers[key] = n + 1
        return n


# --- goods-in: deliveries, receiving inspection ------------------------------------------------------

def plan_goods_in(sim: Simulation) -> None:
    """Goods-in books deliveries every working morning; the first morning stocks the stores."""
    day, last = sim.start.astimezone(sim.plan.zone).date(), sim.end.astimezone(sim.plan.zone).date()
    first = True
    while day <= last:
        opening = sim.opening(day)
        if opening is not None:
            # The first morning: the opening stock is booked before any work is released.
            after = sim.rng.uniform(3, 12) if first else sim.rng.uniform(*GOODS_IN)
            sim.schedule(opening + minutes(after), goods_in, first)
            first = False
        day += timedelta(days=1)


def goods_in(sim: Simulation, at: datetime, first: bool = False) -> None:
    """Book a delivery of every part whose stock is below its reorder point."""
    stores = sim.stores
    today = at.astimezone(sim.plan.zone).date()
    for part in stores.parts.values():
        on_hand = stores.on_hand(part.part_number, today)
        if on_hand >= part.reorder_point():
            continue
        quantity = part.order_quantity(sim.rng)
        if first:  # the opening stock, enough until the regular deliveries come: lots come as two
            opening = math.ceil(part.reorder_point() / part.pack) * part.pack
            if part.tracking == "lot":
                deliver(sim, at, part, opening, first)
            else:
                quantity += opening
        deliver(sim, at, part, quantity, first)


def deliver(sim: Simulation, at: datetime, part: PartPlan, quantity: int, first: bool) -> None:
    """Book one delivery into quarantine and call quality to inspect it (the opening stock at once)."""
    stores, rng = sim.stores, sim.rng
    supplier, code = (part.suppliers[0] if len(part.suppliers) == 1 or rng.random() >= SECOND_SOURCE
                      else rng.choice(part.suppliers[1:]))
    local = at.astimezone(sim.plan.zone)
    year, week = local.isocalendar()[0] % 100, local.isocalendar()[1]
    coc = f"CoC-{code}-{year:02d}-{stores.next_number('coc:' + code, 1200, 6800):05d}"
    expiry = None
    if part.shelf_life is not None:
        expiry = local.date() + timedelta(days=rng.randint(*part.shelf_life))
    if part.tracking == "lot":
        lots = [f"{code}{year:02d}{week:02d}-{stores.next_number('lot:' + code, 100, 700):04d}"]
        per_item = quantity
    else:
        base = stores.next_number("sn:" + code, 1000, 8000)  # a supplier's serials never repeat
        stores.numbers["sn:" + code] = base + quantity
        lots = [f"{code}-{year:02d}{n:05d}" for n in range(base, base + quantity)]
        per_item = 1
    for chunk in range(0, len(lots), materials.MAX_SERIALS_PER_RECEIPT):
        identifiers = lots[chunk:chunk + materials.MAX_SERIALS_PER_RECEIPT]
        kwargs = ({"lot": identifiers[0], "quantity": per_item} if part.tracking == "lot"
                  else {"serials": identifiers})
        items = sim.call(materials.receive, sim.users[SUPERVISOR], part.part_number, supplier, coc,
                         expiry=expiry, at=at, **kwargs)
        if items is None:
            continue
        sim.report.receipts += 1
        sim.report.lots_received += part.tracking == "lot"
        sim.report.serials_received += len(items) if part.tracking == "serial" else 0
        stores.inbound[part.part_number] += per_item * len(items)
        delivery = Delivery(items[0].receipt, part, tuple(identifiers), per_item, supplier, coc, expiry, at)
        hours = rng.uniform(0.3, 1.0) if first else rng.uniform(*INSPECTION_HOURS)
        found = sim.people.on_duty(at + minutes(60 * hours))
        if found is not None:
            sim.schedule(found[0], inspect, delivery, found[1])


def inspect(sim: Simulation, at: datetime, delivery: Delivery, inspector: str) -> None:
    """Receiving inspection: release what conforms (signed), reject what does not (signed, with why)."""
    stores, part = sim.stores, delivery.part
    stores.inbound[part.part_number] -= delivery.quantity * len(delivery.identifiers)
    stores.inspected += 1
    stores.reject_owed += REJECT_RATE
    rejected: str | None = None
    if stores.inspected == FIRST_REJECT or (stores.inspected > FIRST_REJECT and stores.reject_owed >= 1):
        stores.reject_owed = max(stores.reject_owed - 1, 0.0)
        rejected = sim.rng.choice(delivery.identifiers)
    reason = sim.rng.choice(REJECT_LOT if part.tracking == "lot" else REJECT_SERIAL)
    released = sim.call(decide_delivery, sim.users[inspector], sim.people.pin(inspector), delivery, rejected, reason,
                        at)
    if released is None:
        return
    sim.report.rejected += rejected is not None
    sim.report.released += len(released)
    for identifier in released:
        stores.put_on_shelf(Stock(part.part_number, identifier, delivery.quantity, delivery.quantity,
                                  delivery.received_at, delivery.expiry, next(stores.arrivals)))
    wake_lines_using(sim, at, part.part_number)


def wake_lines_using(sim: Simulation, at: datetime, part_number: str) -> None:
    """Steps waiting for this material (or accepted unit) may start now."""
    using = sim.stores.lines_using.get(part_number, ())
    for line in sim.plan.lines:
        if line.code in using:
            sim.dispatch(at, line)


def decide_delivery(session: Session, user_id: int, pin: str, delivery: Delivery, rejected: str | None,
                    reason: str, at: datetime) -> list[str]:
    """Quality's signed decision on each lot or serial of a delivery (one savepoint for the lot of them)."""
    released = []
    note = f"{delivery.coc} reviewed; receiving inspection passed"
    for identifier in delivery.identifiers:
        if identifier == rejected:
            materials.reject(session, user_id, delivery.part.part_number, identifier, pin, reason, at=at)
        else:
            materials.release(session, user_id, delivery.part.part_number, identifier, pin, note, at=at)
            released.append(identifier)
    return released


# --- NCRs on released lots ------------------------------------------------------------------------

def plan_material_ncr(sim: Simulation, after: datetime, first: bool) -> None:
    low, high = MATERIAL_NCR_DAYS[0 if first else 1]
    found = sim.people.on_duty(after + timedelta(days=sim.rng.uniform(low, high)))
    if found is not None:
        sim.schedule(found[0], material_ncr, found[1])


def material_ncr(sim: Simulation, at: datetime, inspector: str) -> None:
    """An untouched released lot turns out nonconforming: quality raises an NCR on it, holding it."""
    stores = sim.stores
    candidates = [s for number, shelf in sorted(stores.shelf.items()) if len(shelf) >= 2
                  and stores.parts[number].tracking == "lot" for s in shelf[1:] if s.remaining == s.quantity]
    if not candidates:
        plan_material_ncr(sim, at, first=True)  # look again in a few days
        return
    stock = sim.rng.choice(candidates)
    text = sim.rng.choice(MATERIAL_NCR_TEXT).format(ref=f"SN-{at:%y}-{sim.rng.randint(10, 99)}")
    ncr = sim.call(quality.open_material_ncr, sim.users[inspector], stock.part_number, stock.identifier,
                   MATERIAL_DEFECT, text, at=at)
    plan_material_ncr(sim, at, first=False)
    if ncr is None:
        return
    sim.report.material_ncrs += 1
    stores.shelf[stock.part_number].remove(stock)
    found = sim.people.on_duty(at + timedelta(days=sim.rng.uniform(*DISPOSITION_DAYS)))
    if found is not None:
        sim.schedule(found[0], return_to_supplier, ncr.number, found[1])


def return_to_supplier(sim: Simulation, at: datetime, number: str, inspector: str) -> None:
    note = (f"Return the lot to the supplier for replacement; supplier corrective action requested"
            f" (SCAR-{at:%y}-{sim.rng.randint(100, 999)}).")
    if sim.call(quality.disposition, sim.users[inspector], number, "return_to_supplier",
                sim.people.pin(inspector), note=note, at=at) is not None:
        sim.report.returned += 1
        sim.report.dispositions += 1


# --- kitting and consumption at the step -----------------------------------------------------------

def needs_kit(step: StepPlan, job: Job) -> bool:
    """A step with a bill of material the unit does not hold yet (rework finds it already built in)."""
    return bool(step.bom) and step.code not in job.fitted


def take(sim: Simulation, step: StepPlan, at: datetime) -> tuple[Job, list[Pick]] | None:
    """The next unit of the step's queue that can start, with its kit; None while material is short."""
    queue = sim.queues[step.code]
    short = False
    for i, job in enumerate(queue):
        if not needs_kit(step, job):
            del queue[i]
            return job, []
        if short:
            continue  # a later unit needs the same kit; only one already fitted could go
        picks = sim.stores.pick(step.bom, at)
        if picks is not None:
            del queue[i]
            return job, picks
        short = True
        sim.report.kit_waits += 1
    return None


def scan_time(sim: Simulation) -> timedelta:
    return minutes(sim.rng.uniform(*SCAN_AFTER))


def fit(sim: Simulation, at: datetime, job: Job, step: StepPlan, user: int, picks: list[Pick]) -> bool:
    """Scan the kit into the unit at its running step; False if a scan is refused (then none of it is)."""
    if sim.call(scan_components, user, job.serial, step.code, picks, at) is None:
        return False
    sim.report.consumptions += len(picks)
    job.fitted.add(step.code)
    return True


def scan_components(session: Session, user_id: int, serial: str, step_code: str, picks: list[Pick],
                    at: datetime) -> int:
    """Each lot, serial or unit of the kit scanned into the unit, one consumption each (one savepoint)."""
    for p in picks:
        consumption.consume(session, user_id, serial, step_code, p.identifier,
                            p.line.part_number if p.stock is not None else None, p.quantity, at=at)
    return len(picks)

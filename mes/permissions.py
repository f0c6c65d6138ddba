"""Every permission a role can grant. Roles themselves are configuration (config/plant.toml)."""
from __future__ import annotations

PERMISSIONS: dict[str, str] = {
    "read": "see production, quality and telemetry records",
    "step.start": "start a routing step",
    "step.pause": "pause, resume and hand over a step",
    "step.complete": "complete a step with its measurements",
    "step.abort": "abort a running step",
    "step.buyoff": "sign the inspection buy-off of someone else's step",
    "ncr.raise": "raise a nonconformance",
    "ncr.disposition": "disposition a nonconformance, approve at MRB",
    "deviation.approve": "approve deviations and waivers",
    "unit.hold": "put a unit on hold",
    "hold.release": "release a hold",
    "unit.accept": "sign final acceptance of a unit",
    "workorder.release": "release and re-prioritise work orders",
    "material.receive": "book received material into quarantine",
    "lot.release": "release or reject received material",
    "component.remove": "take a built-in component out of a unit (rework)",
    "containment": "hold everything a trace finds",
    "satellite.allocate": "allocate accepted units to satellites",
    "downtime.reason": "enter the reason for a machine stop",
    "user.admin": "manage users and roles",
    "token.admin": "create and revoke API tokens",
    "qualification.admin": "record qualifications",
    "instrument.admin": "record instruments and calibrations",
}

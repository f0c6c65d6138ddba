"""The JSON API under /api/v1: the contract tablets and integrators build on."""
from flask import Blueprint

api = Blueprint("api", __name__, url_prefix="/api/v1")

from mes.api import materials, openapi, plant, quality, session, telemetry, traceability, work  # noqa: E402,F401  (they register routes on `api`)

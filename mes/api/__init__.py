"""The JSON API under /api/v1: the contract tablets and integrators build on."""
from flask import Blueprint

api = Blueprint("api", __name__, url_prefix="/api/v1")

from mes.api import openapi, plant, quality, session, work  # noqa: E402,F401  (they register routes on `api`)  # noqa: F401  (registers routes)

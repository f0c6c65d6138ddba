"""Manufacturing execution system for satellite core-unit production lines."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from mes.settings import Settings


def create_app(settings: Settings | None = None) -> Flask:
    """Build the web app (imported lazily, so the adapters and CLI never pull in Flask)."""
    from mes.app import build_app

    return build_app(settings)

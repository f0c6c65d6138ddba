"""Run the web app under gunicorn from Python (used by `mes serve` and `mes demo`)."""
from __future__ import annotations

import gc
from typing import Any

from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        if "control_socket_disable" in self.cfg.settings:
            # gunicorn 27's control socket is one per user ($HOME/.gunicorn): two demos would collide on it.
            self.cfg.set("control_socket_disable", True)

    def load(self):  # type: ignore[no-untyped-def]
        from mes import create_app

        return settle(create_app())


def settle(app: Any) -> Any:
    """Move everything built so far out of the garbage collector's sight: the app's modules and tables
    are never freed, and re-scanning them made full collections cost ~60 ms in the middle of requests."""
    gc.collect()
    gc.freeze()
    return app


def serve_app(host: str, port: int, workers: int = 2, threads: int = 4) -> None:
    """Serve until interrupted; each worker builds its own app after the fork."""
    _Gunicorn({"bind": f"{host}:{port}", "workers": workers, "threads": threads,
               "worker_class": "gthread", "accesslog": "-"}).run()

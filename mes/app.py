"""The Flask app factory: settings, database, blueprints, error handlers, security headers."""
from __future__ import annotations

import logging

from flask import Flask, Response, jsonify
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import HTTPException

from mes.audit import AuditConfig
from mes.db import make_engine, make_session_factory
from mes.errors import MesError
from mes.settings import Settings, ensure_secret_key, load_settings

log = logging.getLogger(__name__)
MAX_JSON_BODY = 1024 * 1024  # 1 MiB; uploads get their own, larger limit


def build_app(settings: Settings | None = None) -> Flask:
    """Create the app for `settings` (default: from the environment)."""
    settings = settings or load_settings()
    app = Flask(__name__, instance_path=str(settings.instance_path))
    app.config.update(SECRET_KEY=ensure_secret_key(settings), MAX_CONTENT_LENGTH=MAX_JSON_BODY, JSON_SORT_KEYS=False)
    engine = make_engine(settings.database_url)
    audit = AuditConfig.for_instance(settings.instance_path)
    app.extensions["mes"] = {
        "settings": settings, "engine": engine,
        "sessions": make_session_factory(engine, audit=audit),
        "read_sessions": make_session_factory(engine, read_only=True, audit=audit),
    }

    from dashboards.views import dashboards
    from mes.api import api
    from mes.floor import floor

    app.register_blueprint(api)
    app.register_blueprint(floor)
    app.register_blueprint(dashboards)
    # Forms carry a CSRF token (Flask-WTF); the API checks its own: bearer tokens, or X-CSRF-Token with a cookie.
    csrf = CSRFProtect(app)
    csrf.exempt(api)
    _register_error_handlers(app)
    app.after_request(_security_headers)
    return app


def _error(message: str, status: int, field: str | None = None) -> tuple[Response, int]:
    body: dict[str, str] = {"error": message}
    if field:
        body["field"] = field
    return jsonify(body), status


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(MesError)
    def _domain_error(exc: MesError):  # type: ignore[no-untyped-def]
        return _error(exc.message, exc.status, exc.field)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        return _error(exc.description or exc.name, exc.code or 500)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        # Never a stack trace to the client; the log keeps it.
        log.exception("unhandled error")
        return _error("internal error; the incident is logged", 500)


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    )
    return response

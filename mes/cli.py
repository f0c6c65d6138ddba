"""The `mes` command: database, plant, users, tokens, serving and the demo.

Heavy parts (the web app, adapters, simulator) are imported inside their commands,
so `mes token create` starts fast and the web app never imports the adapters.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import click
from sqlalchemy.orm import Session

from mes.errors import MesError
from mes.settings import Settings, load_settings

log = logging.getLogger(__name__)


@contextmanager
def transaction(settings: Settings) -> Iterator[Session]:
    """One transaction against the configured database; domain errors become CLI errors."""
    from mes.audit import AuditConfig
    from mes.db import make_engine, make_session_factory
    from mes.migrate import is_current

    engine = make_engine(settings.database_url)
    try:
        if not is_current(engine):
            raise click.ClickException("the database schema is not current; run `mes db upgrade` first")
        with make_session_factory(engine, audit=AuditConfig.for_instance(settings.instance_path)).begin() as session:
            yield session
    except MesError as exc:
        raise click.ClickException(f"{exc.field + ': ' if exc.field else ''}{exc.message}") from None
    finally:
        engine.dispose()


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log at INFO level.")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """Manufacturing execution system for satellite core-unit lines (database from MES_DATABASE_URL)."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = load_settings()


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(settings: Settings) -> None:
    """Create or migrate the schema to the newest revision."""
    from mes.migrate import upgrade

    upgrade(settings.database_url)
    click.echo("database schema is current")


@main.group()
def plant() -> None:
    """The plant configuration (config/)."""


@plant.command("load")
@click.option("--config", "config_dir", type=click.Path(file_okay=False, path_type=None),
              help="Configuration folder (default MES_CONFIG_DIR or ./config).")
@click.pass_obj
def plant_load(settings: Settings, config_dir: str | None) -> None:
    """Validate config/ and write it to the database; unchanged configuration changes nothing."""
    from pathlib import Path

    from mes.plant_config import PlantConfigError, load_plant_config
    from mes.plant_loader import load_plant

    try:
        config = load_plant_config(Path(config_dir) if config_dir else settings.config_dir)
    except PlantConfigError as exc:
        raise click.ClickException(str(exc)) from None
    with transaction(settings) as session:
        report = load_plant(session, config)
    click.echo(f"{len(config.lines)} lines: {report.summary()}")


@main.group()
def user() -> None:
    """People and their roles."""


@user.command("add")
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True, help="Role from config/plant.toml (repeatable).")
@click.option("--badge", help="Badge number for tablet log-in.")
@click.option("--display-name", help="Printed name on signatures (default NAME).")
@click.option("--language", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--pin", prompt="PIN (4-8 digits, empty for none)", hide_input=True, default="", show_default=False)
@click.pass_obj
def user_add(settings: Settings, name: str, roles: tuple[str, ...], badge: str | None, display_name: str | None,
             language: str, password: str, pin: str) -> None:
    """Add a user (prompts for password and PIN unless --password/--pin are given)."""
    from mes.auth import create_user

    with transaction(settings) as session:
        create_user(session, name, list(roles), password, pin=pin or None, badge=badge,
                    display_name=display_name, language=language)
    click.echo(f"user {name} added with role(s) {', '.join(roles)}")


@user.command("qualify")
@click.argument("name")
@click.option("--qualification", required=True, help="A code from config/plant.toml, e.g. JSTD001.")
@click.option("--until", "valid_until", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Valid until (date).")
@click.pass_obj
def user_qualify(settings: Settings, name: str, qualification: str, valid_until: datetime) -> None:
    """Record or renew a qualification of a person (audited)."""
    from mes.qualifications import qualify

    with transaction(settings) as session:
        qualify(session, None, name, qualification, valid_until.date())
    click.echo(f"{name} holds {qualification} until {valid_until.date().isoformat()}")


@main.group()
def instrument() -> None:
    """Measuring instruments and their calibration."""


@instrument.command("add")
@click.argument("code")
@click.option("--name", required=True)
@click.option("--kind", required=True, help="torque, rf_power, gauge ...")
@click.option("--due", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Calibration due date.")
@click.pass_obj
def instrument_add(settings: Settings, code: str, name: str, kind: str, due: datetime) -> None:
    """Register an instrument with its calibration due date (audited)."""
    from mes.instruments import add_instrument

    with transaction(settings) as session:
        add_instrument(session, None, code, name, kind, due.date())
    click.echo(f"instrument {code} added, calibration due {due.date().isoformat()}")


@instrument.command("calibrate")
@click.argument("code")
@click.option("--due", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Next calibration due date.")
@click.option("--failed", is_flag=True, help="The calibration failed: take the instrument out of use.")
@click.option("--note", default="")
@click.pass_obj
def instrument_calibrate(settings: Settings, code: str, due: datetime, failed: bool, note: str) -> None:
    """Record a calibration (audited); a failed one takes the instrument out of use."""
    from mes.instruments import calibrate

    with transaction(settings) as session:
        calibrate(session, None, code, due.date(), passed=not failed, note=note)
    click.echo(f"instrument {code}: " + ("out of use" if failed else f"calibration due {due.date().isoformat()}"))


@main.group()
def token() -> None:
    """API tokens (integrators, wall boards, adapters)."""


@token.command("create")
@click.option("--user", "user_name", required=True)
@click.option("--scope", "scopes", multiple=True, help="line:<number|code> or machine:<code> (repeatable).")
@click.option("--display", is_flag=True, help="A wall-board token: reads only, never logs out.")
@click.option("--name", default="", help="What the token is for.")
@click.pass_obj
def token_create(settings: Settings, user_name: str, scopes: tuple[str, ...], display: bool, name: str) -> None:
    """Create a token and print it (only the token, once; it is stored hashed)."""
    from mes.auth import DISPLAY, create_token

    with transaction(settings) as session:
        value = create_token(session, user_name, [*scopes, *([DISPLAY] if display else [])], name)
    click.echo(value)


@token.command("revoke")
@click.argument("token_or_digest")
@click.pass_obj
def token_revoke(settings: Settings, token_or_digest: str) -> None:
    """Revoke a token, given the token or the start of its SHA-256 digest."""
    from mes.auth import revoke_token

    with transaction(settings) as session:
        row = revoke_token(session, token_or_digest)
        click.echo(f"token {row.token_hash[:12]} of {row.user.name} revoked")


@main.group()
def audit() -> None:
    """The audit trail."""


@audit.command("verify")
@click.pass_obj
def audit_verify(settings: Settings) -> None:
    """Walk the hash chain, the head's HMAC and the checkpoints; name the first bad row."""
    from mes.audit import AuditConfig
    from mes.audit_verify import verify

    with transaction(settings) as session:
        verdict = verify(session, AuditConfig.for_instance(settings.instance_path))
    if not verdict.ok:
        raise click.ClickException(f"audit trail broken after {verdict.rows} good rows: {verdict.problem}")
    click.echo(f"audit trail intact: {verdict.rows} rows")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.option("--workers", default=2, show_default=True)
def serve(host: str, port: int, workers: int) -> None:
    """Serve the web app with gunicorn."""
    from mes.serving import serve_app

    serve_app(host, port, workers)


from mes.demo import demo  # noqa: E402  (the demo command lives with the demo)

main.add_command(demo)

from line_adapters.commands import adapters  # noqa: E402  (adapter commands import their heavy parts lazily)

main.add_command(adapters)

from line_adapters.simulator import simulate  # noqa: E402  (imports asyncua only when run)

main.add_command(simulate)

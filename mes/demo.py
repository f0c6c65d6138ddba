"""`mes demo`: the demo plant on a local database, with users to log in as, served on localhost."""
from __future__ import annotations

import time
from datetime import UTC, datetime

import click
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from mes.models import User
from mes.settings import Settings

# name, role, badge, PIN, display name. Demo only: a real plant adds people with `mes user add`.
DEMO_USERS = (
    ("op.li", "operator", "B1001", "1001", "李明 Li Ming"),
    ("op.zhao", "operator", "B1002", "1002", "赵芳 Zhao Fang"),
    ("op.sun", "operator", "B1003", "1003", "孙伟 Sun Wei"),
    ("op.zhou", "operator", "B1004", "1004", "周婷 Zhou Ting"),
    ("op.wu", "operator", "B1005", "1005", "吴磊 Wu Lei"),
    ("sup.wang", "supervisor", "B2001", "2001", "王强 Wang Qiang"),
    ("qe.chen", "quality", "B3001", "3001", "陈静 Chen Jing"),
    ("qe.liu", "quality", "B3002", "3002", "刘洋 Liu Yang"),
    ("view.board", "viewer", None, None, "Wall board"),
    ("admin", "admin", None, None, "Administrator"),
)
DEMO_PASSWORD = "demo-password"
START_PAGE = "/dashboards/board"  # the demo opens on the plant board (it sends a visitor to log in first)
# The demo's PINs are printed at start-up, so argon2's cost protects nothing for them; the seeded history
# re-enters a PIN for every signature (about 17 000: buy-offs, acceptances, dispositions, material releases),
# which at the library's defaults would take over an hour. Demo PINs are therefore hashed with argon2id's
# cheapest parameters (8 KiB: about 0.03 ms a check, against 0.4 ms at 1 MiB); real users never are.
DEMO_PIN_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def ensure_demo_users(session: Session) -> None:
    """Create the demo users that do not exist yet."""
    from mes.auth import create_user

    existing = set(session.scalars(select(User.name)))
    for name, role, badge, pin, display in DEMO_USERS:
        if name not in existing:
            user = create_user(session, name, [role], DEMO_PASSWORD, pin=pin, badge=badge, display_name=display)
            if pin:
                user.pin_hash = DEMO_PIN_HASHER.hash(pin)


@click.command()
@click.option("--days", default=180, show_default=True, type=click.IntRange(0, 3650),
              help="Days of history to seed, back from today (0: none).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.option("--no-serve", is_flag=True, help="Prepare the database and exit.")
@click.option("--no-machines", is_flag=True, help="Serve the web app without the machine simulator and adapters.")
@click.option("--sim-rate", type=click.FloatRange(min=0, min_open=True), default=None,
              show_default="1/60: machine cycles take their ideal time",
              help="Simulator speed: at 1 cycles run 60 times faster and values change every second.")
@click.option("--seed", default=1, show_default=True, help="Random seed of the history; the same seed repeats it.")
@click.option("--until", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M"]), default=None,
              help="End the history at this past UTC time instead of now (a repeatable window).")
@click.pass_obj
def demo(settings: Settings, days: int, host: str, port: int, no_serve: bool, no_machines: bool,
         sim_rate: float | None, seed: int, until: datetime | None) -> None:
    """Prepare the demo plant (MES_DATABASE_URL, else SQLite in the instance folder) and serve it, with simulated
    machines whose telemetry the adapters collect."""
    from mes.cli import transaction
    from mes.demo_live import REAL_TIME, check_machine_ports, check_web_port, describe, endpoints
    from mes.migrate import upgrade
    from mes.plant_config import PlantConfigError, load_plant_config
    from mes.plant_loader import load_plant

    click.echo(f"database: {settings.database_url}")
    upgrade(settings.database_url)
    try:
        config = load_plant_config(settings.config_dir)
    except PlantConfigError as exc:
        raise click.ClickException(str(exc)) from None
    with transaction(settings) as session:
        report = load_plant(session, config)
        ensure_demo_users(session)
    click.echo(f"plant: {len(config.lines)} lines ({report.summary()})")
    found = endpoints(config)
    if not no_serve:  # before the minutes of seeding: a second demo is told so at once, plainly
        check_web_port(host, port)
        if not no_machines:
            check_machine_ports(found)
    seed_demo_history(settings, days, seed, until.replace(tzinfo=UTC) if until else None)
    click.echo(f"\nlog in (password {DEMO_PASSWORD!r} for everyone):")
    for name, role, badge, pin, _ in DEMO_USERS:
        click.echo(f"  {name:<11} {role:<10}" + (f" badge {badge} PIN {pin}" if badge else ""))
    if no_serve:
        click.echo(f"\nprepared; `mes demo` serves it on http://{host}:{port}{START_PAGE} with simulated machines")
        return
    from mes.demo_live import LivePlant, stop_on_sigterm
    from mes.serving import serve_app

    stop_on_sigterm()

    live = None if no_machines else LivePlant(settings, seed=seed, rate=sim_rate or REAL_TIME)
    try:
        if live is not None:
            live.start()
            speed = "real time" if sim_rate is None else f"rate {sim_rate:g}"
            click.echo(f"\nmachines: the simulator serves them over OPC UA ({speed}); the adapters store their"
                       " states, counts and values:")
            for text in describe(found):
                click.echo(text)
        click.echo(f"\nserving the plant board on http://{host}:{port}{START_PAGE}  (health: http://{host}:{port}"
                   "/api/v1/health); Ctrl-C stops" + (" the web app, the simulator and the adapters" if live else ""))
        serve_app(host, port)
    finally:
        if live is not None:
            live.stop()


def seed_demo_history(settings: Settings, days: int, seed: int, end: datetime | None = None) -> None:
    """Seed `days` of history through the services, then the machine telemetry that goes with it, unless the
    database already has history."""
    from mes.audit import AuditConfig
    from mes.db import make_engine, make_session_factory
    from mes.demo_history import has_history, history_window, seed_history
    from mes.demo_summary import summary_lines
    from mes.demo_telemetry import has_telemetry, seed_telemetry

    engine = make_engine(settings.database_url)
    try:
        # The audit key and checkpoints of this instance, as every other `mes` command uses them.
        sessions = make_session_factory(engine, audit=AuditConfig.for_instance(settings.instance_path))
        with sessions() as session:
            seeded = has_history(session)
            start, end = history_window(session, days, end)
        if seeded:
            click.echo("history: the database already has work orders; not seeding again (a new database seeds afresh)")
            return
        if days == 0:
            return
        click.echo(f"seeding {days} days of production history (seed {seed}) through the services ...")
        started = time.monotonic()
        report = seed_history(sessions, days, seed, progress=click.echo, end=end)
        with sessions() as session:
            lines = summary_lines(session)
            collected = has_telemetry(session)
        click.echo(f"history seeded in {time.monotonic() - started:.0f} s:")
        for line in lines:
            click.echo(line)
        if report.refused:
            click.echo(f"warning: the services refused {report.refused} simulated action(s); see the log", err=True)
        if collected:
            click.echo("telemetry: the database already holds collected telemetry; none seeded")
            return
        started = time.monotonic()
        written = seed_telemetry(sessions, start, end, seed)
        click.echo(f"machine telemetry to match seeded in {time.monotonic() - started:.0f} s: {written.summary()}")
    finally:
        engine.dispose()

"""`mes adapters run|browse`: the adapter process and the node-map helper. Heavy imports stay inside."""
from __future__ import annotations

import asyncio
import os
import signal

import click

from mes.settings import Settings


@click.group()
def adapters() -> None:
    """OPC UA line adapters: collect machine telemetry into the MES."""


@adapters.command("run")
@click.option("--line", "lines", type=int, multiple=True, help="Only this line number (repeatable).")
@click.option("--spool-mb", type=click.FloatRange(min=1), default=None,
              help="Capacity of the on-disk spool that holds readings while the database is away "
                   "(default 1024, or MES_SPOOL_MB).")
@click.pass_obj
def run(settings: Settings, lines: tuple[int, ...], spool_mb: float | None) -> None:
    """Subscribe to every configured machine (or those of --line) and store what they send, until stopped.

    Readings wait in INSTANCE/spool while the database is away (one spool per instance folder, so run
    one adapter process per instance)."""
    from line_adapters.runner import SPOOL_MB, run_adapters
    from mes.db import make_engine, make_session_factory

    engine = make_engine(settings.database_url, bulk_writer=True)
    sessions = make_session_factory(engine)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        stats = await run_adapters(sessions, set(lines) or None, stop, spool_folder=settings.instance_path / "spool",
                                   spool_mb=spool_mb or float(os.environ.get("MES_SPOOL_MB", SPOOL_MB)),
                                   config_dir=settings.config_dir)
        click.echo(f"stopped: {stats.committed} of {stats.received} readings committed in {stats.batches} batches")

    try:
        asyncio.run(main())
    finally:
        engine.dispose()


@adapters.command("browse")
@click.argument("endpoint")
@click.option("--toml", "as_toml", is_flag=True, help="Print a draft node map for config/lines/*.toml.")
def browse(endpoint: str, as_toml: bool) -> None:
    """List ENDPOINT's variables (node id, data type) and optionally draft a node map."""
    from line_adapters.browse import browse as walk
    from line_adapters.browse import draft_node_map

    try:
        variables = asyncio.run(walk(endpoint))
    except (OSError, TimeoutError) as exc:
        raise click.ClickException(f"cannot reach {endpoint}: {exc}") from None
    if as_toml:
        click.echo(draft_node_map(variables))
        return
    for v in variables:
        click.echo(f"{v.node:60} {v.data_type:10} {v.path}")

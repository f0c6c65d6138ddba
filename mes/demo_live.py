"""The demo's live machines: the plant simulator and the adapters, run as child processes beside the web app.

The simulator serves every configured machine at its configured OPC UA endpoint; the adapters subscribe to
them and store what they send into the demo's database, so machine states, counts and trends carry on from
the seeded history. Both are `mes` commands run with this Python and the demo's database, instance folder
and configuration, each in a process group of its own; when the web app stops (Ctrl-C, SIGTERM, or gunicorn
ending by itself) the demo sends them SIGTERM, adapters first, and on Linux they also end if the demo is
killed outright.
"""
from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import click

from mes.plant_config import PlantConfig
from mes.settings import Settings

MES = "from mes.cli import main; main(prog_name='mes')"  # `mes` with this interpreter, venv or not
REAL_TIME = 1 / 60  # the simulator rate at which machine cycles take their ideal time
READY_S = 60.0  # the simulator builds 60 servers in a few seconds; give up after this
STOP_S = 10.0


@dataclass(frozen=True)
class Endpoint:
    line: str
    machine: str
    url: str

    @property
    def address(self) -> tuple[str, int]:
        parts = urlsplit(self.url)
        return parts.hostname or "127.0.0.1", parts.port or 4840


def endpoints(config: PlantConfig, lines: set[int] | None = None) -> list[Endpoint]:
    """The configured machines of the (chosen) lines and their OPC UA endpoints."""
    return [Endpoint(line.config.line.code, machine.code, machine.endpoint) for line in config.lines
            if not lines or line.config.line.number in lines for machine in line.config.machines]


def listen_problem(host: str, port: int) -> str | None:
    """None if a server could listen on host:port now, else why not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is no obstacle
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def check_web_port(host: str, port: int) -> None:
    if (problem := listen_problem(host, port)) is not None:
        raise click.ClickException(
            f"cannot serve the web app on {host}:{port}: {problem}. Is another `mes demo` or `mes serve` running?"
            " Stop it, or pass another --port.")


def check_machine_ports(found: list[Endpoint]) -> None:
    taken: dict[tuple[str, int], str] = {}
    for endpoint in found:
        if endpoint.address not in taken and (problem := listen_problem(*endpoint.address)) is not None:
            taken[endpoint.address] = problem
    if taken:
        shown = ", ".join(f"{host}:{port}" for host, port in list(taken)[:6]) + (" ..." if len(taken) > 6 else "")
        reason = next(iter(taken.values()))
        raise click.ClickException(
            f"cannot simulate the machines: {len(taken)} OPC UA port(s) unavailable ({shown}: {reason})."
            " Is another `mes demo` or `mes simulate` running? Stop it, or serve without machines:"
            " `mes demo --no-machines`.")


def describe(found: list[Endpoint]) -> list[str]:
    """The endpoints, a line of the plant per text line (ports only where they share a host)."""
    hosts = {f"{urlsplit(e.url).scheme}://{e.address[0]}" for e in found}
    common = hosts.pop() if len(hosts) == 1 else None
    by_line: dict[str, list[str]] = {}
    for e in found:
        where = str(e.address[1]) if common else e.url
        by_line.setdefault(e.line, []).append(f"{where} {e.machine}")
    head = [f"  {len(found)} simulated machines at {common}:<port>"] if common else []
    return head + [f"  {line:<5} " + ", ".join(items) for line, items in by_line.items()]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGTERM if the demo dies without stopping it (killed, crashed)."""
    if sys.platform == "linux":
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class LivePlant:
    """The simulator and adapter processes; `start()` returns once the simulator listens."""

    def __init__(self, settings: Settings, *, seed: int = 1, rate: float = REAL_TIME,
                 lines: set[int] | None = None, port_offset: int = 0) -> None:
        self.settings, self.seed, self.rate, self.lines = settings, seed, rate, lines
        self.port_offset = port_offset  # tests: the simulator beside a running demo (endpoints moved to match)
        self.children: dict[str, subprocess.Popen[bytes]] = {}

    def _spawn(self, name: str, args: list[str], **kwargs: object) -> subprocess.Popen[bytes]:
        env = {**os.environ, "MES_DATABASE_URL": self.settings.database_url,
               "MES_INSTANCE_PATH": str(self.settings.instance_path), "MES_CONFIG_DIR": str(self.settings.config_dir)}
        for line in sorted(self.lines or ()):
            args += ["--line", str(line)]
        # A process group of its own: Ctrl-C reaches the web app only, and `stop()` ends the adapters before
        # the machines they read (so they flush and disconnect cleanly).
        process = subprocess.Popen([sys.executable, "-c", MES, *args], env=env, process_group=0,
                                   preexec_fn=_die_with_parent, **kwargs)  # type: ignore[call-overload]
        self.children[name] = process
        return process

    def start(self) -> None:
        simulator = self._spawn("simulator", ["simulate", "--rate", repr(self.rate), "--seed", str(self.seed),
                                              "--port-offset", str(self.port_offset)], stdout=subprocess.PIPE)
        if not self._ready(simulator):
            self.stop()
            raise click.ClickException("the machine simulator did not start (see its message above)")
        self._spawn("adapters", ["adapters", "run"])

    def _ready(self, simulator: subprocess.Popen[bytes]) -> bool:
        """Wait for the simulator's "simulating ..." line; False if it ends (or hangs) first."""
        assert simulator.stdout is not None
        deadline = time.monotonic() + READY_S
        with selectors.DefaultSelector() as selector:
            selector.register(simulator.stdout, selectors.EVENT_READ)
            seen = b""
            while time.monotonic() < deadline:
                if not selector.select(timeout=0.5):
                    if simulator.poll() is not None:
                        return False
                    continue
                chunk = os.read(simulator.stdout.fileno(), 4096)
                if not chunk:
                    return False
                seen += chunk
                if b"simulating" in seen:
                    return True
        return False

    def stop(self) -> None:
        """End both processes (adapters first, so they flush while the machines still answer)."""
        for name in ("adapters", "simulator"):
            process = self.children.get(name)
            if process is None:
                continue
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_S)
            except subprocess.TimeoutExpired:
                click.echo(f"{name} did not stop within {STOP_S:.0f} s; killing it", err=True)
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
        self.children.clear()

    def running(self) -> dict[str, int | None]:
        """Each process's exit code (None while it runs)."""
        return {name: process.poll() for name, process in self.children.items()}


def stop_on_sigterm() -> None:
    """Until gunicorn installs its own handlers: SIGTERM unwinds (so the children are stopped) instead of killing."""
    def unwind(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, unwind)


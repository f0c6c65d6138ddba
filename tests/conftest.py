"""Fixtures: a migrated test database (SQLite, or PostgreSQL via MES_TEST_DATABASE_URL), the plant, the app.

The same suite runs on both databases: `.ci/run` runs it once on SQLite and once with
MES_TEST_DATABASE_URL pointing at PostgreSQL. Under MES_REQUIRE_ALL=1 a test that needs
something the machine lacks (PostgreSQL, Chromium) fails instead of skipping.

One database serves the whole run: each test gets it empty (or with the plant, copied in from a
snapshot) and leaves it emptied again. tests/db_snapshot.py says why that is done the way it is.
"""
from __future__ import annotations

import os
import random
import socket

os.environ.setdefault("MES_FAST_HASHING", "1")  # before mes.auth is imported: cheap argon2, tests only

import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from mes.audit import AuditConfig
from mes.db import make_engine, make_session_factory
from mes.migrate import upgrade
from mes.plant_config import PlantConfig, load_plant_config
from mes.settings import REPO_ROOT, Settings
from tests.db_snapshot import PlantSnapshot, empty_all_tables

CONFIG_DIR = REPO_ROOT / "config"
REQUIRE_ALL = os.environ.get("MES_REQUIRE_ALL") == "1"
POSTGRES_URL = os.environ.get("MES_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def missing(reason: str) -> None:
    """Skip for a missing facility, or fail where everything is required (CI)."""
    if REQUIRE_ALL:
        pytest.fail(f"{reason} (MES_REQUIRE_ALL=1, so this cannot be skipped)")
    pytest.skip(reason)


def postgres_reachable(url: str) -> str | None:
    """None if a PostgreSQL server answers at `url`, else why not."""
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure means "not here"
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"


class ScratchPostgres:
    """Creates throw-away databases on a PostgreSQL server, so tests never touch its own."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")

    def create(self) -> str:
        name = f"mes_test_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        with self.admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def scratch_postgres() -> Iterator[ScratchPostgres]:
    """A source of fresh PostgreSQL databases (skips, or fails under MES_REQUIRE_ALL, without a server)."""
    reason = postgres_reachable(POSTGRES_URL)
    if reason:
        missing(f"PostgreSQL not reachable at {POSTGRES_URL}: {reason}")
    scratch = ScratchPostgres(POSTGRES_URL)
    yield scratch
    scratch.admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The migrated database this run tests against."""
    admin_url = os.environ.get("MES_TEST_DATABASE_URL")
    if not admin_url:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'mes.db'}"
        upgrade(url)
        yield url
        return
    reason = postgres_reachable(admin_url)
    if reason:
        pytest.exit(f"MES_TEST_DATABASE_URL={admin_url} is not reachable: {reason}", returncode=3)
    scratch = ScratchPostgres(admin_url)
    url = scratch.create()
    upgrade(url)
    yield url
    scratch.drop(url)
    scratch.admin.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on the test database, which is emptied after the test (see `empty_all_tables`)."""
    engine = make_engine(database_url)
    yield engine
    empty_all_tables(engine)
    engine.dispose()


@pytest.fixture
def audit_config(tmp_path: Path) -> AuditConfig:
    """The audit key and checkpoint file of the test's instance folder (the app fixture uses the same)."""
    return AuditConfig.for_instance(tmp_path / "instance")


@pytest.fixture
def sessions(engine: Engine, audit_config: AuditConfig) -> sessionmaker[Session]:
    return make_session_factory(engine, audit=audit_config)


@pytest.fixture(scope="session")
def plant_config() -> PlantConfig:
    return load_plant_config(CONFIG_DIR)


@pytest.fixture(scope="session")
def plant_snapshot(database_url: str, plant_config: PlantConfig,
                   tmp_path_factory: pytest.TempPathFactory) -> PlantSnapshot:
    """What `load_plant` writes for the default plant, taken once in a database of its own (same kind).

    Its own database, so no test's rows ever get into it; it is thrown away once the rows are read.
    """
    folder = tmp_path_factory.mktemp("plant_snapshot")
    if make_url(database_url).get_backend_name() == "sqlite":
        url = f"sqlite:///{folder / 'mes.db'}"
        upgrade(url)
        return PlantSnapshot.take(url, plant_config, folder / "instance")
    scratch = ScratchPostgres(database_url)  # any database of the server can create another
    url = scratch.create()
    try:
        upgrade(url)
        return PlantSnapshot.take(url, plant_config, folder / "instance")
    finally:
        scratch.drop(url)
        scratch.admin.dispose()


@pytest.fixture
def plant(sessions: sessionmaker[Session], plant_config: PlantConfig, plant_snapshot: PlantSnapshot) -> PlantConfig:
    """The default 15-line plant in the test database, exactly as `load_plant` writes it into an empty one.

    Copied from `plant_snapshot` rather than loaded (a tenth of the time or less); the audit row of the load
    is recorded anew, in this test's chain with this test's key. Tests of loading itself call `load_plant`.
    """
    with sessions.begin() as session:
        plant_snapshot.restore(session)
    return plant_config


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, instance_path=tmp_path / "instance", config_dir=CONFIG_DIR,
                    secret_key="test-secret")


@pytest.fixture
def app(settings: Settings, engine: Engine):  # type: ignore[no-untyped-def]
    from mes import create_app

    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    app.extensions["mes"]["engine"].dispose()


@pytest.fixture
def live_server(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The app served over real HTTP on 127.0.0.1 (a free port); yields its base URL."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    # shutdown() waits for the serving loop to look up, which it does every poll_interval (0.5 s by default).
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def make_user(sessions: sessionmaker[Session], plant: PlantConfig) -> Callable[..., str]:
    """Factory: create a user with a role and return their name."""
    from mes.auth import create_user
    from mes.models import Qualification
    from mes.qualifications import qualify

    counter = iter(range(1, 10_000))

    def factory(role: str = "operator", name: str | None = None, pin: str = "1234", qualified: bool = True,
                **kwargs: object) -> str:
        """`qualified`: holds every qualification of the plant, valid for a year."""
        name = name or f"{role}.{next(counter)}"
        with sessions.begin() as session:
            create_user(session, name, [role], "correct-horse", pin=pin, **kwargs)  # type: ignore[arg-type]
            if qualified:
                until = date.today() + timedelta(days=365)
                for code in session.scalars(select(Qualification.code)):
                    qualify(session, None, name, code, until)
        return name

    return factory


@pytest.fixture
def auth_header(sessions: sessionmaker[Session], make_user: Callable[..., str]) -> Callable[..., dict[str, str]]:
    """Factory: an Authorization header for a new user with `role`."""
    from mes.auth import create_token

    def factory(role: str = "operator", **kwargs: object) -> dict[str, str]:
        name = make_user(role, **kwargs)
        with sessions.begin() as session:
            token = create_token(session, name)
        return {"Authorization": f"Bearer {token}"}

    return factory


LINE_1_PORTS = range(48011, 48016)


@pytest.fixture
def offset() -> int:
    """A port offset at which line 1's simulated machines can listen: beside a demo, a benchmark or another run."""
    rng = random.Random()
    for _ in range(100):
        candidate = rng.randrange(1000, 17000)
        try:
            for port in LINE_1_PORTS:
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port + candidate))
        except OSError:
            continue
        return candidate
    pytest.fail("no free ports for the simulator")

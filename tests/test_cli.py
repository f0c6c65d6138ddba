"""The `mes` command: database, plant, users, tokens, all against MES_DATABASE_URL."""
from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from mes.auth import verify_secret
from mes.cli import main
from mes.models import ApiToken, Line, User
from tests.conftest import CONFIG_DIR
from tests.test_plant_config import RWA, edit


@pytest.fixture
def mes(database_url, engine, tmp_path):  # type: ignore[no-untyped-def]
    """Run `mes ...` against the test database; returns the click result."""
    runner = CliRunner()
    env = {"MES_DATABASE_URL": database_url, "MES_INSTANCE_PATH": str(tmp_path / "instance"),
           "MES_SECRET_KEY": "test", "MES_CONFIG_DIR": str(CONFIG_DIR)}

    def run(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
        return runner.invoke(main, list(args), env=env, input=input, catch_exceptions=False)

    return run


def test_plant_load_writes_the_plant_and_a_reload_changes_nothing(mes, sessions) -> None:
    first = mes("plant", "load")
    assert first.exit_code == 0, first.output
    assert "15 lines: created" in first.output
    second = mes("plant", "load")
    assert second.output.strip() == "15 lines: plant unchanged"
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Line)) == 15


def test_plant_load_of_a_bad_configuration_names_the_problem_and_writes_nothing(mes, sessions, tmp_path) -> None:
    config = tmp_path / "bad"
    shutil.copytree(CONFIG_DIR, config)
    edit(config, RWA, 'upper = "0.50"\n  key', 'upper = "-1"\n  key')
    result = mes("plant", "load", "--config", str(config))
    assert result.exit_code == 1
    assert "01-reaction-wheel.toml: routing.steps[1].characteristics[0]: nominal 0.10 lies outside" in result.output
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Line)) == 0


def test_commands_refuse_a_database_that_is_not_migrated(tmp_path) -> None:
    result = CliRunner().invoke(main, ["plant", "load"], env={
        "MES_DATABASE_URL": f"sqlite:///{tmp_path / 'new.db'}", "MES_INSTANCE_PATH": str(tmp_path)})
    assert result.exit_code == 1
    assert "run `mes db upgrade` first" in result.output


def test_db_upgrade_creates_the_schema_on_a_new_database(tmp_path) -> None:
    env = {"MES_DATABASE_URL": f"sqlite:///{tmp_path / 'new.db'}", "MES_INSTANCE_PATH": str(tmp_path)}
    assert CliRunner().invoke(main, ["db", "upgrade"], env=env).output == "database schema is current\n"
    assert CliRunner().invoke(main, ["plant", "load"], env=env).exit_code == 0


def test_user_add_prompts_for_password_and_pin_and_stores_only_hashes(mes, sessions) -> None:
    mes("plant", "load")
    result = mes("user", "add", "op.wu", "--role", "operator", "--badge", "B7", input="s3cret-pw\ns3cret-pw\n4321\n")
    assert result.exit_code == 0, result.output
    with sessions() as session:
        user = session.scalars(select(User).filter_by(name="op.wu")).one()
        assert [r.name for r in user.roles] == ["operator"] and user.badge == "B7"
        assert "s3cret-pw" not in user.password_hash and user.password_hash.startswith("$argon2id$")
        assert verify_secret(user.password_hash, "s3cret-pw") and verify_secret(user.pin_hash, "4321")


@pytest.mark.parametrize(("args", "message"), [
    (["--role", "pilot"], "role: unknown role(s) pilot"),
    (["--role", "operator", "--pin", "12"], "pin: a PIN is 4 to 8 digits"),
    (["--role", "operator", "--password", "short"], "password: the password needs at least 8 characters"),
])
def test_user_add_refuses_bad_input_with_the_field_named(mes, args, message) -> None:
    mes("plant", "load")
    base = ["--password", "long-enough", "--pin", "1234"]
    result = mes("user", "add", "op.x", *base, *args)
    assert result.exit_code == 1 and message in result.output


def test_token_create_prints_only_the_token_and_it_opens_the_api(mes, client) -> None:
    mes("plant", "load")
    mes("user", "add", "view.a", "--role", "viewer", "--password", "long-enough", "--pin", "")
    result = mes("token", "create", "--user", "view.a")
    token = result.output.strip()
    assert result.exit_code == 0 and len(token) >= 43 and "\n" not in token
    response = client.get("/api/v1/lines", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and len(response.json["lines"]) == 15


def test_token_is_stored_as_its_sha256_only(mes, sessions) -> None:
    mes("plant", "load")
    mes("user", "add", "view.a", "--role", "viewer", "--password", "long-enough", "--pin", "")
    result = mes("token", "create", "--user", "view.a", "--scope", "line:7", "--scope", "machine:RWA-BAL1")
    token = result.output.strip()
    with sessions() as session:
        row = session.scalars(select(ApiToken)).one()
        assert token not in row.token_hash and len(row.token_hash) == 64
        assert row.scopes == ["line:7", "machine:RWA-BAL1"]


def test_token_with_an_unknown_scope_is_refused(mes) -> None:
    mes("plant", "load")
    mes("user", "add", "view.a", "--role", "viewer", "--password", "long-enough", "--pin", "")
    result = mes("token", "create", "--user", "view.a", "--scope", "line:99")
    assert result.exit_code == 1 and "scope 'line:99' names no configured line" in result.output


def test_revoked_token_is_refused(mes, client) -> None:
    mes("plant", "load")
    mes("user", "add", "view.a", "--role", "viewer", "--password", "long-enough", "--pin", "")
    token = mes("token", "create", "--user", "view.a").output.strip()
    assert mes("token", "revoke", token).exit_code == 0
    response = client.get("/api/v1/lines", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and "revoked" in response.json["error"]


def test_instruments_and_qualifications_are_administered_from_the_cli(mes, sessions) -> None:
    from mes.models import Instrument, UserQualification

    mes("plant", "load")
    mes("user", "add", "op.q", "--role", "operator", "--password", "long-enough", "--pin", "1234")
    assert mes("user", "qualify", "op.q", "--qualification", "ESD", "--until", "2027-06-30").exit_code == 0
    assert mes("instrument", "add", "TW-1", "--name", "Torque wrench", "--kind", "torque",
               "--due", "2027-01-31").exit_code == 0
    assert mes("instrument", "calibrate", "TW-1", "--due", "2028-01-31").exit_code == 0
    bad = mes("user", "qualify", "op.q", "--qualification", "YOGA", "--until", "2027-06-30")
    assert bad.exit_code == 1 and "unknown qualification 'YOGA'" in bad.output
    with sessions() as session:
        assert session.scalars(select(UserQualification.qualification_code)).all() == ["ESD"]
        assert session.scalars(select(Instrument.calibration_due)).one().isoformat() == "2028-01-31"


def test_a_new_token_never_reads_as_a_command_line_option(mes) -> None:
    mes("plant", "load")
    mes("user", "add", "view.b", "--role", "viewer", "--password", "long-enough", "--pin", "")
    for _ in range(20):
        token = mes("token", "create", "--user", "view.b").output.strip()
        assert token.startswith("mes_")
        assert mes("token", "revoke", token).exit_code == 0

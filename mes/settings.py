"""Settings read from the environment once, at start-up, into a frozen object."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """Everything the app, CLI and adapters need to know about their surroundings."""

    database_url: str
    instance_path: Path
    config_dir: Path
    secret_key: str | None = field(repr=False)  # None until the web app first needs one
    session_idle: timedelta = timedelta(hours=12)  # a browser session ends after this long unused

    def with_(self, **changes: object) -> Settings:
        """A copy with some fields changed (tests use it)."""
        return replace(self, **changes)  # type: ignore[arg-type]


def _stored_secret_key(instance_path: Path) -> str | None:
    """MES_SECRET_KEY, else the key kept in the instance folder, else None (the app makes one)."""
    if key := os.environ.get("MES_SECRET_KEY"):
        return key
    path = instance_path / "secret_key"
    return path.read_text().strip() if path.exists() else None


def ensure_secret_key(settings: Settings) -> str:
    """The secret key, created and kept in the instance folder on first use so sessions survive restarts."""
    if settings.secret_key:
        return settings.secret_key
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    path = settings.instance_path / "secret_key"
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


def load_settings() -> Settings:
    """Build settings from MES_* environment variables with sensible local defaults."""
    instance_path = Path(os.environ.get("MES_INSTANCE_PATH", REPO_ROOT / "instance")).resolve()
    default_url = f"sqlite:///{instance_path / 'mes.db'}"
    return Settings(
        database_url=os.environ.get("MES_DATABASE_URL", default_url),
        instance_path=instance_path,
        config_dir=Path(os.environ.get("MES_CONFIG_DIR", REPO_ROOT / "config")).resolve(),
        secret_key=_stored_secret_key(instance_path),
        session_idle=timedelta(minutes=int(os.environ.get("MES_SESSION_IDLE_MINUTES", "720"))),
    )

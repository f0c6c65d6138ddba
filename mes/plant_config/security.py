"""An OPC UA endpoint's channel security as configured: policy, mode, certificates, user token, trust list.

Part of the plant configuration (validated at load); `line_adapters.security` applies it to a client.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, SecretStr, field_validator, model_validator

POLICY_NAMES = ("Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss")
DEPRECATED = ("Basic128Rsa15", "Basic256")  # SHA-1 and RSA-1.5: deprecated by OPC UA 1.04


class SecuritySettings(BaseModel):
    """How one endpoint's channel is secured. Committed with the plant configuration: give secrets as `password_env`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: Literal["None", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"] = "None"
    mode: Literal["Sign", "SignAndEncrypt"] | None = None
    certificate: Path | None = None  # the client's application instance certificate, DER or PEM
    private_key: Path | None = None
    username: str | None = None
    password: SecretStr | None = None
    password_env: str | None = None  # name of the environment variable holding the password
    trust_list: Path | None = None  # folder of trusted server (or CA) certificates
    revocation_list: Path | None = None  # folder of CRLs

    @field_validator("policy", mode="before")
    @classmethod
    def _not_deprecated(cls, value: Any) -> Any:
        name = str(value).rsplit("#", 1)[-1]
        if name.replace("_", "").lower() in {d.lower() for d in DEPRECATED}:
            raise ValueError(f"security policy {name} is deprecated and refused; use one of {', '.join(POLICY_NAMES)}")
        return value

    @model_validator(mode="after")
    def _complete(self) -> Self:
        files = ("certificate", "private_key", "trust_list", "revocation_list")
        if self.policy == "None":
            given = [f for f in ("mode", *files) if getattr(self, f) is not None]
            if given:
                raise ValueError(f"{', '.join(given)} given but policy is None: set a security policy, "
                                 "or the channel would be unsecured")
        else:
            if self.mode is None:
                raise ValueError(f"mode is required with policy {self.policy}: Sign or SignAndEncrypt")
            missing = [f for f in files[:3] if getattr(self, f) is None]
            if missing:
                raise ValueError(f"{', '.join(missing)} required with policy {self.policy}")
        if self.password is not None and self.password_env is not None:
            raise ValueError("give password or password_env, not both")
        if (self.username is None) != (self.password is None and self.password_env is None):
            raise ValueError("username needs password or password_env, and they need username")
        return self

    def resolved(self, base: Path) -> SecuritySettings:
        """These settings with relative paths taken from `base` (the configuration file's folder)."""
        paths = {f: base / p for f in ("certificate", "private_key", "trust_list", "revocation_list")
                 if (p := getattr(self, f)) is not None and not p.is_absolute()}
        return self.model_copy(update=paths)

    def password_value(self) -> str | None:
        """The password, from the settings or the environment variable they name."""
        if self.password_env is not None:
            value = os.environ.get(self.password_env)
            if not value:
                raise ValueError(f"password_env: environment variable {self.password_env} is not set")
            return value
        return self.password.get_secret_value() if self.password is not None else None

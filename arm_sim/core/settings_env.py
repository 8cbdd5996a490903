"""The ARM_SIM_* variables as a pydantic-settings model: types, ranges and choices in one place, and a refusal that
names the variable, the value given and the value expected."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from arm_sim.core.settings import LOG_LEVELS, port_range

Port = Annotated[int, Field(ge=0, lt=65536)]
Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]


# What each ARM_SIM_* setting must be, in the words a refusal uses ("ARM_SIM_PORT must be …, not 'abc'").
_EXPECTED = {
    "port": "a port number (0 for a free one)",
    "imds_port": "a port number (0 for a free one)",
    "vault_ports": "a port range LO-HI, e.g. 8600-8699",
    "proxy_port": "a port number (0 for a free one) or off",
    "directory_delay": "a number of seconds, 0 or more",
    "shutdown_grace": "a number of seconds, 0 or more",
    "log_level": f"one of {', '.join(LOG_LEVELS)}",
    "log_format": "one of text, json",
    "lro": "one of async, sync",
    "rbac": "one of enforce, audit, off",
    "unknown_types": "one of refuse, store",
}


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _off(value: object) -> object:
    return None if isinstance(value, str) and value.strip().lower() == "off" else value


class EnvSettings(BaseSettings):
    # An empty variable means "the default", as it always has (`ARM_SIM_PORT= arm-sim serve`).
    model_config = SettingsConfigDict(env_prefix="ARM_SIM_", env_ignore_empty=True, extra="ignore")

    home: str = ".arm-sim"
    database_url: str = ""
    host: str = "127.0.0.1"
    public_host: str = "localhost"
    port: Port = 8443
    imds_port: Port = 8480
    vault_ports: Annotated[tuple[int, int], NoDecode] = (8600, 8699)  # LO-HI, not JSON
    proxy_port: Annotated[Port | None, BeforeValidator(_off)] = 8444
    log_level: Annotated[Literal["critical", "error", "warning", "info", "debug", "trace"],
                         BeforeValidator(_lower)] = "info"
    log_format: Annotated[Literal["text", "json"], BeforeValidator(_lower)] = "text"
    lro: Annotated[Literal["async", "sync"], BeforeValidator(_lower)] = "async"
    rbac: Annotated[Literal["enforce", "audit", "off"], BeforeValidator(_lower)] = "enforce"
    directory_delay: Seconds = 0.0
    tenant_id: str = ""
    subscription_id: str = ""
    client_id: str = ""
    client_secret: str = ""
    shutdown_grace: Seconds = 30.0
    unknown_types: Annotated[Literal["refuse", "store"], BeforeValidator(_lower)] = "refuse"

    @field_validator("vault_ports", mode="before")
    @classmethod
    def _range(cls, value: object) -> object:
        return port_range(value) if isinstance(value, str) else value


class _Given(EnvSettings):
    """The same model over a mapping handed in (tests): its values only, never os.environ behind them."""

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def read(env: Mapping[str, str] | None) -> EnvSettings:
    """os.environ (env None) or the mapping given; ValueError naming the first bad variable."""
    given = os.environ if env is None else env
    try:
        if env is None:
            return EnvSettings()
        fields = {k.removeprefix("ARM_SIM_").lower(): v for k, v in env.items()
                  if k.startswith("ARM_SIM_") and v != ""}
        return _Given.model_validate({k: v for k, v in fields.items() if k in EnvSettings.model_fields})
    except ValidationError as e:
        first = e.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        name = f"ARM_SIM_{field.upper()}"
        raise ValueError(f"{name} must be {_EXPECTED.get(field, first['msg'])}, not {given.get(name)!r}") from None

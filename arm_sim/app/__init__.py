"""The composition root: builds the engine, runs migrations and bootstrap, and mounts every host."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from arm_sim import __version__
from arm_sim.core.private import private_home
from arm_sim.core.settings import Settings
from arm_sim.db import migrate
from arm_sim.db.engine import make_engine, make_sessionmaker
from arm_sim.domain.runtime import Runtime
from arm_sim.hosts.arm import openapi as arm_openapi
from arm_sim.hosts.arm import routes as arm_routes
from arm_sim.hosts.entra import routes as entra_routes
from arm_sim.hosts.graph import routes as graph_routes
from arm_sim.hosts.http import ByHost, Lane, RequestIds, internal_error
from arm_sim.hosts.imds import lane as imds_lane
from arm_sim.hosts.imds import routes as imds_routes
from arm_sim.hosts.keyvault import routes as keyvault_routes
from arm_sim.hosts.sim import console as sim_console
from arm_sim.hosts.sim import inspect as sim_inspect
from arm_sim.hosts.sim import reset as sim_reset
from arm_sim.hosts.sim import routes as sim_routes
from arm_sim.resources import bootstrap


@dataclass
class Apps:
    runtime: Runtime
    main: FastAPI  # Entra, Graph, /_sim and the cloud metadata; its OpenAPI document also describes ARM
    identity: FastAPI
    vaults: FastAPI
    main_listener: ASGIApp  # what the main HTTPS listener serves: ARM's lane in front of `main`
    vaults_listener: ASGIApp  # what every vault port serves: the data plane's lane in front of `vaults`
    identity_listener: ASGIApp  # what the identity listener serves: IMDS's token lane in front of `identity`


def _internal_error(request: Request, exc: Exception) -> Response:
    return internal_error(exc)


def _fastapi(title: str, runtime: Runtime) -> FastAPI:
    app = FastAPI(title=title, version=__version__, docs_url=None, redoc_url=None)
    app.state.runtime = runtime
    app.add_exception_handler(Exception, _internal_error)
    app.add_middleware(RequestIds)
    return app


def _runtime(settings: Settings) -> Runtime:
    return Runtime(settings, make_sessionmaker(make_engine(settings.db_url)))


def prepare(settings: Settings) -> Runtime:
    """Migrate the database and create the bootstrap state if this is the first start."""
    private_home(settings.home)
    migrate.upgrade(settings.db_url)
    runtime = _runtime(settings)
    with runtime.unit() as ctx:
        bootstrap.ensure(ctx)
    return runtime


def create_apps(settings: Settings, runtime: Runtime | None = None) -> Apps:
    runtime = runtime or _runtime(settings)
    main = _fastapi("arm-sim: ARM, Entra ID, Graph and the simulator API", runtime)
    main.include_router(arm_routes.router)  # the cloud metadata routes
    main.include_router(sim_routes.router)
    main.include_router(sim_reset.router)
    main.include_router(sim_inspect.router)
    main.include_router(sim_console.router)
    main.include_router(graph_routes.router)
    main.include_router(entra_routes.router)
    generated = main.openapi
    # replacing app.openapi is FastAPI's documented way to extend the schema; mypy sees a method assignment
    main.openapi = lambda: arm_openapi.merge(generated())  # type: ignore[method-assign]
    identity = _fastapi("arm-sim: identity endpoints (IMDS, App Service)", runtime)
    identity.include_router(imds_routes.router)
    vaults = _fastapi("arm-sim: Key Vault data plane", runtime)
    vaults.include_router(keyvault_routes.router)  # the listener's health answer
    # ARM's paths and the vault data plane never enter FastAPI: they parse their own paths, and FastAPI's
    # per-request machinery would be the largest cost of the hottest paths. Every other path is FastAPI's.
    vaults_listener = Lane(vaults, partial(keyvault_routes.vault_request, runtime), keyvault_routes.is_data_plane)
    # the main listener also serves every vault by its host name (`{name}.vault.localhost`, and through the proxy
    # `{name}.vault.azure.net`): no vault needs a port of its own
    main_listener = ByHost(partial(keyvault_routes.is_vault_host, settings.public_host), vaults_listener,
                           Lane(main, partial(arm_routes.arm, runtime), arm_routes.is_arm_path))
    identity_listener = imds_lane.TokenLane(identity)  # IMDS token GETs never enter FastAPI (hosts/imds/lane.py)
    return Apps(runtime, main, identity, vaults, main_listener, vaults_listener, identity_listener)

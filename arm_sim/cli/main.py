"""`arm-sim serve|migrate|env|exec|clock|reset|openapi|deploy`.

`env`, `exec`, `deploy` and `clock` talk to the server running for the home (found through server.json, see
core/discovery.py) and import only what they need: nothing of the database stack or the web framework
(tests/test_discovery.py checks it, bench/cli_start.py measures it). `serve`, `migrate`, `reset` and `openapi`
load the whole application, as they must.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from arm_sim.core.settings import LOG_LEVELS, Settings, from_env, port_range

if TYPE_CHECKING:
    from arm_sim.cli.client import Server


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="arm-sim", description="A local simulation of Azure's managed identity "
                                "lifecycle: ARM, Entra ID, Graph, IMDS and Key Vault.")
    p.add_argument("--home", help="data directory (ARM_SIM_HOME, default ./.arm-sim)")
    p.add_argument("--database-url", help="SQLAlchemy URL (ARM_SIM_DATABASE_URL, default SQLite in the home)")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run the simulator (migrates first)",
                       description="Run the simulator. Once every listener serves it writes HOME/server.json (the "
                                   "real URLs and ports) and prints one line: `arm-sim ready URL (identity URL, "
                                   "vaults LO-HI, data HOME)`.")
    s.add_argument("--host", help="the address to listen on (ARM_SIM_HOST, default 127.0.0.1)")
    s.add_argument("--public-host", help="the host name in the URLs handed out and in the certificate "
                                         "(ARM_SIM_PUBLIC_HOST, default localhost)")
    s.add_argument("--port", type=_port, help="the HTTPS port of ARM, Entra ID, Graph and /_sim (ARM_SIM_PORT, "
                                              "default 8443; 0: a free one)")
    s.add_argument("--imds-port", type=_port, help="the identity endpoints' HTTP port (ARM_SIM_IMDS_PORT, default "
                                                   "8480; 0: a free one)")
    s.add_argument("--proxy-port", type=_proxy_port, metavar="PORT|off",
                   help="the HTTP proxy that answers Azure's own host names (ARM_SIM_PROXY_PORT, default 8444; 0: a "
                        "free one; off: none)")
    s.add_argument("--vault-ports", type=_port_range, metavar="LO-HI",
                   help="the Key Vault ports, one per vault (ARM_SIM_VAULT_PORTS, default 8600-8699)")
    s.add_argument("--log-level", type=str.lower, choices=LOG_LEVELS)
    s.add_argument("--workers", type=_positive, default=1, metavar="N",
                   help="server processes sharing the listeners and the database (default 1; PostgreSQL for N > 1 "
                        "is best, SQLite works)")
    sub.add_parser("migrate", help="apply database migrations")
    e = sub.add_parser("env", help="print the running server's client settings as shell exports, JSON or dotenv")
    e.add_argument("--format", choices=["shell", "json", "dotenv"], default="shell")
    _inside_args(e, "add the identity endpoint variables of")
    x = sub.add_parser("exec", help="run a command as if inside a VM or site: exec [--proxy] --vm NAME [-g RG] -- CMD "
                                    "...; or exec --proxy -- CMD (as the bootstrap principal, through the proxy)")
    _inside_args(x, "run as if inside")
    x.add_argument("cmd", nargs=argparse.REMAINDER, help="the command and its arguments, after --")
    c = sub.add_parser("clock", help="show or change the simulated clock (through the running server, if any)")
    c.add_argument("action", nargs="?", choices=["show", "advance", "freeze", "unfreeze"], default="show")
    c.add_argument("duration", nargs="?", help="for advance: 46d, 2h30m, 90s")
    sub.add_parser("reset", help="forget all state (keeps the TLS files; stop the server first)")
    o = sub.add_parser("openapi", help="write the OpenAPI document of each listener")
    o.add_argument("--out", default="openapi")
    d = sub.add_parser("deploy", help="deploy an ARM template to the running simulator: deploy -g RG TEMPLATE [-p k=v]")
    d.add_argument("-g", "--resource-group", required=True, metavar="RG", help="the target resource group")
    d.add_argument("template", help="the template file (JSON, comments allowed)")
    d.add_argument("-p", "--parameters", action="append", default=[], metavar="K=V|@FILE",
                   help="a parameter value NAME=VALUE, or @params.json; repeatable")
    d.add_argument("-n", "--name", help="the deployment name (default: the template file's name)")
    d.add_argument("--mode", choices=["Incremental", "Complete"], default="Incremental")
    d.add_argument("--what-if", action="store_true", help="show what would change, deploy nothing")
    return p


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number, 1 or more: {text!r}")
    return n


def _port(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = -1
    if not 0 <= n < 65536:
        raise argparse.ArgumentTypeError(f"must be a port number (0 for a free one): {text!r}")
    return n


def _proxy_port(text: str) -> int | str:
    return "off" if text.strip().lower() == "off" else _port(text)


def _port_range(text: str) -> tuple[int, int]:
    try:
        return port_range(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _inside_args(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--proxy", action="store_true",
                   help="Azure's own host names through the simulator's proxy: HTTPS_PROXY, HTTP_PROXY, NO_PROXY, "
                        "the CA files and the credential, nothing simulator-specific")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--vm", metavar="NAME", help=f"{what} this virtual machine (AZURE_POD_IDENTITY_AUTHORITY_HOST)")
    which.add_argument("--site", metavar="NAME", help=f"{what} this App Service site (IDENTITY_ENDPOINT/HEADER)")
    p.add_argument("-g", "--resource-group", metavar="RG", help="the resource group, when the name is not unique")


def settings_from(args: argparse.Namespace) -> Settings:
    s = from_env().with_(
        home=Path(args.home) if args.home else None, database_url=args.database_url,
        host=getattr(args, "host", None), public_host=getattr(args, "public_host", None),
        port=getattr(args, "port", None), imds_port=getattr(args, "imds_port", None),
        vault_ports=getattr(args, "vault_ports", None), log_level=getattr(args, "log_level", None),
    )
    proxy = getattr(args, "proxy_port", None)
    return s if proxy is None else replace(s, proxy_port=None if proxy == "off" else proxy)


def _home(args: argparse.Namespace) -> Path:
    """The home a command's server is found in (without reading, or validating, every other setting)."""
    return Path(args.home or os.environ.get("ARM_SIM_HOME") or ".arm-sim")


def _values(server: Server, args: argparse.Namespace) -> dict[str, str]:
    from arm_sim.cli import client

    inside = client.identity_env(client.Client(server), args.vm, args.site, args.resource_group) if (
        args.vm or args.site) else {}
    if args.proxy:
        return client.proxy_values(server, inside, args.vm, dict(os.environ))
    return client.env_values(server) | inside


def _env(args: argparse.Namespace) -> int:
    from arm_sim.cli import client

    print(client.format_env(_values(client.find(_home(args)), args), args.format))
    return 0


def _exec(args: argparse.Namespace) -> int:
    import subprocess

    from arm_sim.cli import client

    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        print("arm-sim exec needs a command after --, e.g. arm-sim exec --vm vm1 -- python app.py", file=sys.stderr)
        return 2
    if not (args.vm or args.site or args.proxy):
        print("arm-sim exec needs --vm NAME, --site NAME or --proxy (see arm-sim exec --help)", file=sys.stderr)
        return 2
    values = _values(client.find(_home(args)), args)
    env = (client.proxied_env if args.proxy else client.inside_env)(values, dict(os.environ))
    try:
        return subprocess.run(cmd, env=env).returncode
    except FileNotFoundError:
        print(f"arm-sim exec: command not found: {cmd[0]}", file=sys.stderr)
        return 127


def _clock(args: argparse.Namespace) -> int:
    import json

    from arm_sim.cli import client

    if args.action == "advance" and not args.duration:
        print("arm-sim clock advance needs a duration such as 46d", file=sys.stderr)
        return 2
    try:
        server = client.find(_home(args))
    except client.NoServer:  # the clock lives in the database: change it there (it loads the whole stack)
        from arm_sim.app.admin import clock_command
        from arm_sim.core.errors import DomainError

        try:
            state = clock_command(settings_from(args), args.action, args.duration)
        except DomainError as e:
            raise client.CommandError(f"{e.code}: {e.message}") from None
    else:
        c = client.Client(server)
        if args.action == "show":
            state = c.call("GET", "/_sim/clock", api_version=None).body
        else:
            body = {"duration": args.duration} if args.action == "advance" else {}
            state = c.call("POST", f"/_sim/clock/{args.action}", body, api_version=None).body
    print(json.dumps(state, indent=2))
    return 0


def _reset(args: argparse.Namespace) -> int:
    """Through the running server when there is one (its caches go with the data); else in the database, under
    the home's lock, which a server holds while it runs."""
    from arm_sim.cli import client

    try:
        server = client.find(_home(args))
    except client.NoServer:
        pass
    else:
        client.Client(server).call("POST", "/_sim/reset", {}, api_version=None)
        print(f"state reset (through the server, pid {server.info.pid})")
        return 0
    from arm_sim.app.admin import HomeInUse, reset

    try:
        reset(settings_from(args))
    except HomeInUse as e:
        raise client.CommandError(str(e)) from None
    print("state reset")
    return 0


def _deploy(args: argparse.Namespace) -> int:
    from arm_sim.cli import client
    from arm_sim.cli.deploy import deploy

    return deploy(client.find(_home(args)), args.resource_group, args.template, args.parameters, args.name,
                  args.mode, args.what_if)


def _quit(_sig: int, _frame: object) -> None:
    raise SystemExit(0)


def _serve(args: argparse.Namespace) -> int:
    import signal

    signal.signal(signal.SIGTERM, _quit)  # stopped while loading: nothing to undo (serve takes the signals over)
    from arm_sim.app.server import serve

    serve(settings_from(args), args.workers)
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from arm_sim.app import prepare

    prepare(settings_from(args))
    print("migrations applied")
    return 0


def _openapi(args: argparse.Namespace) -> int:
    from arm_sim.app.admin import write_openapi

    for path in write_openapi(settings_from(args), Path(args.out)):
        print(path)
    return 0


_COMMANDS = {"serve": _serve, "migrate": _migrate, "env": _env, "exec": _exec, "clock": _clock, "reset": _reset,
             "deploy": _deploy, "openapi": _openapi}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from arm_sim.cli.client import CommandError

    try:
        return _COMMANDS[args.command](args)
    except CommandError as e:
        print(f"arm-sim {args.command}: {e}", file=sys.stderr)
        return 1
    except ValueError as e:  # a bad ARM_SIM_* setting (from_env says which)
        if "ARM_SIM_" not in str(e) and "port range" not in str(e):
            raise
        print(f"arm-sim: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `arm-sim … | head`: the reader has gone, which is no error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # (so the exit's flush is quiet too)
        return 0


if __name__ == "__main__":
    raise SystemExit(main())

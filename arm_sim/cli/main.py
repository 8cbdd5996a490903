"""`arm-sim serve|migrate|env|exec|clock|reset|openapi|deploy`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from arm_sim.core.settings import Settings, from_env


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="arm-sim", description="A local simulation of Azure's managed identity "
                                "lifecycle: ARM, Entra ID, Graph, IMDS and Key Vault.")
    p.add_argument("--home", help="data directory (ARM_SIM_HOME, default ./.arm-sim)")
    p.add_argument("--database-url", help="SQLAlchemy URL (ARM_SIM_DATABASE_URL, default SQLite in the home)")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run the simulator (migrates first)")
    s.add_argument("--host")
    s.add_argument("--public-host")
    s.add_argument("--port", type=int)
    s.add_argument("--imds-port", type=int)
    s.add_argument("--log-level")
    s.add_argument("--workers", type=_positive, default=1, metavar="N",
                   help="server processes sharing the listeners and the database (default 1; PostgreSQL for N > 1 "
                        "is best, SQLite works)")
    sub.add_parser("migrate", help="apply database migrations")
    e = sub.add_parser("env", help="print client settings as shell exports, JSON or dotenv")
    e.add_argument("--format", choices=["shell", "json", "dotenv"], default="shell")
    _inside_args(e, "add the identity endpoint variables of")
    x = sub.add_parser("exec", help="run a command as if inside a VM or site: exec --vm NAME [-g RG] -- CMD ...")
    _inside_args(x, "run as if inside", required=True)
    x.add_argument("cmd", nargs=argparse.REMAINDER, help="the command and its arguments, after --")
    c = sub.add_parser("clock", help="show or change the simulated clock")
    c.add_argument("action", nargs="?", choices=["show", "advance", "freeze", "unfreeze"], default="show")
    c.add_argument("duration", nargs="?", help="for advance: 46d, 2h30m, 90s")
    sub.add_parser("reset", help="forget all state (keeps the TLS files)")
    o = sub.add_parser("openapi", help="write the OpenAPI document of each listener")
    o.add_argument("--out", default="openapi")
    d = sub.add_parser("deploy", help="deploy an ARM template to a running simulator: deploy -g RG TEMPLATE [-p k=v]")
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


def _inside_args(p: argparse.ArgumentParser, what: str, required: bool = False) -> None:
    which = p.add_mutually_exclusive_group(required=required)
    which.add_argument("--vm", metavar="NAME", help=f"{what} this virtual machine (AZURE_POD_IDENTITY_AUTHORITY_HOST)")
    which.add_argument("--site", metavar="NAME", help=f"{what} this App Service site (IDENTITY_ENDPOINT/HEADER)")
    p.add_argument("-g", "--resource-group", metavar="RG", help="the resource group, when the name is not unique")


def _exec(settings: Settings, args: argparse.Namespace) -> int:
    import os
    import subprocess

    from arm_sim.app.admin import exec_env

    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        print("arm-sim exec needs a command after --, e.g. arm-sim exec --vm vm1 -- python app.py", file=sys.stderr)
        return 2
    env = exec_env(settings, args.vm, args.site, args.resource_group, dict(os.environ))
    try:
        return subprocess.run(cmd, env=env).returncode
    except FileNotFoundError:
        print(f"arm-sim exec: command not found: {cmd[0]}", file=sys.stderr)
        return 127


def settings_from(args: argparse.Namespace) -> Settings:
    s = from_env()
    return s.with_(
        home=Path(args.home) if args.home else None, database_url=args.database_url,
        host=getattr(args, "host", None), public_host=getattr(args, "public_host", None),
        port=getattr(args, "port", None), imds_port=getattr(args, "imds_port", None),
        log_level=getattr(args, "log_level", None),
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = settings_from(args)
    if args.command == "serve":
        from arm_sim.app.server import serve

        serve(settings, args.workers)
    elif args.command == "migrate":
        from arm_sim.app import prepare

        prepare(settings)
        print("migrations applied")
    elif args.command in ("env", "exec"):
        from arm_sim.app.admin import CommandError, env_values, format_env

        try:
            if args.command == "exec":
                return _exec(settings, args)
            print(format_env(env_values(settings, args.vm, args.site, args.resource_group), args.format))
        except CommandError as e:
            print(f"arm-sim {args.command}: {e}", file=sys.stderr)
            return 1
    elif args.command == "clock":
        from arm_sim.app.admin import clock_command

        if args.action == "advance" and not args.duration:
            print("arm-sim clock advance needs a duration such as 46d", file=sys.stderr)
            return 2
        print(json.dumps(clock_command(settings, args.action, args.duration), indent=2))
    elif args.command == "reset":
        from arm_sim.app.admin import reset

        reset(settings)
        print("state reset")
    elif args.command == "deploy":
        from arm_sim.cli.deploy import DeployError, deploy

        try:
            return deploy(settings, args.resource_group, args.template, args.parameters, args.name, args.mode,
                          args.what_if)
        except DeployError as e:
            print(f"arm-sim deploy: {e}", file=sys.stderr)
            return 1
    elif args.command == "openapi":
        from arm_sim.app.admin import write_openapi

        for path in write_openapi(settings, Path(args.out)):
            print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

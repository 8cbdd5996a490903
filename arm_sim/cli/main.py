"""`arm-sim serve|migrate|env|exec|clock|reset|openapi|deploy|oidc|console|events|audit|explain|graph`.

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

from arm_sim.core.settings import LOG_FORMATS, LOG_LEVELS, Settings, from_env, port_range

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
    s.add_argument("--log-format", type=str.lower, choices=LOG_FORMATS,
                   help="the request log on stderr: text lines (default) or JSON lines (ARM_SIM_LOG_FORMAT)")
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
    x.add_argument("--workload-identity", metavar="IDENTITY",
                   help="run as a pod with workload identity runs: this user-assigned identity's AZURE_CLIENT_ID, "
                        "AZURE_TENANT_ID, AZURE_AUTHORITY_HOST and AZURE_FEDERATED_TOKEN_FILE (needs --subject)")
    x.add_argument("--subject", help="with --workload-identity: the assertion's subject, e.g. "
                                     "system:serviceaccount:NS:SA")
    x.add_argument("--issuer", help="with --workload-identity: the issuer (default: that of the identity's federated "
                                    "credential for the subject)")
    x.add_argument("--audience", help="with --workload-identity: the assertion's audience "
                                      "(default api://AzureADTokenExchange)")
    x.add_argument("cmd", nargs=argparse.REMAINDER, help="the command and its arguments, after --")
    oi = sub.add_parser("oidc", help="act as an external OIDC issuer arm-sim plays: oidc token --issuer URL --subject "
                                     "SUB [--audience AUD]; oidc issuers; oidc register NAME [--issuer URL]; "
                                     "oidc unregister NAME; oidc explain IDENTITY [-g RG]")
    oi.add_argument("action", choices=["token", "issuers", "register", "unregister", "explain"])
    oi.add_argument("name", nargs="?", help="register/unregister: the issuer's name (for a cluster or CI system of "
                                            "your own); explain: the user-assigned identity's name, or an "
                                            "application's appId")
    oi.add_argument("-g", "--resource-group", metavar="RG", help="explain: the identity's resource group")
    oi.add_argument("-o", "--output", choices=["table", "json"], default="table", help="explain: text or JSON")
    oi.add_argument("--issuer", help="token: GitHub Actions (https://token.actions.githubusercontent.com), an AKS "
                                     "cluster's oidcIssuerProfile.issuerURL, or a registered issuer (URL or name); "
                                     "register: the issuer URL (https; default: arm-sim's own URL for the name)")
    oi.add_argument("--subject", help="the `sub` claim, e.g. repo:ORG/REPO:ref:refs/heads/main")
    oi.add_argument("--audience", help="the `aud` claim (default api://AzureADTokenExchange)")
    oi.add_argument("--lifetime", type=_positive, metavar="SECONDS", help="the assertion's lifetime (default 3600)")
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
    _teaching_args(sub)
    sub.add_parser("console", help="print a one-time link into the browser console (/_sim/console/) of the running "
                                   "server: valid 15 minutes, accepted once")
    return p


def _teaching_args(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`events`, `audit`, `explain`, `graph`: the identity lifecycle, read from the running server."""
    ev = sub.add_parser("events", help="the event log: events [--follow] [--resource ID|NAME] [--principal OID]")
    ev.add_argument("--resource", metavar="ID|NAME", help="a resource's events, its children's, and those of every "
                                                          "principal it had")
    ev.add_argument("--principal", metavar="OBJECT_ID", help="a principal's events (those filed under its appId too)")
    ev.add_argument("--kind", help="only this kind (* matches anything: credential.*)")
    ev.add_argument("-f", "--follow", action="store_true", help="keep printing events as they happen (Ctrl-C stops)")
    au = sub.add_parser("audit", help="orphaned grants, dangling references, expired credentials, invariant "
                                      "violations (exit 1 when there are violations)")
    ex = sub.add_parser("explain", help="why a principal may or may not do an action at a scope (RBAC and Key Vault "
                                        "access policies)")
    ex.add_argument("--principal", required=True, metavar="OBJECT_ID|RESOURCE",
                    help="an object id, or the name or id of a resource whose identity is meant")
    ex.add_argument("--action", required=True, help="an ARM action, a Key Vault data action, or a vault permission "
                                                    "such as secrets/get")
    ex.add_argument("--scope", required=True, help="a resource id (a vault, a secret under it, a group …)")
    gr = sub.add_parser("graph", help="the identity graph as a tree: resource → principal → credential → grants")
    gr.add_argument("-g", "--resource-group", metavar="RG", help="only this resource group")
    for q in (ev, au, ex, gr):
        q.add_argument("-o", "--output", choices=["table", "json"], default="table",
                       help="readable tables (default) or the simulator API's JSON")


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
        log_format=getattr(args, "log_format", None),
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
    values = client.env_values(server) | inside
    return client.inside_values(values) if inside else values


def _env(args: argparse.Namespace) -> int:
    from arm_sim.cli import client, proxy_env

    inside = bool(args.vm or args.site)
    # inside a VM or site no credential of the caller's may survive the eval (nor, by the proxy, any way around it)
    unset = (*client.NOT_INSIDE, *(proxy_env.NOT_PROXIED if args.proxy else ())) if inside else ()
    print(client.format_env(_values(client.find(_home(args)), args), args.format, unset))
    return 0


def _exec(args: argparse.Namespace) -> int:
    import subprocess

    from arm_sim.cli import client

    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        print("arm-sim exec needs a command after --, e.g. arm-sim exec --vm vm1 -- python app.py", file=sys.stderr)
        return 2
    if args.workload_identity:
        if args.vm or args.site or not args.subject:
            print("arm-sim exec --workload-identity IDENTITY needs --subject and no --vm or --site", file=sys.stderr)
            return 2
        from arm_sim.cli import workload
        return workload.run(client.find(_home(args)), args.workload_identity, args.resource_group, args.subject,
                            args.issuer, args.audience, args.proxy, cmd)
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


def _oidc(args: argparse.Namespace) -> int:
    import json

    from arm_sim.cli import client, workload
    c = client.Client(client.find(_home(args)))
    if args.action == "issuers":
        print(json.dumps(c.call("GET", "/_sim/oidc/issuers", api_version=None).body, indent=2))
        return 0
    if args.action == "explain":
        if not args.name:
            print("arm-sim oidc explain needs the identity's NAME (or an application's appId)", file=sys.stderr)
            return 2
        rows = workload.explain(c, args.name, args.resource_group)
        print(json.dumps(rows, indent=2) if args.output == "json" else workload.explain_text(rows))
        return 0
    if args.action in ("register", "unregister"):
        if not args.name:
            print(f"arm-sim oidc {args.action} needs the issuer's NAME", file=sys.stderr)
            return 2
        answer = (workload.register_issuer(c, args.name, args.issuer) if args.action == "register"
                  else workload.unregister_issuer(c, args.name))
        print(json.dumps(answer, indent=2))
        return 0
    if not args.issuer or not args.subject:
        print("arm-sim oidc token needs --issuer URL and --subject SUB", file=sys.stderr)
        return 2
    print(workload.oidc_token(c, args.issuer, args.subject, args.audience, args.lifetime)["token"])
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


def _teaching(args: argparse.Namespace) -> int:
    from arm_sim.cli import client, teaching

    server = client.find(_home(args))
    if args.command == "events":
        return teaching.events(server, args.resource, args.principal, args.kind, args.follow, args.output)
    if args.command == "explain":
        return teaching.explain(server, args.principal, args.action, args.scope, args.output)
    if args.command == "graph":
        return teaching.graph(server, args.resource_group, args.output)
    return teaching.audit(server, args.output)


def _console(args: argparse.Namespace) -> int:
    from arm_sim.cli import client

    link = client.Client(client.find(_home(args))).call("POST", "/_sim/console/links", {}, api_version=None).body
    print(link["url"])
    print(f"(one-time link, valid {int(link['expiresInSeconds']) // 60} minutes; or sign in there with the bootstrap "
          "credential `arm-sim env` prints)", file=sys.stderr)
    return 0


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
             "deploy": _deploy, "openapi": _openapi, "oidc": _oidc, "console": _console,
             **dict.fromkeys(("events", "audit", "explain", "graph"), _teaching)}


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

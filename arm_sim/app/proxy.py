"""arm-sim's HTTP proxy listener (`ARM_SIM_PROXY_PORT`, "proxy mode").

Code written for Azure builds its URLs from names: `https://{vault}.vault.azure.net`, `DefaultAzureCredential()`
with no arguments probing `http://169.254.169.254`, `az` on its default cloud. Pointed at this listener with
`HTTPS_PROXY`/`HTTP_PROXY` and handed the simulator's CA, that code runs unchanged against the simulator:

- `CONNECT host:443` for Azure's own names (`management.azure.com`, `login.microsoftonline.com`,
  `graph.microsoft.com`, `{vault}.vault.azure.net`) becomes a raw TCP tunnel to the main HTTPS listener, which
  terminates TLS for every one of those names by SNI. The proxy never sees the plaintext.
- Absolute-URI plain HTTP requests to `http://169.254.169.254/...` are the IMDS: they are rewritten to the
  identity listener's per-VM path `/vms/{vmKey}/...`.
- Everything else is refused (403) before any connection is made: the proxy never forwards to the internet.

Which VM is calling: the proxy URL carries a per-VM credential, `http://{vmName}:{vmKey}@localhost:8444`. requests
and node's proxy agents send it as `Proxy-Authorization: Basic base64(user:password)` both on CONNECT and on
absolute-URI requests; the password is the VM's IMDS key, the user part is only a label. A proxy URL with a user
but NO password sends no header at all, so the key must always be in the password slot (`user:key@`). Without a
key the IMDS answers 403 "unreachable", which the Azure SDKs read as "not on a VM" and skip at once.

Stdlib asyncio streams only; `serve()` runs on whatever loop the caller runs (beside uvicorn's servers).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import re
import socket
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from arm_sim.core.hosts import is_issuer_host

log = logging.getLogger("arm_sim.proxy")

HEAD_LIMIT = 64 * 1024  # the whole request head (request line + headers)
HEAD_TIMEOUT = 30.0  # seconds to send the request head
UPSTREAM_CONNECT_TIMEOUT = 10.0
LINGER_TIMEOUT = 2.0  # after our own answer: read (and drop) what the client still sends, so close() sends no RST
LINGER_BYTES = 1024 * 1024
CHUNK = 64 * 1024
LISTEN_BACKLOG = 2048

IMDS_HOST = "169.254.169.254"
_AZURE_HOSTS = frozenset({"management.azure.com", "login.microsoftonline.com", "graph.microsoft.com"})
# Key Vault's name rule (3-24 chars, letter first, no trailing hyphen), checked after lower-casing.
_VAULT_HOST = re.compile(r"[a-z][a-z0-9-]{1,22}[a-z0-9]\.vault\.azure\.net")
_PORT = re.compile(r"[0-9]{1,5}")
_VM_KEY = re.compile(r"[A-Za-z0-9_-]+")
_VERSION = re.compile(r"HTTP/1\.[01]")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP method / header name
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # never forwarded: a bare CR in a header smuggles a line
_HOP_BY_HOP = frozenset({"proxy-authorization", "proxy-connection", "connection", "keep-alive", "te", "trailer",
                         "upgrade"})

_REFUSAL = (
    "arm-sim's proxy answers only Azure's own host names (management.azure.com, login.microsoftonline.com, "
    "graph.microsoft.com, {vault}.vault.azure.net, IMDS at 169.254.169.254) and the OIDC issuers it plays "
    "(token.actions.githubusercontent.com, {region}.oic.prod-aks.azure.com); "
    "it never forwards to the internet: refused "
)
_NOT_ON_A_VM = (
    "IMDS unreachable: this process is not inside a virtual machine. "
    "Run it with `arm-sim exec --proxy --vm NAME` to give it that VM's identity."
)


@dataclass(frozen=True)
class ProxyRoutes:
    tls_upstream: tuple[str, int]  # the main HTTPS listener (host, port): terminates TLS for every Azure name by SNI
    identity_upstream: tuple[str, int]  # the identity listener (plain HTTP): serves /vms/{vmKey}/metadata/...


def allowed_tunnel(host: str, port: int) -> bool:
    """Whether `CONNECT host:port` may be tunnelled: Azure's own names on 443, nothing else."""
    if port != 443:
        return False
    if host.endswith("."):  # the fully-qualified spelling, once
        host = host[:-1]
    # ASCII first: str.lower() maps some non-ASCII letters (KELVIN SIGN) onto ASCII ones.
    if not host.isascii():
        return False
    host = host.lower()
    return host in _AZURE_HOSTS or _VAULT_HOST.fullmatch(host) is not None or is_issuer_host(host)


async def serve(sock: socket.socket, routes: ProxyRoutes) -> asyncio.AbstractServer:
    """Serve the proxy on `sock` (bound, listening, non-blocking) on the running loop; the caller closes the server.

    `close()` stops accepting, closes `sock` (as asyncio does with every server socket) and ends every live
    connection (tunnels included); `wait_closed()` then returns once their handlers have finished.
    """
    connections = _Connections()

    def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # A plain callback that starts our own task: Python 3.11's start_server logs an error for a handler task
        # that ends cancelled, and closing the server cancels the live ones.
        connections.start(_handle(reader, writer, routes), writer)

    # asyncio re-listens on the socket with this backlog (default 100): keep the one listeners.py asked for.
    server = await asyncio.start_server(accepted, sock=sock, limit=HEAD_LIMIT, backlog=LISTEN_BACKLOG)
    return _ProxyServer(server, connections)


# --- connection handling ------------------------------------------------------------------------------------------


class _Reject(Exception):
    """An answer of our own, then close."""

    def __init__(self, status: int, body: str, content_type: str = "text/plain; charset=utf-8") -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.content_type = content_type


_REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 411: "Length Required",
            431: "Request Header Fields Too Large", 502: "Bad Gateway"}


@dataclass
class _Head:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]

    def get_all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name]

    def get(self, name: str) -> str | None:
        values = self.get_all(name)
        return values[0] if values else None


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, routes: ProxyRoutes) -> None:
    try:
        try:
            async with asyncio.timeout(HEAD_TIMEOUT):
                head = await _read_head(reader)
        except TimeoutError:
            log.debug("proxy: request head not sent within %ss; closing", HEAD_TIMEOUT)
            return
        if head is None:  # closed before a full head: nothing to answer
            return
        if head.method == "CONNECT":
            await _tunnel(head, reader, writer, routes)
        else:
            await _plain(head, reader, writer, routes)
    except _Reject as r:
        await _answer(reader, writer, r)
    except (ConnectionError, OSError, asyncio.IncompleteReadError) as e:  # the peer went away mid-way: no error
        log.debug("proxy: connection ended: %r", e)


async def _read_head(reader: asyncio.StreamReader) -> _Head | None:
    """The request line and headers, or None if the client closed first; raises _Reject for a bad head."""
    first = await reader.read(1)
    if not first:
        return None
    if first == b"\x16":  # a TLS handshake record: the client was told https://localhost:8444 instead of http://
        raise _Reject(400, "arm-sim's proxy speaks plain HTTP: use http:// (not https://) in HTTPS_PROXY/HTTP_PROXY")
    lines: list[bytes] = []
    size = 0
    while True:
        try:
            line = first if first == b"\n" else first + await reader.readline()
            first = b""
        except ValueError:  # one line longer than the stream's limit (HEAD_LIMIT)
            raise _Reject(431, "request head larger than 64 KB") from None
        if not line.endswith(b"\n"):
            return None  # EOF mid-head
        size += len(line)
        if size > HEAD_LIMIT:
            raise _Reject(431, "request head larger than 64 KB")
        line = line.rstrip(b"\r\n")
        if not line:
            if not lines:
                continue  # RFC 9112 2.2: ignore empty lines before the request line
            break
        lines.append(line)

    if any(_CONTROL.search(line.decode("latin-1")) for line in lines):
        raise _Reject(400, "control characters in the request head")
    request_line = lines[0].decode("latin-1")
    parts = request_line.split(" ")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]) or not parts[1] or not _VERSION.fullmatch(parts[2]):
        raise _Reject(400, "malformed request line: arm-sim's proxy expects `CONNECT host:443 HTTP/1.1` or an "
                           "absolute-URI request such as `GET http://169.254.169.254/metadata/... HTTP/1.1`")
    headers: list[tuple[str, str]] = []
    for raw in lines[1:]:
        name, colon, value = raw.decode("latin-1").partition(":")
        if not colon or not _TOKEN.fullmatch(name):
            raise _Reject(400, "malformed header line in the request head")
        headers.append((name, value.strip(" \t")))
    return _Head(parts[0], parts[1], parts[2], headers)


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, r: _Reject) -> None:
    body = (r.body if r.body.endswith("\n") else r.body + "\n").encode("utf-8")
    head = (f"HTTP/1.1 {r.status} {_REASONS.get(r.status, 'Error')}\r\n"
            f"Content-Type: {r.content_type}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    try:
        writer.write(head.encode("latin-1") + body)
        await writer.drain()
        await _linger(reader, writer)
    except (ConnectionError, OSError) as e:
        log.debug("proxy: client left before the %s answer: %r", r.status, e)


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    # Closing a socket with unread input makes the kernel send RST, which can destroy our answer before the client
    # reads it (a client that sent a TLS hello right after CONNECT). So: half-close, then drain briefly.
    if writer.can_write_eof():
        writer.write_eof()
    dropped = 0
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(LINGER_TIMEOUT):
            while dropped < LINGER_BYTES:
                data = await reader.read(CHUNK)
                if not data:
                    break
                dropped += len(data)


# --- CONNECT: tunnels to the main HTTPS listener --------------------------------------------------------------------


def _authority(target: str) -> tuple[str, int]:
    """`host:port` (or `[v6]:port`) of a CONNECT target; raises _Reject(400) when it is not one."""
    if target.startswith("["):
        host, bracket, rest = target[1:].partition("]")
        port = rest[1:] if bracket and rest.startswith(":") else ""
    else:
        host, _, port = target.rpartition(":")
    if not host or not _PORT.fullmatch(port) or not 0 < int(port) < 65536 or any(c in host for c in "/@?#[] "):
        raise _Reject(400, f"malformed CONNECT target {target[:200]!r}: expected host:port, e.g. "
                           "CONNECT management.azure.com:443")
    return host, int(port)


async def _tunnel(head: _Head, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                  routes: ProxyRoutes) -> None:
    host, port = _authority(head.target)
    if not allowed_tunnel(host, port):
        log.debug("proxy: refused CONNECT %s:%s", host, port)
        raise _Reject(403, f"{_REFUSAL}CONNECT {host}:{port}")
    try:
        async with asyncio.timeout(UPSTREAM_CONNECT_TIMEOUT):
            up_reader, up_writer = await asyncio.open_connection(*routes.tls_upstream)
    except (OSError, TimeoutError) as e:
        log.debug("proxy: CONNECT %s:%s: upstream %s:%s unreachable: %r", host, port, *routes.tls_upstream, e)
        raise _Reject(502, f"arm-sim's proxy could not reach the simulator's HTTPS listener at "
                           f"{routes.tls_upstream[0]}:{routes.tls_upstream[1]} for {host}: {e}") from None
    log.debug("proxy: tunnel %s:%s", host, port)
    try:
        writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        await writer.drain()
        # Bytes the client sent after the CONNECT head (an eager TLS hello) are still in `reader`'s buffer: the
        # client-to-upstream pipe forwards them first.
        await _relay(reader, writer, up_reader, up_writer)
    finally:
        await _close(up_writer)


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    """Copy src to dst until src's EOF, then half-close dst. drain() keeps at most a buffer's worth in memory."""
    while data := await src.read(CHUNK):
        dst.write(data)
        await dst.drain()
    if dst.can_write_eof() and not dst.is_closing():
        with contextlib.suppress(OSError):  # the far side may be fully closed already
            dst.write_eof()


async def _relay(a_reader: asyncio.StreamReader, a_writer: asyncio.StreamWriter,
                 b_reader: asyncio.StreamReader, b_writer: asyncio.StreamWriter) -> None:
    """Both directions until both have ended (half-close passes through); an error on either ends both."""
    tasks = {asyncio.create_task(_pipe(a_reader, b_writer)), asyncio.create_task(_pipe(b_reader, a_writer))}
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for t in done:
            if (e := t.exception()) is not None:
                log.debug("proxy: tunnel ended: %r", e)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# --- absolute-URI requests: the IMDS ----------------------------------------------------------------------------


def _split_http_uri(target: str) -> tuple[str, str] | None:
    """(authority, path-and-query) of an `http://` absolute URI, exactly as sent; None for another form."""
    if target[:7].lower() != "http://":
        return None
    rest = target[7:]
    cut = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    authority, path = rest[:cut], rest[cut:].partition("#")[0]
    if not path.startswith("/"):
        path = "/" + path
    return authority, path


def _vm_credential(head: _Head) -> tuple[str, str] | None:
    """(user, password) from `Proxy-Authorization: Basic`, or None when there is none with a password."""
    value = head.get("proxy-authorization")
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon and password else None


def _imds_forbidden(description: str) -> _Reject:
    # 403 with "unreachable" in the body: azure-identity (Python and JS) takes it as "no IMDS here" and moves on at
    # once, where a 404, 429 or 5xx would be retried for a minute.
    return _Reject(403, json.dumps({"error": "forbidden", "error_description": description}), "application/json")


async def _plain(head: _Head, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 routes: ProxyRoutes) -> None:
    if head.target.startswith("/") or head.target == "*":
        raise _Reject(400, "this is arm-sim's HTTP proxy listener, not a web server: set HTTPS_PROXY/HTTP_PROXY to "
                           "it (`eval \"$(arm-sim env --proxy)\"`) and call Azure's own URLs")
    split = _split_http_uri(head.target)
    if split is None:
        scheme = head.target.partition(":")[0][:20]
        if "://" not in head.target:
            raise _Reject(400, f"malformed request target for {head.method}: expected an absolute URI "
                               "such as http://169.254.169.254/metadata/...")
        raise _Reject(403, f"{_REFUSAL}{head.method} {scheme}://... (use CONNECT for https)")
    authority, path = split
    if authority.lower() not in (IMDS_HOST, f"{IMDS_HOST}:80"):
        log.debug("proxy: refused %s http://%s", head.method, authority[:200])
        raise _Reject(403, f"{_REFUSAL}{head.method} http://{authority[:200]}")

    credential = _vm_credential(head)
    if credential is None:
        log.debug("proxy: IMDS %s %s without a VM credential", head.method, path.partition("?")[0])
        raise _imds_forbidden(_NOT_ON_A_VM)
    user, key = credential
    if not _VM_KEY.fullmatch(key):
        log.debug("proxy: IMDS request from %r with a malformed VM key", user)
        raise _imds_forbidden("IMDS unreachable: the proxy credential's password is not a VM's IMDS key. "
                              "Run the process with `arm-sim exec --proxy --vm NAME`.")

    body_length = _content_length(head)
    out = [f"{head.method} /vms/{key}{path} {head.version}"]
    dropped = _HOP_BY_HOP | {t.strip().lower() for v in head.get_all("connection") for t in v.split(",")}
    out += [f"{k}: {v}" for k, v in head.headers if k.lower() not in dropped]
    if head.get("host") is None:
        out.append(f"Host: {IMDS_HOST}")
    out.append("Connection: close")
    request = ("\r\n".join(out) + "\r\n\r\n").encode("latin-1")

    try:
        async with asyncio.timeout(UPSTREAM_CONNECT_TIMEOUT):
            up_reader, up_writer = await asyncio.open_connection(*routes.identity_upstream)
    except (OSError, TimeoutError) as e:
        log.debug("proxy: IMDS: identity listener %s:%s unreachable: %r", *routes.identity_upstream, e)
        # Still a 403 "unreachable", not a 5xx the SDKs would retry for a minute; the description says what broke.
        raise _imds_forbidden(f"IMDS unreachable: arm-sim's identity listener at {routes.identity_upstream[0]}:"
                              f"{routes.identity_upstream[1]} did not accept the connection ({e})") from None
    log.debug("proxy: IMDS %s %s for VM %r", head.method, path.partition("?")[0], user)
    try:
        up_writer.write(request)
        remaining = body_length
        while remaining > 0:
            data = await reader.read(min(CHUNK, remaining))
            if not data:
                raise asyncio.IncompleteReadError(b"", remaining)
            remaining -= len(data)
            up_writer.write(data)
            await up_writer.drain()
        await up_writer.drain()
        # The response, unchanged, until the identity listener closes (we asked for Connection: close).
        while data := await up_reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        await _linger(reader, writer)
    finally:
        await _close(up_writer)


def _content_length(head: _Head) -> int:
    if head.get("transfer-encoding") is not None:
        raise _Reject(411, "arm-sim's proxy takes request bodies with a Content-Length only")
    values = {v.strip() for v in head.get_all("content-length")}
    if not values:
        return 0
    if len(values) != 1 or not (value := values.pop()).isascii() or not value.isdigit():
        raise _Reject(400, "malformed Content-Length")
    return int(value)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        async with asyncio.timeout(LINGER_TIMEOUT):  # close() waits to flush: a peer that reads nothing is cut off
            await writer.wait_closed()
    except Exception:
        writer.transport.abort()


# --- the server: asyncio's, plus ending the live connections on close ---------------------------------------------


class _Connections:
    """The live connection tasks, so that closing the server ends tunnels that would otherwise live on."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[None]] = set()
        self.closing = False

    def start(self, handler: Coroutine[Any, Any, None], writer: asyncio.StreamWriter) -> None:
        if self.closing:
            handler.close()
            writer.transport.abort()
            return
        task = asyncio.get_running_loop().create_task(self._run(handler, writer))
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and (e := task.exception()) is not None:  # a bug: retrieved, logged, contained
            log.debug("proxy: connection handler failed", exc_info=e)

    async def _run(self, handler: Coroutine[Any, Any, None], writer: asyncio.StreamWriter) -> None:
        try:
            await handler
        finally:
            if self.closing:
                writer.transport.abort()  # shutting down: no lingering on peers
            else:
                writer.close()

    def cancel_all(self) -> None:
        self.closing = True
        for task in list(self.tasks):
            task.cancel()


class _ProxyServer(asyncio.AbstractServer):
    def __init__(self, server: asyncio.Server, connections: _Connections) -> None:
        self._server = server
        self._connections = connections

    def close(self) -> None:
        self._server.close()
        self._connections.cancel_all()

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._server.get_loop()

    def is_serving(self) -> bool:
        return self._server.is_serving()

    async def start_serving(self) -> None:
        await self._server.start_serving()

    async def serve_forever(self) -> None:
        await self._server.serve_forever()

    async def wait_closed(self) -> None:
        await self._server.wait_closed()
        while self._connections.tasks:
            await asyncio.gather(*self._connections.tasks, return_exceptions=True)

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return tuple(self._server.sockets)


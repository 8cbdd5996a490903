"""The proxy listener (arm_sim.app.proxy) against fake upstreams: no simulator. The proxy and the fakes run on one
asyncio loop in a background thread; the tests talk to them with blocking sockets and real clients (requests)."""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import socket
import ssl
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from arm_sim.app import proxy
from arm_sim.app.proxy import ProxyRoutes, allowed_tunnel

T = TypeVar("T")
KEY = "k3y_Of-VM1"
TOKEN_PATH = "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net"
IMDS_BODY = b'{"access_token":"fake","token_type":"Bearer"}'


class Loop:
    """An event loop in a thread; records anything reaching its exception handler (there must be nothing)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.errors: list[dict[str, Any]] = []
        self.loop.set_exception_handler(lambda _loop, ctx: self.errors.append(ctx))
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 5) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@dataclass
class Recorder:
    """What a fake upstream saw."""

    connections: int = 0
    received: list[bytes] = field(default_factory=list)


async def echo_upstream(rec: Recorder) -> asyncio.Server:
    """Stands in for the main HTTPS listener at the TCP level: echoes every byte, and on the client's half-close
    answers b"<bye>" and closes (so a test sees both directions and the half-close pass through)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        rec.connections += 1
        got = b""
        while data := await reader.read(65536):
            got += data
            writer.write(data)
            await writer.drain()
        rec.received.append(got)
        writer.write(b"<bye>")
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)


async def identity_upstream(rec: Recorder) -> asyncio.Server:
    """Stands in for the identity listener: records the request (head and Content-Length body), answers, closes."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        rec.connections += 1
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        rec.received.append(head + await reader.readexactly(length))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(IMDS_BODY), IMDS_BODY))
        await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)


def port_of(server: asyncio.Server) -> int:
    port: int = server.sockets[0].getsockname()[1]
    return port


def listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


@dataclass
class Harness:
    loop: Loop
    tunnels: Recorder
    imds: Recorder
    proxy_port: int
    server: asyncio.AbstractServer

    def connect(self) -> socket.socket:
        s = socket.create_connection(("127.0.0.1", self.proxy_port), timeout=5)
        return s

    def exchange(self, raw: bytes) -> bytes:
        """Send raw bytes, read the whole answer until the proxy closes."""
        with self.connect() as s:
            s.sendall(raw)
            return read_all(s)


def read_all(s: socket.socket) -> bytes:
    out = b""
    while data := s.recv(65536):
        out += data
    return out


def read_head(s: socket.socket) -> tuple[bytes, bytes]:
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = s.recv(65536)
        assert data, f"closed before the head: {buf!r}"
        buf += data
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head, rest


def start(loop: Loop, tls_upstream: tuple[str, int] | None = None) -> Harness:
    tunnels, imds = Recorder(), Recorder()

    async def go() -> Harness:
        echo = await echo_upstream(tunnels)
        ident = await identity_upstream(imds)
        routes = ProxyRoutes(tls_upstream=tls_upstream or ("127.0.0.1", port_of(echo)),
                             identity_upstream=("127.0.0.1", port_of(ident)))
        sock = listening_socket()
        port = sock.getsockname()[1]
        server = await proxy.serve(sock, routes)
        return Harness(loop, tunnels, imds, port, server)

    return loop.run(go())


@pytest.fixture(scope="module")
def loop() -> Iterator[Loop]:
    lp = Loop()
    yield lp
    lp.stop()


async def _closed(harness: Harness) -> None:
    harness.server.close()
    await harness.server.wait_closed()


@pytest.fixture
def h(loop: Loop) -> Iterator[Harness]:
    harness = start(loop)
    yield harness

    async def close() -> None:
        harness.server.close()
        await harness.server.wait_closed()

    loop.run(close())
    assert loop.errors == []


def basic(user_pass: str) -> str:
    return "Basic " + base64.b64encode(user_pass.encode()).decode()


# --- CONNECT ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["management.azure.com", "login.microsoftonline.com", "graph.microsoft.com",
                                  "myvault.vault.azure.net", "MANAGEMENT.Azure.COM.", "a-1.vault.azure.net",
                                  "Abcdefghijklmnopqrstuvwx.vault.azure.net"])
def test_connect_tunnels_both_ways(h: Harness, host: str) -> None:
    with h.connect() as s:
        # the head and the first tunnel bytes in one packet, as eager TLS clients do; an ignored credential
        s.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nhost: {host}:443\r\nproxy-authorization: {basic('vm:key')}\r\n"
                  f"\r\nEARLY".encode())
        head, rest = read_head(s)
        assert head == b"HTTP/1.1 200 Connection Established"
        s.sendall(b"|more")
        got = rest
        while len(got) < len(b"EARLY|more"):
            got += s.recv(65536)
        assert got == b"EARLY|more"
        s.shutdown(socket.SHUT_WR)  # half-close: the upstream still answers afterwards
        assert read_all(s) == b"<bye>"
    assert h.tunnels.connections == 1
    deadline = time.monotonic() + 2
    while not h.tunnels.received and time.monotonic() < deadline:
        time.sleep(0.01)
    assert h.tunnels.received == [b"EARLY|more"]


def test_connect_http10_without_host(h: Harness) -> None:
    with h.connect() as s:
        s.sendall(b"CONNECT management.azure.com:443 HTTP/1.0\r\n\r\n")
        head, _ = read_head(s)
        assert head.startswith(b"HTTP/1.1 200")
        s.sendall(b"ping")
        assert s.recv(4) == b"ping"
    assert h.tunnels.connections == 1


@pytest.mark.parametrize("target", [
    "example.com:443",
    "dc.services.visualstudio.com:443",
    "azcliprod.blob.core.windows.net:443",
    "management.azure.com:80",
    "management.azure.com:8443",
    "management.azure.com.evil.example:443",
    "evil-management.azure.com:443",
    "management.azure.com..:443",
    "ab.vault.azure.net:443",  # too short
    "1abc.vault.azure.net:443",  # must start with a letter
    "abc-.vault.azure.net:443",  # no trailing hyphen
    "a.bc.vault.azure.net:443",  # one label only
    "abcdefghijklmnopqrstuvwxy.vault.azure.net:443",  # 25 characters
    "vault.azure.net:443",
    "169.254.169.254:443",
    "127.0.0.1:443",
    "[::1]:443",
])
def test_connect_refused_before_any_tunnel(h: Harness, target: str) -> None:
    answer = h.exchange(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 403 Forbidden"
    assert b"Content-Type: text/plain; charset=utf-8" in lines
    assert b"Connection: close" in lines
    assert f"Content-Length: {len(body)}".encode() in lines
    assert b"never forwards to the internet: refused CONNECT" in body
    assert h.tunnels.connections == 0


@pytest.mark.parametrize("raw", [
    b"CONNECT management.azure.com HTTP/1.1\r\n\r\n",
    b"CONNECT management.azure.com:https HTTP/1.1\r\n\r\n",
    b"CONNECT management.azure.com:99999 HTTP/1.1\r\n\r\n",
    b"CONNECT :443 HTTP/1.1\r\n\r\n",
    b"CONNECT  management.azure.com:443 HTTP/1.1\r\n\r\n",
    b"CONNECT management.azure.com:443\r\n\r\n",
    b"CONNECT management.azure.com:443 HTTP/2.0\r\n\r\n",
    b"garbage\r\n\r\n",
    b"CONNECT management.azure.com:443 HTTP/1.1\r\nno colon here\r\n\r\n",
    b"GET http://169.254.169.254/metadata/x HTTP/1.1\r\nX-A: a\rInjected: b\r\n\r\n",
    b"GET http://169.254.169.254/meta\x00data HTTP/1.1\r\n\r\n",
])
def test_malformed_request_is_400(h: Harness, raw: bytes) -> None:
    answer = h.exchange(raw)
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"Connection: close" in answer
    assert h.tunnels.connections == 0


def test_connect_upstream_down_is_502(loop: Loop) -> None:
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()  # nothing listens there now
    harness = start(loop, tls_upstream=("127.0.0.1", port))
    try:
        answer = harness.exchange(b"CONNECT management.azure.com:443 HTTP/1.1\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 502 Bad Gateway\r\n")
        assert b"could not reach the simulator's HTTPS listener" in answer
    finally:
        loop.run(_closed(harness))  # on the loop's own thread: asyncio servers are not thread-safe


def test_allowed_tunnel() -> None:
    assert allowed_tunnel("management.azure.com", 443)
    assert allowed_tunnel("Graph.Microsoft.Com.", 443)
    assert allowed_tunnel("kv-1.vault.azure.net", 443)
    assert not allowed_tunnel("management.azure.com", 444)
    assert not allowed_tunnel("\u212aabc.vault.azure.net", 443)  # KELVIN SIGN lower-cases to "k"
    assert not allowed_tunnel("kv1.vault.azure.net\n", 443)


# --- absolute-URI requests: IMDS ---------------------------------------------------------------------------------


def test_imds_rewritten_to_the_vms_path(h: Harness) -> None:
    answer = h.exchange(
        f"GET http://169.254.169.254{TOKEN_PATH} HTTP/1.1\r\nHost: 169.254.169.254\r\nMetadata: true\r\n"
        f"Proxy-Authorization: {basic('vm1:' + KEY)}\r\nProxy-Connection: keep-alive\r\nConnection: keep-alive\r\n"
        f"Keep-Alive: timeout=5\r\n\r\n".encode())
    assert answer.endswith(b"\r\n\r\n" + IMDS_BODY)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    [request] = h.imds.received
    lines = request.decode().split("\r\n")
    assert lines[0] == f"GET /vms/{KEY}{TOKEN_PATH} HTTP/1.1"
    names = [line.partition(":")[0].lower() for line in lines[1:] if line]
    assert "proxy-authorization" not in names and "proxy-connection" not in names and "keep-alive" not in names
    assert "Metadata: true" in lines and "Host: 169.254.169.254" in lines
    assert [line for line in lines if line.lower().startswith("connection:")] == ["Connection: close"]
    assert KEY not in request.decode().partition("\r\n")[2]  # the key only in the path


def test_imds_http10_with_port_and_body(h: Harness) -> None:
    answer = h.exchange(
        f"POST http://169.254.169.254:80/metadata/x HTTP/1.0\r\nproxy-authorization: {basic('vm1:' + KEY)}\r\n"
        f"Content-Length: 5\r\n\r\nhello".encode())
    assert answer.endswith(IMDS_BODY)
    [request] = h.imds.received
    assert request.startswith(f"POST /vms/{KEY}/metadata/x HTTP/1.0\r\n".encode())
    assert b"\r\nHost: 169.254.169.254\r\n" in request
    assert request.endswith(b"\r\n\r\nhello")


@pytest.mark.parametrize("auth", [None, basic("vm1"), basic("vm1:"), "Basic !!notbase64", "Bearer abc",
                                  basic("vm1:bad/key"), basic("vm1:key with space")])
def test_imds_without_a_vm_key_is_403_unreachable(h: Harness, auth: str | None) -> None:
    extra = "" if auth is None else f"Proxy-Authorization: {auth}\r\n"
    answer = h.exchange(f"GET http://169.254.169.254{TOKEN_PATH} HTTP/1.1\r\nMetadata: true\r\n{extra}\r\n".encode())
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 403 Forbidden\r\n")
    assert b"Content-Type: application/json" in head
    doc = json.loads(body)
    assert doc["error"] == "forbidden" and "unreachable" in doc["error_description"]
    if auth is None:
        assert "arm-sim exec --proxy --vm NAME" in doc["error_description"]
    assert h.imds.connections == 0


@pytest.mark.parametrize("target", ["http://management.azure.com/subscriptions", "http://example.com/",
                                    "http://169.254.169.254:8080/metadata/instance", "http://169.254.169.2/",
                                    "https://management.azure.com/", "ftp://example.com/"])
def test_other_absolute_uri_is_refused(h: Harness, target: str) -> None:
    answer = h.exchange(f"GET {target} HTTP/1.1\r\nProxy-Authorization: {basic('vm1:' + KEY)}\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 403 Forbidden\r\n")
    assert b"never forwards to the internet: refused GET" in answer
    assert h.imds.connections == 0 and h.tunnels.connections == 0


def test_origin_form_is_400(h: Harness) -> None:
    answer = h.exchange(b"GET / HTTP/1.1\r\nHost: localhost:8444\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"proxy listener" in answer


def test_tls_spoken_to_the_proxy_is_400_at_once(h: Harness) -> None:
    answer = h.exchange(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"use http://" in answer


# --- robustness ------------------------------------------------------------------------------------------------------


def test_oversize_head_is_431(h: Harness) -> None:
    for raw in (b"CONNECT management.azure.com:443 HTTP/1.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n",
                b"CONNECT management.azure.com:443 HTTP/1.1\r\n" + b"X-Many: aaaaaaaaaa\r\n" * 4000 + b"\r\n"):
        answer = h.exchange(raw)
        assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert h.tunnels.connections == 0


def test_slow_head_times_out(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(proxy, "HEAD_TIMEOUT", 0.2)
    with h.connect() as s:
        s.sendall(b"CONNECT management.azure.com:443 HTTP/1.1\r\n")
        assert read_all(s) == b""  # closed, no answer


def test_client_gone_mid_way_is_no_error(h: Harness) -> None:
    with h.connect() as s:
        s.sendall(b"CONNECT management.azure.com:443 HTTP/1.1\r\nHo")
    with h.connect() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST on close
        s.sendall(b"CONNECT management.azure.com:443 HTTP/1.1\r\n\r\nabc")
        read_head(s)
    time.sleep(0.2)
    # still serving (and the fixture asserts nothing reached the loop's exception handler)
    assert h.exchange(b"GET / HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 400")


def test_many_concurrent_tunnels(h: Harness) -> None:
    async def one(i: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", h.proxy_port)
        writer.write(b"CONNECT graph.microsoft.com:443 HTTP/1.1\r\n\r\n")
        assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 200 Connection Established\r\n\r\n"
        writer.write(b"n%d" % i)
        writer.write_eof()
        got = await reader.read()
        writer.close()
        return got

    async def many() -> list[bytes]:
        return await asyncio.gather(*(one(i) for i in range(200)))

    assert h.loop.run(many(), timeout=10) == [b"n%d<bye>" % i for i in range(200)]


def test_close_ends_live_tunnels(loop: Loop) -> None:
    harness = start(loop)
    with harness.connect() as s:
        s.sendall(b"CONNECT management.azure.com:443 HTTP/1.1\r\n\r\n")
        read_head(s)

        async def close() -> None:
            harness.server.close()
            await asyncio.wait_for(harness.server.wait_closed(), 2)

        loop.run(close())
        assert read_all(s) == b""
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", harness.proxy_port), timeout=1).close()
    assert loop.errors == []


# --- real clients ------------------------------------------------------------------------------------------------


def test_requests_reaches_imds_with_the_vm_key(h: Harness) -> None:
    with requests.Session() as session:
        session.trust_env = False
        r = session.get(f"http://169.254.169.254{TOKEN_PATH}", headers={"Metadata": "true"}, timeout=5,
                        proxies={"http": f"http://vm1:{KEY}@127.0.0.1:{h.proxy_port}"})
    assert r.status_code == 200 and r.content == IMDS_BODY
    [request] = h.imds.received
    assert request.startswith(f"GET /vms/{KEY}{TOKEN_PATH} HTTP/1.1\r\n".encode())
    assert b"proxy-authorization" not in request.lower()


def test_requests_without_key_gets_unreachable(h: Harness) -> None:
    with requests.Session() as session:
        session.trust_env = False
        r = session.get(f"http://169.254.169.254{TOKEN_PATH}", headers={"Metadata": "true"}, timeout=5,
                        proxies={"http": f"http://vm1@127.0.0.1:{h.proxy_port}"})  # a user, no password: no header
    assert r.status_code == 403 and "unreachable" in r.text


def _ca_and_leaf(tmp: Path) -> tuple[Path, Path, Path]:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test proxy CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(hours=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "management.azure.com")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("management.azure.com")]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_path, cert_path, key_path = tmp / "ca.pem", tmp / "leaf.pem", tmp / "leaf.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return ca_path, cert_path, key_path


def test_requests_https_tunnel_to_a_tls_upstream(loop: Loop, tmp_path: Path) -> None:
    ca_path, cert_path, key_path = _ca_and_leaf(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    seen: list[bytes] = []
    sni: list[str | None] = []

    def on_sni(_obj: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        sni.append(name)

    context.sni_callback = on_sni

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head.split(b"\r\n")[0])
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n"
                     b"Connection: close\r\n\r\n{\"ok\":true}")
        await writer.drain()
        writer.close()

    async def go() -> asyncio.Server:
        return await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)

    tls = loop.run(go())
    harness = start(loop, tls_upstream=("127.0.0.1", port_of(tls)))
    try:
        with requests.Session() as session:
            session.trust_env = False
            r = session.get("https://management.azure.com/subscriptions?api-version=2022-12-01", timeout=5,
                            verify=str(ca_path), proxies={"https": f"http://vm1:{KEY}@127.0.0.1:{harness.proxy_port}"})
            assert r.status_code == 200 and r.json() == {"ok": True}
            with pytest.raises(requests.exceptions.ProxyError, match="403"):
                session.get("https://example.com/", timeout=5, verify=str(ca_path),
                            proxies={"https": f"http://127.0.0.1:{harness.proxy_port}"})
        assert sni == ["management.azure.com"]  # the client's own TLS, through the tunnel
        assert seen == [b"GET /subscriptions?api-version=2022-12-01 HTTP/1.1"]
    finally:
        loop.run(_closed(harness))  # on the loop's own thread: asyncio servers are not thread-safe
        tls.close()
    assert loop.errors == []

"""What the HTTP server answers by itself, against a real `queueit run`: slow clients are cut
off by the header and body read timeouts (408), and requests the parser refuses get a
problem+json 400 with X-Request-ID instead of uvicorn's plain text. Raw sockets throughout: no
HTTP client would send these."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from apikit import LiveServer
from pydantic import ValidationError
from service_process import Service, queueit_run

from queueit.config import Settings

TIMEOUT = 2.0  # header and body read timeouts of the service under test
SLOW_CLIENTS = 50


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    data_dir: Path = tmp_path_factory.mktemp("answers") / "data"
    with queueit_run(
        data_dir,
        HTTP_HEADER_TIMEOUT_SECONDS=str(TIMEOUT),
        HTTP_BODY_TIMEOUT_SECONDS=str(TIMEOUT),
        LOG_LEVEL="INFO",  # access lines too
    ) as running:
        yield running


async def _exchange(service: Service, data: bytes, wait: float) -> tuple[bytes, float]:
    """Send ``data``, read until the server closes (or ``wait`` s pass): (reply, seconds open)."""
    host, port = service.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    started = time.monotonic()
    writer.write(data)
    await writer.drain()
    reply = b""
    try:
        async with asyncio.timeout(wait):
            while chunk := await reader.read(65536):
                reply += chunk
    except TimeoutError:
        pass
    finally:
        writer.close()
    return reply, time.monotonic() - started


def _problem(reply: bytes, status: int, code: str) -> tuple[dict[str, str], dict[str, object]]:
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith(f"HTTP/1.1 {status} "), reply[:300]
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    assert headers["content-type"] == "application/problem+json", reply[:300]
    problem = json.loads(body)
    assert problem["status"] == status and problem["code"] == code, problem
    assert problem["request_id"] == headers["x-request-id"], (problem, headers)
    return headers, problem


async def test_slow_headers_are_cut_off_with_a_408(service: Service) -> None:
    half = b"GET /livez HTTP/1.1\r\nHost: queueit.test\r\nX-Request-ID: slow-client\r\nAccept: a"
    bound = TIMEOUT + 8
    results = await asyncio.gather(*(_exchange(service, half, bound) for _ in range(SLOW_CLIENTS)))
    kept = [seconds for _, seconds in results]
    print(f"\n{SLOW_CLIENTS} half-header clients kept {min(kept):.2f}-{max(kept):.2f} s")
    assert max(kept) < bound, f"slow clients still open after {bound} s"
    for reply, _ in results:
        headers, _ = _problem(reply, 408, "request_timeout")
        assert headers["x-request-id"] == "slow-client"  # its header line was complete
        assert headers["connection"] == "close"


async def test_a_connection_that_sends_nothing_is_closed(service: Service) -> None:
    reply, seconds = await _exchange(service, b"", TIMEOUT + 8)
    assert seconds < TIMEOUT + 8
    _problem(reply, 408, "request_timeout")


async def test_slow_body_is_cut_off_with_a_408(service: Service) -> None:
    # signed in, so the app gets as far as reading the body (it answers 401 before that)
    head = (
        b"POST /api/v1/sessions/join HTTP/1.1\r\nHost: queueit.test\r\n"
        + f"Authorization: Bearer {service.token('slow-body')}\r\n".encode()
        + b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
    )
    reply, seconds = await _exchange(service, head, TIMEOUT + 8)
    print(f"\nslow body kept {seconds:.2f} s")
    assert seconds < TIMEOUT + 8, "a slow body kept its connection"
    _problem(reply, 408, "request_timeout")


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(
            b"GET /api/v1/sessions/caf\xc3\xa9\xff HTTP/1.1\r\nHost: queueit.test\r\n"
            b"X-Request-ID: bad-path\r\n\r\n",
            id="invalid-utf8-path",
        ),
        pytest.param(
            b"POST /api/v1/sessions/join HTTP/1.1\r\nHost: queueit.test\r\n"
            b"X-Request-ID: te-and-cl\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"0\r\n\r\n",
            id="transfer-encoding-and-content-length",
        ),
        pytest.param(b"GET / HTTP/1.1\r\nHost queueit.test\r\n\r\n", id="header-without-colon"),
    ],
)
async def test_requests_the_parser_refuses_get_a_problem(
    service: Service, request_bytes: bytes
) -> None:
    reply, _ = await _exchange(service, request_bytes, 5)
    headers, problem = _problem(reply, 400, "bad_request")
    assert problem["type"] == "https://queueit.app/problems/bad_request"
    assert headers["connection"] == "close"


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def _flood_headers(service: Service, megabytes: int) -> tuple[bytes, int]:
    """Send a request whose one header never ends, `megabytes` MiB of it or until the server
    closes, reading all the while (as HTTP clients do): (reply, bytes sent)."""
    host, port = service.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))

    async def read_all() -> bytes:
        reply = b""
        with contextlib.suppress(ConnectionError):
            while part := await reader.read(65536):
                reply += part
        return reply

    reading = asyncio.create_task(read_all())
    writer.write(b"GET /livez HTTP/1.1\r\nHost: queueit.test\r\nX-Request-ID: big-head\r\nX-Big: ")
    sent = 0
    chunk = b"a" * 65536
    try:
        for _ in range(megabytes * 16):
            if reading.done():
                break
            writer.write(chunk)
            await writer.drain()
            sent += len(chunk)
            await asyncio.sleep(0)  # let the reader run between chunks
    except ConnectionError:
        pass
    try:
        async with asyncio.timeout(5):
            reply = await reading
    finally:
        writer.close()
    return reply, sent


async def test_headers_past_32_kib_get_a_431_and_the_server_does_not_grow(
    service: Service,
) -> None:
    """Before: 32 MiB of headers were taken; 10 such clients grew the server by 300 MiB."""
    before = _rss_kib(service.process.pid)
    results = await asyncio.gather(*(_flood_headers(service, 30) for _ in range(10)))
    after = _rss_kib(service.process.pid)
    print(f"\n10 clients sending 30 MiB headers: server RSS {before} -> {after} KiB")
    for reply, sent in results:
        headers, _ = _problem(reply, 431, "headers_too_large")
        assert headers["x-request-id"] == "big-head"
        assert headers["connection"] == "close"
        assert sent < 30 * 1024 * 1024  # cut off, not read to the end
    # headers up to the limit are still served
    fits = b"X-Fits: " + b"b" * 20_000 + b"\r\n"
    reply, _ = await _exchange(
        service,
        b"GET /livez HTTP/1.1\r\nHost: queueit.test\r\n" + fits + b"Connection: close\r\n\r\n",
        5,
    )
    assert reply.startswith(b"HTTP/1.1 200 "), reply[:200]


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    data_dir: Path = tmp_path_factory.mktemp("capped") / "data"
    with queueit_run(
        data_dir,
        HTTP_HEADER_TIMEOUT_SECONDS=str(TIMEOUT),
        HTTP_MAX_CONNECTIONS_PER_ADDRESS="12",
        HTTP_MAX_PENDING_PER_ADDRESS="5",
    ) as running:
        yield running


async def test_one_address_holds_a_bounded_number_of_half_sent_requests(capped: Service) -> None:
    """Before: 3,000 half-header connections from one address were all held."""
    half = b"GET /livez HTTP/1.1\r\nHost: queueit.test\r\nAccept: a"
    results = await asyncio.gather(*(_exchange(capped, half, TIMEOUT + 8) for _ in range(40)))
    refused = [(reply, s) for reply, s in results if reply.startswith(b"HTTP/1.1 429 ")]
    held = [(reply, s) for reply, s in results if reply.startswith(b"HTTP/1.1 408 ")]
    print(f"\n40 half-header clients: {len(held)} held, {len(refused)} refused at once")
    assert len(held) == 5 and len(refused) == 35, [r[:40] for r, _ in results]
    for reply, seconds in refused:
        headers, _ = _problem(reply, 429, "too_many_connections")
        assert headers["retry-after"] == "1"
        assert seconds < TIMEOUT  # answered before any read timeout could
    # once they are gone, the address is served again
    reply, _ = await _exchange(
        capped, b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5
    )
    assert reply.startswith(b"HTTP/1.1 200 "), reply[:200]


async def test_one_address_holds_a_bounded_number_of_connections(capped: Service) -> None:
    host, port = capped.url.removeprefix("http://").split(":")
    idle = []
    for _ in range(12):  # keep-alive connections that finished a request, then idle
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET /livez HTTP/1.1\r\nHost: queueit.test\r\n\r\n")
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 "), head
        idle.append((reader, writer))
    try:
        reply, _ = await _exchange(capped, b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n", 5)
        _problem(reply, 429, "too_many_connections")
    finally:
        for _, writer in idle:
            writer.close()
    await asyncio.sleep(0.5)
    reply, _ = await _exchange(
        capped, b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5
    )
    assert reply.startswith(b"HTTP/1.1 200 "), reply[:200]


@pytest.fixture(scope="module")
def behind_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    data_dir: Path = tmp_path_factory.mktemp("proxied") / "data"
    with queueit_run(
        data_dir, HTTP_MAX_CONNECTIONS_PER_ADDRESS="3", TRUSTED_PROXIES='["127.0.0.1"]'
    ) as running:
        yield running


async def test_a_trusted_proxys_connections_are_not_capped_per_address(
    behind_proxy: Service,
) -> None:
    """A proxy carries every client: capped like one client, it locked out all but 3."""
    host, port = behind_proxy.url.removeprefix("http://").split(":")
    idle = []
    try:
        for n in range(8):
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(
                b"GET /livez HTTP/1.1\r\nHost: queueit.test\r\n"
                + f"X-Forwarded-For: 203.0.113.{n}\r\n\r\n".encode()
            )
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 "), (n, head)
            idle.append(writer)
    finally:
        for writer in idle:
            writer.close()


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    with pytest.raises(ValidationError, match=r"proxy\.example"):
        Settings(_env_file=None, trusted_proxies=["proxy.example"])  # type: ignore[call-arg]
    settings = Settings(_env_file=None, trusted_proxies=["10.0.0.0/8", "::1"])  # type: ignore[call-arg]
    assert [str(n) for n in settings.trusted_proxy_networks] == ["10.0.0.0/8", "::1/128"]
    assert Settings(_env_file=None).trusted_proxies == []  # type: ignore[call-arg]


async def _logged(service: Service, rid: str) -> list[dict[str, object]]:
    """The log records under `rid`, once its access line is written (within 5 s)."""
    for _ in range(50):
        records = [r for r in service.log_records() if r.get("request_id") == rid]
        if any(r.get("logger") == "queueit.access" for r in records):
            return records
        await asyncio.sleep(0.1)
    raise AssertionError(f"no access line under {rid}:\n{service.log_tail()}")


def _status_logged(records: list[dict[str, object]]) -> list[object]:
    return [r["status"] for r in records if r.get("logger") == "queueit.access"]


async def test_a_malformed_chunk_is_logged_as_the_400_the_client_got(service: Service) -> None:
    """Before: answered 400, logged as an error with a traceback and an access line with status
    500 under a request id the client never got."""
    head = (
        b"POST /api/v1/sessions/join HTTP/1.1\r\nHost: queueit.test\r\n"
        + f"Authorization: Bearer {service.token('chunky')}\r\n".encode()
        + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
    )
    reply, _ = await _exchange(service, head, 5)
    headers, _ = _problem(reply, 400, "bad_request")
    records = await _logged(service, headers["x-request-id"])
    assert _status_logged(records) == [400], records
    assert not [r for r in records if r["level"] == "error" or "exception" in r], records


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        (b"GET / HTTP/1.1\r\nHost queueit.test\r\n\r\n", 400, "bad_request"),
        (b"GET /livez HTTP/1.1\r\nX-Big: " + b"a" * 40_000 + b"\r\n\r\n", 431, "headers_too_large"),
        (b"GET /livez HTTP/1.1\r\nHost: queueit.test\r\n", 408, "request_timeout"),
    ],
    ids=["parser-refusal", "headers-too-large", "header-timeout"],
)
async def test_the_servers_own_answers_have_an_access_line(
    service: Service, request_bytes: bytes, status: int, code: str
) -> None:
    """Before: the server's own 400/408 answers never appeared in the log."""
    reply, _ = await _exchange(service, request_bytes, TIMEOUT + 8)
    headers, _ = _problem(reply, status, code)
    records = await _logged(service, headers["x-request-id"])
    assert _status_logged(records) == [status], records
    assert not [r for r in records if r["level"] == "error"], records


async def test_sockets_whose_client_leaves_while_opening_log_no_error(service: Service) -> None:
    """Before: an error with a full traceback per socket."""
    token = service.token("leaver")
    async with httpx.AsyncClient(base_url=service.url) as http:
        created = await http.post(
            "/api/v1/sessions/create", json={}, headers={"Authorization": f"Bearer {token}"}
        )
    assert created.status_code == 200, created.text
    sid = created.json()["session"]["id"]
    host, port = service.url.removeprefix("http://").split(":")
    errors_before = len([r for r in service.log_records() if r["level"] == "error"])
    upgrade = (
        f"GET /api/v1/sessions/{sid}/realtime HTTP/1.1\r\nHost: queueit.test\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        f"Authorization: Bearer {token}\r\n\r\n"
    ).encode()
    for delay in (0, 0.001, 0.005, 0.02):
        for _ in range(5):
            _, writer = await asyncio.open_connection(host, int(port))
            writer.write(upgrade)
            await writer.drain()
            await asyncio.sleep(delay)
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()  # a reset, as a phone losing its network sends
    await asyncio.sleep(2)
    errors = [r for r in service.log_records() if r["level"] == "error"][errors_before:]
    assert errors == [], errors[:2]


async def test_a_party_behind_one_address_keeps_its_connections(
    start_server: Callable[..., LiveServer],
) -> None:
    """Before: one address held 512 HTTP connections, fewer than a party of 1,000 phones on
    one venue Wi-Fi keeps open. With the default caps, 600 keep-alive connections from
    127.0.0.1 are all served and stay open."""
    server = start_server()  # the default caps
    host, port = server.url.removeprefix("http://").split(":")
    arriving = asyncio.Semaphore(64)  # phones connect at about the same time, not all at once
    held: list[asyncio.StreamWriter] = []

    async def phone() -> bytes:
        async with arriving:
            reader, writer = await asyncio.open_connection(host, int(port))
            held.append(writer)
            writer.write(b"GET /livez HTTP/1.1\r\nHost: queueit.test\r\n\r\n")
            await writer.drain()
            return await reader.readuntil(b"\r\n\r\n")

    try:
        heads = await asyncio.gather(*(phone() for _ in range(600)))
        statuses = {head.split(b" ", 2)[1] for head in heads}
        assert statuses == {b"200"}, statuses
    finally:
        for writer in held:
            writer.close()

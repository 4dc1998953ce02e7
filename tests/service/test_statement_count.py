"""How many statements PostgreSQL receives per item route (a count, not a timing).

Counted on the wire, by a TCP proxy between the app and PostgreSQL that reads
the frontend protocol: every simple ``Query`` message and every extended-protocol
``Execute`` message is one statement the server runs. That includes what never
passes through SQLAlchemy's ``before_cursor_execute`` hook: the pool's pre-ping
(``BEGIN`` / ``;`` / ``ROLLBACK``) and the transaction's ``BEGIN``, ``COMMIT``
and ``ROLLBACK``, which asyncpg sends itself. Each route is requested once
untimed first (statements prepared, a pooled connection open), then once
counted; a cache miss is forced by asking for an item not read before.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tests.service.conftest import AUTH, make_settings, open_client, reset_services

pytestmark = [pytest.mark.postgres]

ITEMS = "/api/v1/items"
# The budget per route: what a minimal asyncpg app needs, plus at most
# the transaction's BEGIN/COMMIT where a transaction is needed.
MAX_STATEMENTS = {
    "list": 2,
    "list past the end": 2,
    "get (cache miss)": 2,
    "create": 3,
    "update": 4,
    "delete": 4,
}
# Protocol codes of the untyped messages that may open a connection.
SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104


@dataclass
class StatementLog:
    """What the proxy saw the clients send, across every connection."""

    statements: list[str] = field(default_factory=list)
    connections: int = 0


class _FrontendParser:
    """Splits one connection's client-to-server bytes into protocol messages."""

    def __init__(self, log: StatementLog) -> None:
        self.log = log
        self.buffer = b""
        self.started = False  # past the (untyped) startup message
        self.prepared: dict[str, str] = {}  # statement name -> SQL, from Parse
        self.portals: dict[str, str] = {}  # portal name -> SQL, from Bind

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if not self.started:
                if len(self.buffer) < 8:
                    return
                (length,) = struct.unpack("!I", self.buffer[:4])
                if len(self.buffer) < length:
                    return
                (code,) = struct.unpack("!I", self.buffer[4:8])
                self.buffer = self.buffer[length:]
                # SSLRequest/GSSENCRequest precede the startup message (the server says N).
                self.started = code not in {SSL_REQUEST, GSSENC_REQUEST}
                continue
            if len(self.buffer) < 5:
                return
            kind = self.buffer[:1]
            (length,) = struct.unpack("!I", self.buffer[1:5])
            if len(self.buffer) < 1 + length:
                return
            body = self.buffer[5 : 1 + length]
            self.buffer = self.buffer[1 + length :]
            self._message(kind, body)

    def _message(self, kind: bytes, body: bytes) -> None:
        fields = body.split(b"\0")
        if kind == b"Q":  # simple query: one statement (BEGIN, COMMIT, ROLLBACK, ...)
            self.log.statements.append(fields[0].decode())
        elif kind == b"P":  # Parse: remember the SQL of the named statement
            self.prepared[fields[0].decode()] = fields[1].decode()
        elif kind == b"B":  # Bind: a portal runs a prepared statement
            self.portals[fields[0].decode()] = self.prepared.get(fields[1].decode(), "?")
        elif kind == b"E":  # Execute: the server runs the portal's statement
            self.log.statements.append(self.portals.get(fields[0].decode(), "?"))


class CountingProxy:
    """A TCP proxy to PostgreSQL that logs every statement clients send through it."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.log = StatementLog()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers.update({writer, up_writer})
        self.log.connections += 1
        parser = _FrontendParser(self.log)

        async def pipe(
            source: asyncio.StreamReader, sink: asyncio.StreamWriter, client_side: bool
        ) -> None:
            try:
                while data := await source.read(65536):
                    if client_side:
                        parser.feed(data)
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                sink.transport.abort()

        await asyncio.gather(pipe(reader, up_writer, True), pipe(up_reader, writer, False))


@pytest.fixture
async def counted(services: dict[str, str]) -> AsyncIterator[tuple[Any, CountingProxy]]:
    """The app on the real PostgreSQL through a :class:`CountingProxy`, empty items table."""
    await reset_services(services["database_url"], services["redis_url"])
    url = make_url(services["database_url"])
    proxy = CountingProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    # The in-process cache: a miss costs no Redis round trip and no database statement.
    settings = make_settings(database_url=through, redis_url=None)
    try:
        async with open_client(settings) as client:
            yield client, proxy
    finally:
        await proxy.stop()


async def _statements(
    client: Any, proxy: CountingProxy, method: str, url: str, status: int, **kwargs: Any
) -> list[str]:
    """The statements the server received while answering one request."""
    proxy.log.statements.clear()
    response = await client.request(method, url, **kwargs)
    assert response.status_code == status, response.text
    # Let anything the app sends after the response (e.g. a pool reset) reach the log
    # too: it would be a statement of this request.
    await asyncio.sleep(0.1)
    return list(proxy.log.statements)


async def test_statements_per_route_stay_within_budget(
    counted: tuple[Any, CountingProxy],
) -> None:
    client, proxy = counted
    ids = []
    for number in range(6):
        created = await client.post(
            ITEMS, json={"name": f"item {number}", "price": "1.00"}, headers=AUTH
        )
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])

    seen: dict[str, list[str]] = {}
    # Each first request of a route is the untimed warm-up; the second one is counted.
    await _statements(client, proxy, "GET", f"{ITEMS}?limit=20", 200)
    seen["list"] = await _statements(client, proxy, "GET", f"{ITEMS}?limit=20", 200)
    await _statements(client, proxy, "GET", f"{ITEMS}?limit=20&offset=1000", 200)
    seen["list past the end"] = await _statements(
        client, proxy, "GET", f"{ITEMS}?limit=20&offset=2000", 200
    )
    await _statements(client, proxy, "GET", f"{ITEMS}/{ids[0]}", 200)
    seen["get (cache miss)"] = await _statements(client, proxy, "GET", f"{ITEMS}/{ids[1]}", 200)
    body = {"name": "counted", "price": "2.00"}
    await _statements(client, proxy, "POST", ITEMS, 201, json=body, headers=AUTH)
    seen["create"] = await _statements(client, proxy, "POST", ITEMS, 201, json=body, headers=AUTH)
    change = {"name": "changed", "price": "3.00"}
    await _statements(client, proxy, "PATCH", f"{ITEMS}/{ids[2]}", 200, json=change, headers=AUTH)
    seen["update"] = await _statements(
        client, proxy, "PATCH", f"{ITEMS}/{ids[3]}", 200, json=change, headers=AUTH
    )
    await _statements(client, proxy, "DELETE", f"{ITEMS}/{ids[4]}", 204, headers=AUTH)
    seen["delete"] = await _statements(
        client, proxy, "DELETE", f"{ITEMS}/{ids[5]}", 204, headers=AUTH
    )

    # The proxy saw each route's real work: every count has the route's own statement.
    assert any("FROM items" in s for s in seen["list"]), seen["list"]
    assert any("INSERT INTO items" in s for s in seen["create"]), seen["create"]
    assert any("UPDATE items" in s for s in seen["update"]), seen["update"]
    assert any("DELETE FROM items" in s for s in seen["delete"]), seen["delete"]
    over = {
        route: statements
        for route, statements in seen.items()
        if len(statements) > MAX_STATEMENTS[route]
    }
    assert not over, "\n".join(
        f"{route}: {len(s)} statements (at most {MAX_STATEMENTS[route]}): {s}"
        for route, s in over.items()
    )

# SPDX-License-Identifier: Apache-2.0
"""The embedded DNS server: what a container's `nameserver 127.0.0.11` answers.

For each container that uses it, the daemon holds a UDP and a listening TCP socket bound
to 127.0.0.11:53 *inside the container's network namespace* (opened by `netns` while it
makes the namespace), and serves them from its own event loop. So the server knows who
asks by the socket the question came in on, needs no port on the host, and no firewall
of the host sits between the container and it. Names are looked up through a
`Directory` (the network service):

    A     container names, network aliases, short IDs and `name.network` of the
          containers sharing a user-defined network with the asker; several addresses
          for one name come back rotated (round robin)
    AAAA  empty answer for those names (the networks are IPv4-only)
    PTR   their addresses back to `name.network`
    other names: forwarded, from the host's namespace, to the container's `--dns`
          servers or the host's resolvers — a 127.0.0.x stub resolver of the host works
          too; not forwarded at all for containers only on internal networks (REFUSED)

Only the few message fields this needs are parsed; forwarded queries and answers are
relayed byte for byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import struct
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("dockyard.dns")

TYPE_A, TYPE_PTR, TYPE_AAAA, TYPE_ANY = 1, 12, 28, 255
CLASS_IN = 1
RCODE_OK, RCODE_FORMERR, RCODE_SERVFAIL, RCODE_NXDOMAIN, RCODE_REFUSED = 0, 1, 2, 3, 5
TTL = 600
UDP_LIMIT = 512
FORWARD_TIMEOUT = 2.0
_HEADER = struct.Struct("!HHHHHH")


class Directory(Protocol):
    """The names the server answers, per asking sandbox (see NetworkService)."""

    def resolve(self, sandbox: str, name: str) -> list[str] | None:
        """Addresses for `name` as seen from `sandbox`; None if it is no container's."""

    def reverse(self, sandbox: str, address: str) -> str | None:
        """The `name.network` of a container address, None if unknown."""

    def upstreams(self, sandbox: str) -> list[str] | None:
        """Servers to forward other names to; None forbids forwarding."""


@dataclass
class Query:
    id: int
    flags: int
    name: str
    qtype: int
    qclass: int
    question: bytes  # the raw question section, echoed in answers


def parse_query(data: bytes) -> Query:
    """The first question of a DNS query (ValueError if malformed)."""
    if len(data) < _HEADER.size:
        raise ValueError("short message")
    ident, flags, qdcount, _, _, _ = _HEADER.unpack_from(data)
    if flags & 0x8000 or qdcount < 1:
        raise ValueError("not a query")
    labels = []
    offset = _HEADER.size
    while True:
        if offset >= len(data):
            raise ValueError("truncated name")
        length = data[offset]
        offset += 1
        if length == 0:
            break
        if length & 0xC0:
            raise ValueError("compressed name in question")
        labels.append(data[offset:offset + length].decode("ascii", errors="replace"))
        offset += length
    if offset + 4 > len(data):
        raise ValueError("truncated question")
    qtype, qclass = struct.unpack_from("!HH", data, offset)
    offset += 4
    return Query(ident, flags, ".".join(labels).lower(), qtype, qclass, data[_HEADER.size:offset])


def build_answer(query: Query, rcode: int, answers: list[tuple[int, bytes]] = (),
                 limit: int | None = None) -> bytes:
    """A response to `query` with `answers` as (type, rdata) records for the question's
    name; past `limit` bytes the answer is cut and marked truncated."""
    # QR, the query's opcode and RD, RA; not authoritative (as Docker's server).
    flags = 0x8000 | (query.flags & 0x7900) | 0x0080 | rcode
    records = []
    size = _HEADER.size + len(query.question)
    for rtype, rdata in answers:
        record = struct.pack("!HHHIH", 0xC00C, rtype, CLASS_IN, TTL, len(rdata)) + rdata
        if limit is not None and size + len(record) > limit:
            flags |= 0x0200
            break
        records.append(record)
        size += len(record)
    header = _HEADER.pack(query.id, flags, 1, len(records), 0, 0)
    return header + query.question + b"".join(records)


def encode_name(name: str) -> bytes:
    out = b""
    for label in name.strip(".").split("."):
        if label:
            raw = label.encode()
            out += bytes([len(raw)]) + raw
    return out + b"\0"


def reverse_name(address: str) -> str:
    return ".".join(reversed(address.split("."))) + ".in-addr.arpa"


def address_from_reverse(name: str) -> str | None:
    if not name.endswith(".in-addr.arpa"):
        return None
    parts = name[: -len(".in-addr.arpa")].split(".")
    if len(parts) != 4:
        return None
    try:
        return str(ipaddress.IPv4Address(".".join(reversed(parts))))
    except ValueError:
        return None


class DNSServer:
    """Serves the embedded DNS sockets of every sandbox (see the module docstring)."""

    def __init__(self, directory: Directory):
        self._directory = directory
        self._servers: dict[str, tuple[asyncio.DatagramTransport, asyncio.AbstractServer]] = {}
        self._turns: dict[str, int] = {}

    async def add(self, sandbox: str, sockets: list[socket.socket]) -> None:
        """Start answering on `sockets` ([udp, tcp] from netns.dns_sockets) for `sandbox`."""
        await self.remove(sandbox)
        udp, tcp = sockets
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _UDPProtocol(self, sandbox), sock=udp)
        server = await asyncio.start_server(
            lambda r, w: self._serve_tcp(sandbox, r, w), sock=tcp)
        self._servers[sandbox] = (transport, server)

    async def remove(self, sandbox: str) -> None:
        entry = self._servers.pop(sandbox, None)
        if entry is None:
            return
        transport, server = entry
        transport.close()
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 1)

    async def close(self) -> None:
        for sandbox in list(self._servers):
            await self.remove(sandbox)

    def serving(self, sandbox: str) -> bool:
        return sandbox in self._servers

    async def answer(self, sandbox: str, data: bytes, *, tcp: bool) -> bytes | None:
        """The response to the raw query `data` (None: not worth an answer)."""
        try:
            query = parse_query(data)
        except ValueError:
            if len(data) >= 2:
                return data[:2] + struct.pack("!H", 0x8000 | RCODE_FORMERR) + b"\0" * 8
            return None
        limit = None if tcp else UDP_LIMIT
        local = self._local_answer(sandbox, query)
        if local is not None:
            rcode, records = local
            return build_answer(query, rcode, records, limit)
        servers = self._directory.upstreams(sandbox)
        if servers is None:
            return build_answer(query, RCODE_REFUSED)
        reply = await forward(data, servers, tcp=tcp)
        return reply if reply is not None else build_answer(query, RCODE_SERVFAIL)

    def _local_answer(self, sandbox: str, query: Query) -> tuple[int, list[tuple[int, bytes]]] | None:
        if query.qclass != CLASS_IN:
            return None
        if query.qtype == TYPE_PTR:
            address = address_from_reverse(query.name)
            target = self._directory.reverse(sandbox, address) if address else None
            if target is None:
                return None
            return RCODE_OK, [(TYPE_PTR, encode_name(target))]
        addresses = self._directory.resolve(sandbox, query.name)
        if addresses is None:
            return None
        if query.qtype not in (TYPE_A, TYPE_ANY) or not addresses:
            return RCODE_OK, []
        turn = self._turns.get(query.name, 0)
        self._turns[query.name] = turn + 1
        if len(self._turns) > 4096:
            self._turns.clear()
        shift = turn % len(addresses)
        rotated = addresses[shift:] + addresses[:shift]
        return RCODE_OK, [(TYPE_A, ipaddress.IPv4Address(a).packed) for a in rotated]

    async def _serve_tcp(self, sandbox: str, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    size = struct.unpack("!H", await reader.readexactly(2))[0]
                    data = await reader.readexactly(size)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                reply = await self.answer(sandbox, data, tcp=True)
                if reply is None:
                    return
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except Exception:  # noqa: BLE001 - one client's trouble must not reach the loop
            log.debug("DNS over TCP for %s failed", sandbox[:12], exc_info=True)
        finally:
            writer.close()


class _UDPProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: DNSServer, sandbox: str):
        self._server = server
        self._sandbox = sandbox
        self._transport: asyncio.DatagramTransport | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        task = asyncio.ensure_future(self._reply(data, addr))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reply(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            reply = await self._server.answer(self._sandbox, data, tcp=False)
        except Exception:  # noqa: BLE001
            log.debug("DNS query from %s failed", addr, exc_info=True)
            return
        if reply is not None and self._transport is not None and not self._transport.is_closing():
            self._transport.sendto(reply, addr)


async def forward(data: bytes, servers: list[str], *, tcp: bool) -> bytes | None:
    """Ask `servers` in turn; the first answer with the query's ID, or None."""
    for server in servers[:3]:
        host, port = _server_address(server)
        try:
            if tcp:
                reply = await asyncio.wait_for(_forward_tcp(data, host, port), FORWARD_TIMEOUT)
            else:
                reply = await asyncio.wait_for(_forward_udp(data, host, port), FORWARD_TIMEOUT)
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            continue
        if reply is not None and reply[:2] == data[:2]:
            return reply
    return None


async def _forward_udp(data: bytes, host: str, port: int) -> bytes | None:
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, (host, port))
        await loop.sock_sendall(sock, data)
        while True:
            reply = await loop.sock_recv(sock, 65535)
            if reply[:2] == data[:2]:
                return reply
    finally:
        sock.close()


async def _forward_tcp(data: bytes, host: str, port: int) -> bytes | None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(struct.pack("!H", len(data)) + data)
        await writer.drain()
        size = struct.unpack("!H", await reader.readexactly(2))[0]
        return await reader.readexactly(size)
    finally:
        writer.close()


def _server_address(server: str) -> tuple[str, int]:
    """`1.2.3.4`, `1.2.3.4:5353`, `::1`, `[::1]:53` → (host, port)."""
    if server.startswith("["):
        host, _, rest = server[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else 53
    if server.count(":") == 1:
        host, _, port = server.partition(":")
        return host, int(port)
    return server.split("%")[0], 53

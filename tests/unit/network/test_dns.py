# SPDX-License-Identifier: Apache-2.0
"""The embedded DNS server's answers, with a directory standing in for the network
service and a real UDP/TCP upstream on loopback for forwarding."""

from __future__ import annotations

import asyncio
import socket
import struct

import pytest

from dockyard.network import dns


def query(name: str, qtype: int = dns.TYPE_A, ident: int = 0x4242) -> bytes:
    header = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 1)
    opt = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)  # EDNS OPT record, ignored
    return header + dns.encode_name(name) + struct.pack("!HH", qtype, dns.CLASS_IN) + opt


def answers(reply: bytes) -> tuple[int, list[str]]:
    ident, flags, qd, an, _, _ = struct.unpack("!HHHHHH", reply[:12])
    offset = 12
    while reply[offset]:
        offset += reply[offset] + 1
    offset += 5
    found = []
    for _ in range(an):
        assert reply[offset:offset + 2] == b"\xc0\x0c"
        rtype, _, ttl, length = struct.unpack("!HHIH", reply[offset + 2:offset + 12])
        data = reply[offset + 12:offset + 12 + length]
        found.append(socket.inet_ntoa(data) if rtype == dns.TYPE_A else data.hex())
        offset += 12 + length
    return flags & 0xF, found


class Directory:
    def __init__(self, upstreams=None):
        self.names = {"web": ["10.0.0.2"], "svc": ["10.0.0.2", "10.0.0.3", "10.0.0.4"]}
        self._upstreams = upstreams

    def resolve(self, sandbox, name):
        return self.names.get(name)

    def reverse(self, sandbox, address):
        return "web.mynet" if address == "10.0.0.2" else None

    def upstreams(self, sandbox):
        return self._upstreams


def run(coro):
    return asyncio.run(coro)


def test_parse_and_answer_roundtrip():
    parsed = dns.parse_query(query("Web.Example."))
    assert (parsed.id, parsed.name, parsed.qtype) == (0x4242, "web.example", dns.TYPE_A)
    reply = dns.build_answer(parsed, dns.RCODE_OK, [(dns.TYPE_A, socket.inet_aton("1.2.3.4"))])
    assert reply[:2] == b"\x42\x42"
    flags = struct.unpack("!H", reply[2:4])[0]
    assert flags & 0x8000 and flags & 0x0100 and flags & 0x0080  # QR, RD kept, RA
    assert answers(reply) == (0, ["1.2.3.4"])
    for bad in (b"\x00" * 5, struct.pack("!HHHHHH", 1, 0x8000, 1, 0, 0, 0) + b"\x00\x00\x01\x00\x01"):
        with pytest.raises(ValueError):
            dns.parse_query(bad)


def test_local_names_round_robin_aaaa_and_ptr():
    server = dns.DNSServer(Directory(upstreams=None))
    assert answers(run(server.answer("c", query("web"), tcp=False))) == (0, ["10.0.0.2"])
    first = answers(run(server.answer("c", query("svc"), tcp=False)))[1]
    second = answers(run(server.answer("c", query("svc"), tcp=False)))[1]
    assert sorted(first) == sorted(second) == ["10.0.0.2", "10.0.0.3", "10.0.0.4"] and first != second
    assert answers(run(server.answer("c", query("web", dns.TYPE_AAAA), tcp=False))) == (0, [])
    ptr = answers(run(server.answer("c", query("2.0.0.10.in-addr.arpa", dns.TYPE_PTR), tcp=False)))
    assert ptr == (0, [dns.encode_name("web.mynet").hex()])
    # No upstreams allowed (an internal network): other names are refused.
    assert answers(run(server.answer("c", query("example.org"), tcp=False)))[0] == dns.RCODE_REFUSED
    garbage = run(server.answer("c", b"\x12\x34\x00", tcp=False))
    assert garbage[:2] == b"\x12\x34" and garbage[3] & 0xF == dns.RCODE_FORMERR


def test_udp_answers_are_truncated_at_512_bytes():
    directory = Directory()
    directory.names["many"] = [f"10.1.{i // 256}.{i % 256}" for i in range(60)]
    server = dns.DNSServer(directory)
    reply = run(server.answer("c", query("many"), tcp=False))
    assert len(reply) <= 512 and struct.unpack("!H", reply[2:4])[0] & 0x0200
    full = run(server.answer("c", query("many"), tcp=True))
    assert len(answers(full)[1]) == 60


def test_forwarding_over_udp_and_tcp_to_a_loopback_server():
    async def scenario():
        loop = asyncio.get_running_loop()
        seen = []

        class Upstream(asyncio.DatagramProtocol):
            def connection_made(self, transport):
                self.transport = transport

            def datagram_received(self, data, addr):
                seen.append("udp")
                parsed = dns.parse_query(data)
                self.transport.sendto(dns.build_answer(parsed, 0, [(1, socket.inet_aton("9.9.9.9"))]), addr)

        async def tcp_upstream(reader, writer):
            size = struct.unpack("!H", await reader.readexactly(2))[0]
            parsed = dns.parse_query(await reader.readexactly(size))
            seen.append("tcp")
            reply = dns.build_answer(parsed, 0, [(1, socket.inet_aton("8.8.4.4"))])
            writer.write(struct.pack("!H", len(reply)) + reply)
            await writer.drain()
            writer.close()

        transport, _ = await loop.create_datagram_endpoint(Upstream, local_addr=("127.0.0.1", 0))
        port = transport.get_extra_info("sockname")[1]
        tcp_server = await asyncio.start_server(tcp_upstream, "127.0.0.1", port)
        try:
            # A dead server first: the next one answers.
            server = dns.DNSServer(Directory(upstreams=["127.0.0.1:1", f"127.0.0.1:{port}"]))
            udp_reply = await server.answer("c", query("example.org"), tcp=False)
            tcp_reply = await server.answer("c", query("example.org"), tcp=True)
            nobody = dns.DNSServer(Directory(upstreams=["127.0.0.1:1"]))
            failed = await nobody.answer("c", query("example.org"), tcp=False)
        finally:
            transport.close()
            tcp_server.close()
        return seen, udp_reply, tcp_reply, failed

    seen, udp_reply, tcp_reply, failed = run(scenario())
    assert answers(udp_reply) == (0, ["9.9.9.9"]) and answers(tcp_reply) == (0, ["8.8.4.4"])
    assert seen == ["udp", "tcp"]
    assert answers(failed)[0] == dns.RCODE_SERVFAIL


def test_reverse_names():
    assert dns.reverse_name("10.0.0.2") == "2.0.0.10.in-addr.arpa"
    assert dns.address_from_reverse("2.0.0.10.in-addr.arpa") == "10.0.0.2"
    assert dns.address_from_reverse("0.10.in-addr.arpa") is None
    assert dns.address_from_reverse("example.org") is None

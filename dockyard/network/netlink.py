# SPDX-License-Identifier: Apache-2.0
"""A small rtnetlink client: links (bridges, veth pairs), addresses and routes.

Every container start creates a veth pair, addresses it and adds a default route; doing
that through `ip` would cost a process per step, so the daemon speaks rtnetlink itself.
Only the handful of messages dockyard needs are implemented:

    RTM_NEWLINK   bridge; veth pair with its peer created straight in a namespace (by fd)
    RTM_SETLINK   up/down, MTU, master
    RTM_DELLINK   by name or index
    RTM_GETLINK   dump (name, index, kind, master, MTU, alias)
    RTM_NEWADDR   IPv4 address with broadcast
    RTM_GETADDR   dump
    RTM_NEWROUTE  IPv4 route (default route via a gateway)
    RTM_GETROUTE  dump of the main table

A `Netlink` object wraps one NETLINK_ROUTE socket. A socket is bound to the network
namespace of the thread that created it, which is how the daemon configures a
container's namespace without entering it again: `netns.create` opens one while inside.
Calls block (they are fast, but callers in the event loop use `asyncio.to_thread`); a
lock makes one object safe to share between threads.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct
import threading
from dataclasses import dataclass, field
from typing import Any

# message types
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK, RTM_SETLINK = 16, 17, 18, 19
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE = 24, 25, 26
NLMSG_ERROR, NLMSG_DONE = 2, 3

# header flags
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK = 0x1, 0x2, 0x4
NLM_F_DUMP = 0x300
NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE = 0x100, 0x200, 0x400

# link attributes (linux/if_link.h)
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINK = 1, 3, 4, 5
IFLA_MASTER, IFLA_LINKINFO, IFLA_IFALIAS, IFLA_NET_NS_FD = 10, 18, 20, 28
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
NLA_F_NESTED = 0x8000

# address and route attributes
IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST = 1, 2, 4
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PREFSRC, RTA_TABLE = 1, 4, 5, 7, 15
RT_TABLE_MAIN = 254
RTPROT_BOOT, RTPROT_KERNEL = 3, 2
RT_SCOPE_UNIVERSE, RT_SCOPE_LINK = 0, 253
RTN_UNICAST = 1

IFF_UP = 0x1

_NLMSGHDR = struct.Struct("=IHHII")
_IFINFOMSG = struct.Struct("=BxHiII")
_IFADDRMSG = struct.Struct("=BBBBI")
_RTMSG = struct.Struct("=BBBBBBBBI")
_RTATTR = struct.Struct("=HH")


@dataclass
class Link:
    index: int
    name: str
    flags: int
    kind: str = ""
    master: int = 0
    mtu: int = 0
    alias: str = ""
    address: str = ""
    link: int = 0

    @property
    def up(self) -> bool:
        return bool(self.flags & IFF_UP)


@dataclass
class Route:
    dst: ipaddress.IPv4Network
    oif: int
    gateway: str = ""
    table: int = RT_TABLE_MAIN
    attrs: dict[int, bytes] = field(default_factory=dict, repr=False)


@dataclass
class Address:
    index: int
    address: ipaddress.IPv4Interface


class Netlink:
    """One rtnetlink socket (see the module docstring)."""

    def __init__(self, sock: socket.socket | None = None):
        self._sock = sock or open_socket()
        self._seq = 0
        self._lock = threading.Lock()

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Netlink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ── links ─────────────────────────────────────────────────────────────────────────

    def links(self) -> list[Link]:
        return [_parse_link(body) for body in self._dump(RTM_GETLINK, _IFINFOMSG.pack(0, 0, 0, 0, 0))]

    def link(self, name: str) -> Link | None:
        for link in self.links():
            if link.name == name:
                return link
        return None

    def add_bridge(self, name: str, *, mtu: int | None = None, alias: str = "",
                   mac: bytes | None = None) -> None:
        attrs = [_attr(IFLA_IFNAME, _cstr(name)),
                 _nested(IFLA_LINKINFO, [_attr(IFLA_INFO_KIND, _cstr("bridge"))])]
        if mtu:
            attrs.append(_attr(IFLA_MTU, struct.pack("=I", mtu)))
        if mac:
            attrs.append(_attr(IFLA_ADDRESS, mac))
        self._request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL,
                      _IFINFOMSG.pack(0, 0, 0, 0, 0) + b"".join(attrs))
        if alias:
            # The kernel ignores IFLA_IFALIAS when creating a link; it is set afterwards.
            self.set_alias(name, alias)

    def set_alias(self, name: str, alias: str) -> None:
        self._request(RTM_NEWLINK, 0, _IFINFOMSG.pack(0, 0, 0, 0, 0)
                      + _attr(IFLA_IFNAME, _cstr(name)) + _attr(IFLA_IFALIAS, alias.encode()))

    def add_veth(self, name: str, peer: str, *, peer_netns_fd: int, master: int | None, mtu: int,
                 peer_mac: bytes | None = None) -> None:
        """A veth pair: `name` in this namespace, enslaved to `master` (if any) and up; `peer` created
        directly (down) in the namespace of `peer_netns_fd`, with `peer_mac`. One message,
        so there is never a half-made pair to clean up."""
        peer_attrs = [_attr(IFLA_IFNAME, _cstr(peer)),
                      _attr(IFLA_NET_NS_FD, struct.pack("=I", peer_netns_fd)),
                      _attr(IFLA_MTU, struct.pack("=I", mtu))]
        if peer_mac:
            peer_attrs.append(_attr(IFLA_ADDRESS, peer_mac))
        # The peer cannot be brought up in this message (the pair is not joined yet when
        # the kernel applies its flags: ENOTCONN); its namespace's socket does that.
        peer_info = _IFINFOMSG.pack(0, 0, 0, 0, 0) + b"".join(peer_attrs)
        info = _nested(IFLA_LINKINFO, [
            _attr(IFLA_INFO_KIND, _cstr("veth")),
            _nested(IFLA_INFO_DATA, [_attr(VETH_INFO_PEER, peer_info)]),
        ])
        attrs = [_attr(IFLA_IFNAME, _cstr(name)), _attr(IFLA_MTU, struct.pack("=I", mtu)), info]
        if master is not None:
            attrs.append(_attr(IFLA_MASTER, struct.pack("=I", master)))
        self._request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL,
                      _IFINFOMSG.pack(0, 0, 0, IFF_UP, IFF_UP) + b"".join(attrs))

    def set_link(self, index: int, *, up: bool | None = None, mtu: int | None = None,
                 master: int | None = None) -> None:
        flags = change = 0
        if up is not None:
            change = IFF_UP
            flags = IFF_UP if up else 0
        attrs = []
        if mtu:
            attrs.append(_attr(IFLA_MTU, struct.pack("=I", mtu)))
        if master is not None:
            attrs.append(_attr(IFLA_MASTER, struct.pack("=I", master)))
        self._request(RTM_NEWLINK, 0, _IFINFOMSG.pack(0, 0, index, flags, change) + b"".join(attrs))

    def delete_link(self, name: str | None = None, index: int = 0) -> bool:
        """Remove a link; False if there was none (deleting one end of a veth pair
        removes both)."""
        attrs = _attr(IFLA_IFNAME, _cstr(name)) if name else b""
        try:
            self._request(RTM_DELLINK, 0, _IFINFOMSG.pack(0, 0, index, 0, 0) + attrs)
        except OSError as e:
            if e.errno in (errno.ENODEV, errno.ENOENT):
                return False
            raise
        return True

    # ── addresses and routes ──────────────────────────────────────────────────────────

    def add_address(self, index: int, address: ipaddress.IPv4Interface, *, replace: bool = False) -> None:
        ip = address.ip.packed
        attrs = [_attr(IFA_LOCAL, ip), _attr(IFA_ADDRESS, ip)]
        if address.network.prefixlen < 31:
            attrs.append(_attr(IFA_BROADCAST, address.network.broadcast_address.packed))
        flags = NLM_F_CREATE | (NLM_F_REPLACE if replace else NLM_F_EXCL)
        self._request(RTM_NEWADDR, flags,
                      _IFADDRMSG.pack(socket.AF_INET, address.network.prefixlen, 0,
                                      RT_SCOPE_UNIVERSE, index) + b"".join(attrs))

    def addresses(self, index: int | None = None) -> list[Address]:
        found = []
        for body in self._dump(RTM_GETADDR, _IFADDRMSG.pack(socket.AF_INET, 0, 0, 0, 0)):
            family, prefixlen, _, _, ifindex = _IFADDRMSG.unpack_from(body)
            if family != socket.AF_INET or (index is not None and ifindex != index):
                continue
            attrs = _parse_attrs(body[_IFADDRMSG.size:])
            raw = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
            if raw:
                found.append(Address(ifindex, ipaddress.IPv4Interface((raw, prefixlen))))
        return found

    def add_default_route(self, gateway: ipaddress.IPv4Address, oif: int) -> None:
        attrs = [_attr(RTA_GATEWAY, gateway.packed), _attr(RTA_OIF, struct.pack("=I", oif))]
        self._request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE,
                      _RTMSG.pack(socket.AF_INET, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT,
                                  RT_SCOPE_UNIVERSE, RTN_UNICAST, 0) + b"".join(attrs))

    def delete_default_route(self) -> bool:
        try:
            self._request(RTM_DELROUTE, 0, _RTMSG.pack(socket.AF_INET, 0, 0, 0, RT_TABLE_MAIN,
                                                       0, RT_SCOPE_UNIVERSE, RTN_UNICAST, 0))
        except OSError as e:
            if e.errno == errno.ESRCH:
                return False
            raise
        return True

    def routes(self) -> list[Route]:
        """IPv4 unicast routes of the main table."""
        found = []
        for body in self._dump(RTM_GETROUTE, _RTMSG.pack(socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0)):
            family, dst_len, _, _, table, _, _, rtype, _ = _RTMSG.unpack_from(body)
            attrs = _parse_attrs(body[_RTMSG.size:])
            table = struct.unpack("=I", attrs[RTA_TABLE])[0] if RTA_TABLE in attrs else table
            if family != socket.AF_INET or table != RT_TABLE_MAIN or rtype != RTN_UNICAST:
                continue
            dst = attrs.get(RTA_DST, b"\0\0\0\0")
            oif = struct.unpack("=I", attrs[RTA_OIF])[0] if RTA_OIF in attrs else 0
            gateway = str(ipaddress.IPv4Address(attrs[RTA_GATEWAY])) if RTA_GATEWAY in attrs else ""
            found.append(Route(ipaddress.IPv4Network((dst, dst_len)), oif, gateway, table, attrs))
        return found

    # ── plumbing ──────────────────────────────────────────────────────────────────────

    def _request(self, msg_type: int, flags: int, body: bytes) -> None:
        with self._lock:
            seq = self._send(msg_type, flags | NLM_F_REQUEST | NLM_F_ACK, body)
            for _ in self._receive(seq):
                pass

    def _dump(self, msg_type: int, body: bytes) -> list[bytes]:
        with self._lock:
            seq = self._send(msg_type, NLM_F_REQUEST | NLM_F_DUMP, body)
            return list(self._receive(seq))

    def _send(self, msg_type: int, flags: int, body: bytes) -> int:
        self._seq += 1
        header = _NLMSGHDR.pack(_NLMSGHDR.size + len(body), msg_type, flags, self._seq, 0)
        self._sock.send(header + body)
        return self._seq

    def _receive(self, seq: int) -> Any:
        """The bodies of the answer to `seq`, until its ACK or NLMSG_DONE; an error
        answer raises OSError with the kernel's errno."""
        while True:
            data = self._sock.recv(1 << 20)
            offset = 0
            while offset + _NLMSGHDR.size <= len(data):
                length, msg_type, flags, msg_seq, _ = _NLMSGHDR.unpack_from(data, offset)
                if length < _NLMSGHDR.size:
                    raise OSError(errno.EBADMSG, "malformed netlink message")
                body = data[offset + _NLMSGHDR.size: offset + length]
                offset += _align(length)
                if msg_seq != seq:
                    continue  # a late answer to an earlier request that gave up
                if msg_type == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", body)[0]
                    if code:
                        raise OSError(code, os.strerror(code))
                    return
                if msg_type == NLMSG_DONE:
                    return
                yield body
                if not flags & NLM_F_MULTI:
                    return


def open_socket() -> socket.socket:
    """A NETLINK_ROUTE socket in the calling thread's network namespace."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                         socket.NETLINK_ROUTE)
    sock.bind((0, 0))
    return sock


def mac_bytes(text: str) -> bytes:
    parts = text.split(":")
    if len(parts) != 6:
        raise ValueError(f"invalid MAC address: {text}")
    return bytes(int(p, 16) for p in parts)


def _align(length: int) -> int:
    return (length + 3) & ~3


def _cstr(text: str) -> bytes:
    return text.encode() + b"\0"


def _attr(kind: int, payload: bytes) -> bytes:
    length = _RTATTR.size + len(payload)
    return _RTATTR.pack(length, kind) + payload + b"\0" * (_align(length) - length)


def _nested(kind: int, children: list[bytes]) -> bytes:
    return _attr(kind | NLA_F_NESTED, b"".join(children))


def _parse_attrs(data: bytes) -> dict[int, bytes]:
    attrs: dict[int, bytes] = {}
    offset = 0
    while offset + _RTATTR.size <= len(data):
        length, kind = _RTATTR.unpack_from(data, offset)
        if length < _RTATTR.size:
            break
        attrs[kind & ~NLA_F_NESTED] = data[offset + _RTATTR.size: offset + length]
        offset += _align(length)
    return attrs


def _parse_link(body: bytes) -> Link:
    _, _, index, flags, _ = _IFINFOMSG.unpack_from(body)
    attrs = _parse_attrs(body[_IFINFOMSG.size:])
    link = Link(index=index, name=attrs.get(IFLA_IFNAME, b"").rstrip(b"\0").decode(), flags=flags)
    if IFLA_LINKINFO in attrs:
        info = _parse_attrs(attrs[IFLA_LINKINFO])
        link.kind = info.get(IFLA_INFO_KIND, b"").rstrip(b"\0").decode()
    if IFLA_MASTER in attrs:
        link.master = struct.unpack("=I", attrs[IFLA_MASTER])[0]
    if IFLA_MTU in attrs:
        link.mtu = struct.unpack("=I", attrs[IFLA_MTU])[0]
    if IFLA_IFALIAS in attrs:
        link.alias = attrs[IFLA_IFALIAS].rstrip(b"\0").decode(errors="replace")
    if IFLA_ADDRESS in attrs:
        link.address = ":".join(f"{b:02x}" for b in attrs[IFLA_ADDRESS])
    if IFLA_LINK in attrs:
        link.link = struct.unpack("=i", attrs[IFLA_LINK])[0]
    return link

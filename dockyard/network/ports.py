# SPDX-License-Identifier: Apache-2.0
"""Published ports: from a container's create body to host port reservations and back
to the shapes Docker reports.

    HostConfig.PortBindings {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}
    HostConfig.PublishAllPorts + Config.ExposedPorts {"90/tcp": {}}
        │ requested_bindings()
        ▼
    [Binding(80, tcp, "0.0.0.0", 8080, 8080), Binding(90, tcp, "0.0.0.0", 0, 0) …]
        │ PortAllocator.allocate()   (a random port for 0, the first free one of a range)
        ▼
    [Mapping(tcp, "0.0.0.0", 8080, 80) …]  →  nftables DNAT rules (nftables.py)
        │ settings_ports() / summary_ports()
        ▼
    NetworkSettings.Ports {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "90/tcp": null}
    ps Ports [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}]

Traffic never passes through the daemon (the kernel's NAT does the work), but each
allocated host port is held by a bound socket, so that a port in use by a host process
is refused with Docker's error, and no host process can take a published port later.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard.errors import InvalidParameter

PROTOCOLS = ("tcp", "udp", "sctp")
_SOCKET_TYPES = {"tcp": socket.SOCK_STREAM, "udp": socket.SOCK_DGRAM}


@dataclass(frozen=True)
class Binding:
    """A requested publication: host port 0 means "any free port"."""

    container_port: int
    proto: str
    host_ip: str
    host_port_start: int
    host_port_end: int


@dataclass(frozen=True)
class Mapping:
    """An allocated publication."""

    proto: str
    host_ip: str
    host_port: int
    container_port: int

    def to_doc(self) -> dict[str, Any]:
        return {"Proto": self.proto, "HostIp": self.host_ip, "HostPort": self.host_port,
                "ContainerPort": self.container_port}


class PortInUse(InvalidParameter):
    """A published port could not be had. Docker answers 500 for it; a subclass of
    InvalidParameter so that a failed `run --rm` still removes its container."""

    status = 500


def parse_port_key(key: str) -> tuple[int, str]:
    """`80/tcp`, `80` (tcp), `53/udp` → (port, proto)."""
    port_text, _, proto = str(key).partition("/")
    proto = (proto or "tcp").lower()
    port = _port_number(port_text)
    if proto not in PROTOCOLS:
        raise InvalidParameter(f'invalid proto "{proto}" in port specification "{key}"')
    return port, proto


def validate(config: dict[str, Any], host_config: dict[str, Any]) -> None:
    """Docker's create-time checks of the port fields (InvalidParameter)."""
    requested_bindings(config, host_config)


def exposed_ports(config: dict[str, Any], host_config: dict[str, Any]) -> list[tuple[int, str]]:
    """Config.ExposedPorts plus every port in PortBindings, sorted."""
    ports = {parse_port_key(key) for key in (config.get("ExposedPorts") or {})}
    ports |= {parse_port_key(key) for key in (host_config.get("PortBindings") or {})}
    return sorted(ports, key=lambda p: (p[0], p[1]))


def requested_bindings(config: dict[str, Any], host_config: dict[str, Any]) -> list[Binding]:
    """The publications a container asks for: its PortBindings, and with PublishAllPorts
    a random host port for every exposed port that has no binding."""
    bindings: list[Binding] = []
    bound: set[tuple[int, str]] = set()
    port_bindings = host_config.get("PortBindings") or {}
    if not isinstance(port_bindings, dict):
        raise InvalidParameter("invalid PortBindings: expected an object")
    for key, entries in port_bindings.items():
        port, proto = parse_port_key(key)
        bound.add((port, proto))
        for entry in entries or [{}]:
            entry = entry or {}
            host_ip = entry.get("HostIp") or "0.0.0.0"
            try:
                address = ipaddress.ip_address(host_ip)
            except ValueError:
                raise InvalidParameter(f'invalid IP address in port specification: "{host_ip}"') from None
            if address.version != 4:
                # IPv6 is not enabled on dockyard's networks; Docker skips such bindings too.
                continue
            start, end = _host_port_range(str(entry.get("HostPort") or ""))
            bindings.append(Binding(port, proto, host_ip, start, end))
    if host_config.get("PublishAllPorts"):
        for port, proto in exposed_ports(config, host_config):
            if (port, proto) not in bound:
                bindings.append(Binding(port, proto, "0.0.0.0", 0, 0))
    return bindings


def settings_ports(exposed: Iterable[tuple[int, str]], mappings: Iterable[Mapping]) -> dict[str, Any]:
    """NetworkSettings.Ports of a running container."""
    ports: dict[str, Any] = {f"{port}/{proto}": None for port, proto in exposed}
    for m in mappings:
        key = f"{m.container_port}/{m.proto}"
        if ports.get(key) is None:
            ports[key] = []
        ports[key].append({"HostIp": m.host_ip, "HostPort": str(m.host_port)})
    return dict(sorted(ports.items(), key=lambda item: _key_order(item[0])))


def summary_ports(network_settings: dict[str, Any]) -> list[dict[str, Any]]:
    """The `Ports` list of `GET /containers/json`, from NetworkSettings.Ports."""
    result: list[dict[str, Any]] = []
    for key, entries in (network_settings.get("Ports") or {}).items():
        port, proto = parse_port_key(key)
        if not entries:
            result.append({"PrivatePort": port, "Type": proto})
            continue
        for entry in entries:
            result.append({"IP": entry.get("HostIp") or "0.0.0.0", "PrivatePort": port,
                           "PublicPort": int(entry["HostPort"]), "Type": proto})
    return result


class PortAllocator:
    """Host ports in use by published containers, each held by a bound socket."""

    def __init__(self, port_range: tuple[int, int] | None = None):
        self._range = port_range or ephemeral_port_range()
        self._held: dict[tuple[str, str, int], socket.socket | None] = {}

    def allocate(self, bindings: list[Binding], endpoint: str) -> list[Mapping]:
        """Host ports for `bindings`, all or none; raises PortInUse with Docker's message
        (`endpoint` is the "name (endpoint id)" it names)."""
        mappings: list[Mapping] = []
        try:
            for binding in bindings:
                mappings.append(self._allocate_one(binding, endpoint))
        except BaseException:
            self.release(mappings)
            raise
        return mappings

    def reserve(self, mappings: Iterable[Mapping]) -> None:
        """Hold the ports of mappings made by an earlier daemon (restore). A port taken
        meanwhile by someone else stays recorded, without a socket."""
        for m in mappings:
            key = (m.proto, m.host_ip, m.host_port)
            if key in self._held:
                continue
            try:
                self._held[key] = _bind(m.proto, m.host_ip, m.host_port)
            except OSError:
                self._held[key] = None

    def release(self, mappings: Iterable[Mapping]) -> None:
        for m in mappings:
            sock = self._held.pop((m.proto, m.host_ip, m.host_port), None)
            if sock is not None:
                sock.close()

    def close(self) -> None:
        for sock in self._held.values():
            if sock is not None:
                sock.close()
        self._held.clear()

    def _allocate_one(self, binding: Binding, endpoint: str) -> Mapping:
        if binding.host_port_start:
            candidates = range(binding.host_port_start, binding.host_port_end + 1)
        else:
            candidates = range(self._range[0], self._range[1] + 1)
        last_error: OSError | None = None
        for port in candidates:
            if self._conflicts(binding.proto, binding.host_ip, port):
                continue
            try:
                sock = _bind(binding.proto, binding.host_ip, port)
            except OSError as e:
                last_error = e
                continue
            self._held[(binding.proto, binding.host_ip, port)] = sock
            return Mapping(binding.proto, binding.host_ip, port, binding.container_port)
        prefix = f"driver failed programming external connectivity on endpoint {endpoint}"
        if binding.host_port_start == binding.host_port_end and binding.host_port_start:
            where = f"{binding.host_ip}:{binding.host_port_start}"
            if last_error is None:
                raise PortInUse(f"{prefix}: Bind for {where} failed: port is already allocated")
            raise PortInUse(f"{prefix}: listen {binding.proto}4 {where}: bind: {_reason(last_error)}")
        if binding.host_port_start:
            span = f"{binding.host_port_start}-{binding.host_port_end}"
            raise PortInUse(f"{prefix}: Bind for {binding.host_ip}:{span} failed: no port available in the range")
        raise PortInUse(f"{prefix}: all ports are allocated")

    def _conflicts(self, proto: str, host_ip: str, port: int) -> bool:
        for held_proto, held_ip, held_port in self._held:
            if held_proto == proto and held_port == port and (
                    held_ip == host_ip or "0.0.0.0" in (held_ip, host_ip)):
                return True
        return False


def ephemeral_port_range(path: str = "/proc/sys/net/ipv4/ip_local_port_range") -> tuple[int, int]:
    """Where random host ports come from: the kernel's ephemeral range, as in Docker."""
    try:
        low, high = (int(v) for v in Path(path).read_text().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


def _bind(proto: str, host_ip: str, port: int) -> socket.socket | None:
    """A socket bound to (host_ip, port), neither listening nor reading: it only keeps
    others off the port. No SO_REUSEADDR, so that even a server that sets it cannot bind
    the port while we hold it. SCTP ports are not held (no socket type needed)."""
    kind = _SOCKET_TYPES.get(proto)
    if kind is None:
        return None
    sock = socket.socket(socket.AF_INET, kind | socket.SOCK_CLOEXEC)
    try:
        sock.bind((host_ip, port))
    except OSError:
        sock.close()
        raise
    return sock


def _reason(error: OSError) -> str:
    if error.errno == errno.EADDRINUSE:
        return "address already in use"
    if error.errno == errno.EADDRNOTAVAIL:
        return "cannot assign requested address"
    if error.errno == errno.EACCES:
        return "permission denied"
    return (error.strerror or str(error)).lower()


def _port_number(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise InvalidParameter(f'invalid port specification: "{text}"') from None
    if not 0 < port <= 65535 or not text.isdigit():
        raise InvalidParameter(f'invalid port specification: "{text}"')
    return port


def _host_port_range(text: str) -> tuple[int, int]:
    text = text.strip()
    if not text or text == "0":
        return 0, 0  # a random port, as Docker's `-p 0:80`
    start_text, dash, end_text = text.partition("-")
    start = _port_number(start_text)
    end = _port_number(end_text) if dash else start
    if end < start:
        raise InvalidParameter(f'invalid port specification: "{text}"')
    return start, end


def _key_order(key: str) -> tuple[int, str]:
    port, _, proto = key.partition("/")
    return int(port), proto


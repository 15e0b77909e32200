# SPDX-License-Identifier: Apache-2.0
"""dockyard's packet filtering and NAT: one nftables table of its own (`inet dockyard`
by default; each daemon may name its own), rendered whole from the daemon's state and
replaced in one `nft -f` transaction, so the kernel never sees half a ruleset and
nothing outside the table is touched.

    chain prerouting  (nat, dstnat)   to a local address → published
    chain output      (nat, dstnat)   to a local address (127.0.0.1 too) → published
    chain published                   DNAT through two maps: `hostports` (address,
                                      protocol, port) for ports published on one host
                                      address, `ports` (protocol, port) for the others
    chain postrouting (nat, srcnat)   masquerade: a network's traffic leaving its bridge;
                                      published traffic from 127.0.0.0/8 (needs the
                                      bridge's route_localnet) and hairpin traffic
    chain forward     (filter)        replies and published traffic in; a network's own
                                      traffic; nothing between networks, nothing in or
                                      out of an internal one, nothing else from outside

Rules are rendered only from the bridges and mappings passed in, so removing a network
or a container and rendering again removes its rules. A container's published ports are
map elements: starting or stopping one adds or deletes elements (`elements_script`)
instead of replacing the table, which costs a few milliseconds rather than a dozen. Accepting here does not override
a drop elsewhere (every table's chains see each packet); see `dockercompat` for
coexisting with Docker's FORWARD policy.
"""

from __future__ import annotations

import asyncio
import ipaddress
import shutil
from collections.abc import Iterable
from dataclasses import dataclass

from dockyard.errors import DockyardError


@dataclass(frozen=True)
class BridgeRules:
    """What the ruleset needs to know about one network's bridge."""

    device: str
    subnet: ipaddress.IPv4Network
    internal: bool = False
    masquerade: bool = True


@dataclass(frozen=True)
class PortForward:
    """One published port: traffic to host_ip:host_port goes to container_ip:container_port."""

    proto: str
    host_ip: str
    host_port: int
    container_ip: str
    container_port: int


class NftablesError(DockyardError):
    pass


def render(table: str, bridges: Iterable[BridgeRules], forwards: Iterable[PortForward]) -> str:
    """The complete `nft -f` script that replaces `table` with these rules."""
    bridges = sorted(bridges, key=lambda b: b.device)
    devices = [b.device for b in bridges]
    internal = [b.device for b in bridges if b.internal]
    any_ip, one_ip = _split(forwards)
    out = [
        f"table inet {table} {{}}",
        f"delete table inet {table}",
        f"table inet {table} {{",
    ]
    out += _set("bridges", devices)
    out += _set("internal", internal)
    out += _map("ports", "inet_proto . inet_service : ipv4_addr . inet_service", any_ip)
    out += _map("hostports", "ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service", one_ip)
    out += [
        "\tchain prerouting {",
        "\t\ttype nat hook prerouting priority dstnat; policy accept;",
        "\t\tfib daddr type local jump published",
        "\t}",
        "\tchain output {",
        "\t\ttype nat hook output priority -100; policy accept;",
        "\t\tfib daddr type local jump published",
        "\t}",
        "\tchain published {",
        "\t\tmeta nfproto ipv4 dnat ip to ip daddr . meta l4proto . th dport map @hostports",
        "\t\tmeta nfproto ipv4 dnat ip to meta l4proto . th dport map @ports",
        "\t}",
        "\tchain postrouting {",
        "\t\ttype nat hook postrouting priority srcnat; policy accept;",
    ]
    if devices:
        # Published traffic from the host's loopback: the container could not answer
        # 127.0.0.1, so it sees the bridge's address instead.
        out.append("\t\toifname @bridges ip saddr 127.0.0.0/8 masquerade")
    for b in bridges:
        # Hairpin: a container reaching a published port (of itself or a neighbour on
        # the same bridge) through a host address must get the answer from the host.
        out.append(f'\t\tct status dnat oifname "{b.device}" ip saddr {b.subnet} masquerade')
    for b in bridges:
        if not b.internal and b.masquerade:
            out.append(f'\t\tip saddr {b.subnet} oifname != "{b.device}" masquerade')
    out += [
        "\t}",
        "\tchain forward {",
        "\t\ttype filter hook forward priority filter; policy accept;",
    ]
    if devices:
        out.append("\t\toifname @bridges ct state established,related accept")
        for b in bridges:
            out.append(f'\t\tiifname "{b.device}" oifname "{b.device}" accept')
        if internal:
            out.append("\t\tiifname @internal drop")
            out.append("\t\toifname @internal drop")
        out += [
            "\t\toifname @bridges ct status dnat accept",
            "\t\tiifname @bridges oifname @bridges drop",
            "\t\toifname @bridges drop",
            "\t\tiifname @bridges accept",
        ]
    out += ["\t}", "}"]
    return "\n".join(out) + "\n"


def elements_script(table: str, add: Iterable[PortForward], delete: Iterable[PortForward]) -> str:
    """The `nft -f` script that adds and deletes published ports in a rendered table."""
    out = []
    for verb, forwards in (("delete", delete), ("add", add)):
        any_ip, one_ip = _split(forwards)
        if any_ip:
            out.append(f"{verb} element inet {table} ports {{ {', '.join(_elements(any_ip, verb))} }}")
        if one_ip:
            out.append(f"{verb} element inet {table} hostports {{ {', '.join(_elements(one_ip, verb))} }}")
    return "\n".join(out) + "\n" if out else ""


def delete_script(table: str) -> str:
    return f"table inet {table} {{}}\ndelete table inet {table}\n"


async def apply(script: str, *, check: bool = False) -> None:
    """Run `script` through `nft -f -` (one atomic transaction); with `check`, only
    validate it (`nft -c`)."""
    nft = shutil.which("nft")
    if not nft:
        raise NftablesError("nft not found: install Debian's nftables package")
    args = [nft, "-c", "-f", "-"] if check else [nft, "-f", "-"]
    process = await asyncio.create_subprocess_exec(
        *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    _, stderr = await process.communicate(script.encode())
    if process.returncode != 0:
        raise NftablesError(f"nftables rejected dockyard's rules: {stderr.decode(errors='replace').strip()}")


def _split(forwards: Iterable[PortForward]) -> tuple[list[PortForward], list[PortForward]]:
    """Ports published on every address, and those published on one."""
    ordered = sorted(forwards, key=lambda f: (f.proto, f.host_port, f.host_ip))
    return ([f for f in ordered if f.host_ip in ("", "0.0.0.0")],
            [f for f in ordered if f.host_ip not in ("", "0.0.0.0")])


def _elements(forwards: list[PortForward], verb: str = "add") -> list[str]:
    found = []
    for f in forwards:
        key = f"{f.proto} . {f.host_port}"
        if f.host_ip not in ("", "0.0.0.0"):
            key = f"{f.host_ip} . {key}"
        found.append(key if verb == "delete" else f"{key} : {f.container_ip} . {f.container_port}")
    return found


def _map(name: str, type_: str, forwards: list[PortForward]) -> list[str]:
    lines = [f"\tmap {name} {{", f"\t\ttype {type_}"]
    if forwards:
        lines.append("\t\telements = { " + ", ".join(_elements(forwards)) + " }")
    lines.append("\t}")
    return lines


def _set(name: str, devices: list[str]) -> list[str]:
    lines = [f"\tset {name} {{", "\t\ttype ifname"]
    if devices:
        lines.append("\t\telements = { " + ", ".join(f'"{d}"' for d in devices) + " }")
    lines.append("\t}")
    return lines

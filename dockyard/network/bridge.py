# SPDX-License-Identifier: Apache-2.0
"""The kernel side of the bridge driver: bridge devices, veth pairs, addresses, routes
and the sysctls they need. Everything here blocks (netlink, /proc/sys writes) and is
called through `asyncio.to_thread`; the service decides what to do, this does it.

A bridge made by dockyard carries the interface alias `dockyard:<tag>` (the tag is the
daemon's nftables table name), so a daemon — or a test's cleanup — can tell its own
bridges from anybody else's.

An endpoint is a veth pair: `vethXXXXXXX` on the bridge in the host's namespace (with
hairpin mode on, so a container can reach its own published ports through the host),
and `ethN` inside the container's namespace with the endpoint's address and MAC.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from dockyard.errors import Conflict
from dockyard.network.netlink import Netlink, mac_bytes
from dockyard.network.netns import Namespace, open_fd

DEFAULT_MTU = 1500


@dataclass
class Interface:
    """An endpoint to create: `ifname` in the container, with `address` and `mac`."""

    ifname: str
    address: ipaddress.IPv4Interface
    mac: str
    bridge: str
    mtu: int


def alias_for(tag: str) -> str:
    return f"dockyard:{tag}"


def ensure_bridge(nl: Netlink, device: str, gateway: ipaddress.IPv4Interface | None, mtu: int,
                  tag: str) -> bool:
    """Create (or adopt) the bridge `device` with address `gateway` and `mtu`, up;
    returns True if it was created. An existing non-bridge interface of that name is a
    conflict; an existing bridge (a leftover, or one the user made for `--bridge`) is
    adopted."""
    link = nl.link(device)
    created = False
    if link is None:
        nl.add_bridge(device, mtu=mtu, alias=alias_for(tag))
        link = nl.link(device)
        created = True
        if link is None:
            raise OSError(f"bridge {device} vanished after being created")
    elif link.kind != "bridge":
        raise Conflict(f"cannot create network: interface {device} exists and is not a bridge")
    try:
        if gateway is not None:
            present = {a.address for a in nl.addresses(link.index)}
            if gateway not in present:
                nl.add_address(link.index, gateway, replace=True)
        if link.mtu != mtu:
            nl.set_link(link.index, mtu=mtu)
        set_sysctl(f"net/ipv4/conf/{device}/route_localnet", "1")
        # No IPv6 on dockyard's networks: keep the bridge from autoconfiguring addresses.
        with contextlib.suppress(OSError):
            set_sysctl(f"net/ipv6/conf/{device}/disable_ipv6", "1")
        if not link.up:
            nl.set_link(link.index, up=True)
    except BaseException:
        if created:
            nl.delete_link(device)
        raise
    return created


def delete_bridge(nl: Netlink, device: str) -> None:
    nl.delete_link(device)


def own_bridges(nl: Netlink, tag: str) -> list[str]:
    """Names of the bridges a daemon with this tag made."""
    alias = alias_for(tag)
    return [link.name for link in nl.links() if link.kind == "bridge" and link.alias == alias]


def attach(host: Netlink, ns: Namespace, interfaces: list[Interface],
           gateway: ipaddress.IPv4Address | None) -> list[str]:
    """Create the veth pairs of `interfaces` into the namespace of `ns` and address them;
    add a default route via `gateway` (if any). Returns the host-side names. On failure,
    the pairs made so far are removed."""
    made: list[str] = []
    fd = open_fd(ns.path)
    try:
        for interface in interfaces:
            bridge = host.link(interface.bridge)
            if bridge is None:
                raise OSError(f"bridge {interface.bridge} does not exist")
            name = _add_veth(host, interface, fd, bridge.index)
            made.append(name)
            _hairpin(name)
            inner = ns.netlink.link(interface.ifname)
            if inner is None:
                raise OSError(f"{interface.ifname} did not appear in {ns.path}")
            ns.netlink.add_address(inner.index, interface.address)
            ns.netlink.set_link(inner.index, up=True)
        if gateway is not None:
            set_default_route(ns, gateway)
    except BaseException:
        for name in made:
            with contextlib.suppress(OSError):
                host.delete_link(name)
        raise
    finally:
        os.close(fd)
    return made


def set_default_route(ns: Namespace, gateway: ipaddress.IPv4Address | None) -> None:
    """Point the namespace's default route at `gateway` (None removes it)."""
    if gateway is None:
        ns.netlink.delete_default_route()
        return
    for address in ns.netlink.addresses():
        if gateway in address.address.network and address.index != 1:
            ns.netlink.add_default_route(gateway, address.index)
            return
    raise OSError(f"no interface in {ns.path} reaches gateway {gateway}")


def detach(ns: Namespace, ifname: str) -> None:
    """Remove the endpoint `ifname` from a namespace (its host side goes with it)."""
    ns.netlink.delete_link(ifname)


def interface_names(ns: Namespace) -> set[str]:
    return {link.name for link in ns.netlink.links()}


def uplink_mtu(nl: Netlink) -> int | None:
    """The MTU of the interface the host's default route leaves by."""
    links = {link.index: link for link in nl.links()}
    for route in nl.routes():
        if route.dst.prefixlen == 0 and route.oif in links:
            return links[route.oif].mtu or None
    return None


def host_routes(nl: Netlink, exclude_devices: set[str]) -> list[tuple[ipaddress.IPv4Network, str]]:
    """The host's routes to specific subnets (not default routes), with their device,
    leaving out those of `exclude_devices` (dockyard's own bridges)."""
    names = {link.index: link.name for link in nl.links()}
    found = []
    for route in nl.routes():
        device = names.get(route.oif, "")
        if route.dst.prefixlen == 0 or device in exclude_devices:
            continue
        found.append((route.dst, device))
    return found


def enable_ip_forward() -> None:
    if _read_sysctl("net/ipv4/ip_forward") != "1":
        set_sysctl("net/ipv4/ip_forward", "1")


def set_sysctl(name: str, value: str) -> None:
    path = Path("/proc/sys") / name
    if _read_sysctl(name) == value:
        return
    path.write_text(value)


def mac_for(address: ipaddress.IPv4Address) -> str:
    """Docker's MAC for an address: 02:42 followed by the four address bytes."""
    return "02:42:" + ":".join(f"{b:02x}" for b in address.packed)


def _read_sysctl(name: str) -> str:
    try:
        return (Path("/proc/sys") / name).read_text().strip()
    except OSError:
        return ""


def _add_veth(host: Netlink, interface: Interface, netns_fd: int, master: int) -> str:
    """A veth pair with a random host-side name like Docker's (`veth` + 7 hex digits),
    retried on the rare name collision."""
    for attempt in range(5):
        name = "veth" + secrets.token_hex(4)[:7]
        try:
            host.add_veth(name, interface.ifname, peer_netns_fd=netns_fd, master=master,
                          mtu=interface.mtu, peer_mac=mac_bytes(interface.mac))
            return name
        except FileExistsError:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def _hairpin(name: str) -> None:
    with contextlib.suppress(OSError):
        Path(f"/sys/class/net/{name}/brport/hairpin_mode").write_text("1")

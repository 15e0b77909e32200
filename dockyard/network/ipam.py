# SPDX-License-Identifier: Apache-2.0
"""IP address management: choosing subnets for networks and addresses for endpoints.

Subnets come from address pools, Docker's defaults unless the daemon was given
`--default-address-pool base=CIDR,size=N`: 172.17.0.0/16 … 172.31.0.0/16, then
192.168.0.0/16 cut into /20s. A subnet is free when it overlaps no other network, no
route of the host (other than a default route) and no nameserver the host uses — taking
the subnet of the host's resolver would cut the host off from DNS.

Within a network, `AddressSpace` hands out the lowest free address of the subnet (or of
its `IPRange`), never the network or broadcast address or the gateway, as Docker's
default IPAM does.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from dockyard.errors import Forbidden, InvalidParameter

IPv4Network = ipaddress.IPv4Network
IPv4Address = ipaddress.IPv4Address


@dataclass(frozen=True)
class Pool:
    base: IPv4Network
    size: int

    def subnets(self) -> Iterator[IPv4Network]:
        if self.size <= self.base.prefixlen:
            yield self.base
        else:
            yield from self.base.subnets(new_prefix=self.size)


DEFAULT_POOLS = tuple(
    [Pool(IPv4Network(f"172.{n}.0.0/16"), 16) for n in range(17, 32)]
    + [Pool(IPv4Network("192.168.0.0/16"), 20)]
)


class NoFreeSubnet(Forbidden):
    pass


class AddressInUse(Forbidden):
    pass


def parse_pool(text: str) -> Pool:
    """`base=10.10.0.0/16,size=24` (the daemon's --default-address-pool)."""
    values: dict[str, str] = {}
    for part in text.split(","):
        key, eq, value = part.partition("=")
        if not eq:
            raise ValueError(f"invalid default address pool {text!r}: expected base=CIDR,size=N")
        values[key.strip().lower()] = value.strip()
    try:
        base = IPv4Network(values["base"])
        size = int(values["size"])
    except (KeyError, ValueError) as e:
        raise ValueError(f"invalid default address pool {text!r}: {e}") from None
    if not base.prefixlen <= size <= 30:
        raise ValueError(f"invalid default address pool {text!r}: size must be between {base.prefixlen} and 30")
    return Pool(base, size)


def pick_subnet(pools: Iterable[Pool], taken: Iterable[IPv4Network],
                avoid: Iterable[IPv4Address] = ()) -> IPv4Network:
    """The first subnet of `pools` that overlaps nothing in `taken` and holds no address
    of `avoid`."""
    taken = list(taken)
    avoid = list(avoid)
    for pool in pools:
        for subnet in pool.subnets():
            if any(subnet.overlaps(t) for t in taken) or any(a in subnet for a in avoid):
                continue
            return subnet
    raise NoFreeSubnet("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")


def parse_subnet(text: str) -> IPv4Network:
    """A network's `Subnet`, which must be an IPv4 network address with its prefix."""
    try:
        interface = ipaddress.ip_interface(text)
    except ValueError:
        raise InvalidParameter(f"invalid subnet {text}: invalid CIDR address: {text}") from None
    if "/" not in text:
        raise InvalidParameter(f"invalid subnet {text}: invalid CIDR address: {text}")
    if interface.version != 4:
        raise InvalidParameter(f"invalid subnet {text}: IPv6 is not supported (EnableIPv6 is off)")
    if interface.ip != interface.network.network_address:
        raise InvalidParameter(f"invalid subnet {text}: it should be {interface.network}")
    if interface.network.prefixlen > 30:
        raise InvalidParameter(f"invalid subnet {text}: the prefix must be /30 or shorter to hold a gateway and a container")
    return IPv4Network(interface.network)


def parse_address(text: str, what: str) -> IPv4Address:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise InvalidParameter(f"invalid {what} address {text}") from None
    if address.version != 4:
        raise InvalidParameter(f"invalid {what} address {text}: IPv6 is not supported")
    return IPv4Address(address)


@dataclass
class AddressSpace:
    """The addresses of one network's subnet: which are taken, and the next to give."""

    subnet: IPv4Network
    gateway: IPv4Address | None
    ip_range: IPv4Network | None = None
    taken: set[IPv4Address] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.gateway is not None:
            if self.gateway not in self.subnet:
                raise InvalidParameter(f"failed to allocate gateway ({self.gateway}): Requested address is out of range")
            if self.gateway in (self.subnet.network_address, self.subnet.broadcast_address):
                raise InvalidParameter(f"failed to allocate gateway ({self.gateway}): Address already in use")
        if self.ip_range is not None and not self.ip_range.subnet_of(self.subnet):
            raise InvalidParameter(f"invalid ip-range {self.ip_range}: it is not inside subnet {self.subnet}")

    def allocate(self, wanted: IPv4Address | None = None) -> IPv4Address:
        """`wanted`, or the lowest free address; raises AddressInUse/NoFreeSubnet."""
        if wanted is not None:
            if wanted not in self.subnet:
                raise InvalidParameter(f"Invalid address {wanted}: It does not belong to any of this network's subnets")
            if wanted in self._reserved() or wanted in self.taken:
                raise AddressInUse("Address already in use")
            self.taken.add(wanted)
            return wanted
        span = self.ip_range or self.subnet
        reserved = self._reserved()
        first, last = int(span.network_address), int(span.broadcast_address)
        for value in range(first, last + 1):
            address = IPv4Address(value)
            if address not in reserved and address not in self.taken:
                self.taken.add(address)
                return address
        raise NoFreeSubnet(f"no available IPv4 addresses on this network's address pools: {self.subnet}")

    def reserve(self, address: IPv4Address) -> None:
        """Mark `address` taken (restoring the endpoints of running containers)."""
        self.taken.add(address)

    def release(self, address: IPv4Address) -> None:
        self.taken.discard(address)

    def _reserved(self) -> set[IPv4Address]:
        reserved = {self.subnet.network_address, self.subnet.broadcast_address}
        if self.gateway is not None:
            reserved.add(self.gateway)
        return reserved


def default_gateway(subnet: IPv4Network) -> IPv4Address:
    """Docker's gateway when none is given: the subnet's first address."""
    return subnet.network_address + 1

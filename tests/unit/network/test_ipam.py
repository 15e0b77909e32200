# SPDX-License-Identifier: Apache-2.0
"""IPAM: pools, free subnets, addresses within a network."""

from __future__ import annotations

import ipaddress

import pytest

from dockyard.errors import Forbidden, InvalidParameter
from dockyard.network import ipam

N = ipaddress.IPv4Network
A = ipaddress.IPv4Address


def test_parse_pool():
    assert ipam.parse_pool("base=10.10.0.0/16,size=24") == ipam.Pool(N("10.10.0.0/16"), 24)
    for bad in ("10.10.0.0/16", "base=10.10.0.0/16", "base=10.10.0.1/16,size=24", "base=10.0.0.0/16,size=8"):
        with pytest.raises(ValueError):
            ipam.parse_pool(bad)


def test_default_pools_follow_docker():
    subnets = [s for p in ipam.DEFAULT_POOLS for s in p.subnets()]
    assert subnets[0] == N("172.17.0.0/16") and subnets[14] == N("172.31.0.0/16")
    assert subnets[15] == N("192.168.0.0/20") and len(subnets) == 31


def test_pick_subnet_skips_taken_routes_and_nameservers():
    pools = [ipam.Pool(N("10.10.0.0/16"), 24)]
    taken = [N("10.10.0.0/24"), N("10.10.0.0/23")]
    assert ipam.pick_subnet(pools, taken) == N("10.10.2.0/24")
    assert ipam.pick_subnet(pools, taken, [A("10.10.2.53")]) == N("10.10.3.0/24")
    with pytest.raises(Forbidden, match="could not find an available, non-overlapping"):
        ipam.pick_subnet([ipam.Pool(N("10.10.0.0/24"), 24)], [N("10.10.0.0/16")])


def test_parse_subnet_errors():
    assert ipam.parse_subnet("10.1.0.0/16") == N("10.1.0.0/16")
    with pytest.raises(InvalidParameter, match="invalid CIDR address: 300.1.0.0/16"):
        ipam.parse_subnet("300.1.0.0/16")
    with pytest.raises(InvalidParameter, match="it should be 10.1.0.0/16"):
        ipam.parse_subnet("10.1.0.5/16")
    with pytest.raises(InvalidParameter, match="invalid CIDR"):
        ipam.parse_subnet("10.1.0.0")
    with pytest.raises(InvalidParameter, match="IPv6"):
        ipam.parse_subnet("fd00::/64")


def test_address_space_lowest_free_and_reserved():
    space = ipam.AddressSpace(N("10.0.0.0/29"), A("10.0.0.1"))
    assert [space.allocate() for _ in range(5)] == [A(f"10.0.0.{i}") for i in range(2, 7)]
    with pytest.raises(Forbidden, match="no available IPv4 addresses"):
        space.allocate()
    space.release(A("10.0.0.3"))
    assert space.allocate() == A("10.0.0.3")


def test_address_space_requested_and_range():
    space = ipam.AddressSpace(N("10.0.0.0/24"), A("10.0.0.254"), N("10.0.0.128/25"))
    assert space.allocate() == A("10.0.0.128")
    assert space.allocate(A("10.0.0.5")) == A("10.0.0.5")
    with pytest.raises(Forbidden, match="Address already in use"):
        space.allocate(A("10.0.0.5"))
    with pytest.raises(Forbidden, match="Address already in use"):
        space.allocate(A("10.0.0.254"))
    with pytest.raises(InvalidParameter, match="does not belong"):
        space.allocate(A("10.0.1.5"))
    space.reserve(A("10.0.0.129"))
    assert space.allocate() == A("10.0.0.130")


def test_address_space_rejects_bad_gateway_and_range():
    with pytest.raises(InvalidParameter, match=r"failed to allocate gateway \(10.1.0.1\): Requested address is out of range"):
        ipam.AddressSpace(N("10.0.0.0/24"), A("10.1.0.1"))
    with pytest.raises(InvalidParameter, match="Address already in use"):
        ipam.AddressSpace(N("10.0.0.0/24"), A("10.0.0.0"))
    with pytest.raises(InvalidParameter, match="not inside subnet"):
        ipam.AddressSpace(N("10.0.0.0/24"), A("10.0.0.1"), N("10.0.1.0/25"))

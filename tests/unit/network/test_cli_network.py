# SPDX-License-Identifier: Apache-2.0
"""`network create` flags → IPAM config, and `network ls` rows."""

from __future__ import annotations

import pytest

from dockyard.cli.command import StatusError
from dockyard.cli.network import NetworkRow, ipam_configs


def test_ipam_configs_pair_values_with_their_subnet():
    assert ipam_configs(["10.1.0.0/16", "10.2.0.0/16"], ["10.2.1.0/24"], ["10.1.0.254"], {"h": "10.2.0.9"}) == [
        {"Subnet": "10.1.0.0/16", "Gateway": "10.1.0.254"},
        {"Subnet": "10.2.0.0/16", "IPRange": "10.2.1.0/24", "AuxiliaryAddresses": {"h": "10.2.0.9"}},
    ]
    assert ipam_configs([], [], [], {}) == []


@pytest.mark.parametrize("args, message", [
    (([], [], ["10.0.0.1"], {}), "every ip-range or gateway must have a corresponding subnet"),
    ((["10.1.0.0/24"], ["10.9.0.0/25"], [], {}), "no matching subnet for range 10.9.0.0/25"),
    ((["10.1.0.0/24"], [], ["10.9.0.1"], {}), "no matching subnet for gateway 10.9.0.1"),
    ((["10.1.0.0/24"], [], ["10.1.0.1", "10.1.0.2"], {}), "cannot configure multiple gateways"),
    ((["10.1.0.0/16", "10.1.2.0/24"], [], [], {}), "multiple overlapping subnet"),
    ((["nope"], [], [], {}), "invalid CIDR address: nope"),
])
def test_ipam_config_errors(args, message):
    with pytest.raises(StatusError, match=message):
        ipam_configs(*args)


def test_network_row_fields():
    row = NetworkRow({"Id": "ab" * 32, "Name": "n", "Driver": "bridge", "Scope": "local", "Internal": True,
                      "EnableIPv6": False, "Labels": {"a": "b", "c": ""}, "Created": "2024-01-02T03:04:05.5Z"})
    assert row.ID == "ab" * 6 and NetworkRow({"Id": "ab" * 32}, trunc=False).ID == "ab" * 32
    assert (row.Internal, row.IPv6, row.Labels, row.Label("a")) == ("true", "false", "a=b,c=", "b")
    assert row.CreatedAt.startswith("2024-01-02 ") or row.CreatedAt.startswith("2024-01-0")
    assert set(row.to_json()) == set(NetworkRow.FIELDS)

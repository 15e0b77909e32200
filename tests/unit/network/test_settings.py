# SPDX-License-Identifier: Apache-2.0
"""The daemon's network options: flags over what the data root remembers over defaults,
and one daemon per nftables table and bridge."""

from __future__ import annotations

import os

import pytest

from dockyard.config import DaemonConfig
from dockyard.errors import DockyardError
from dockyard.network import service
from dockyard.network.service import Settings


def test_flags_then_remembered_then_defaults():
    assert Settings.resolve(DaemonConfig(), {}) == Settings("dockyard0", None, [], None, "dockyard")
    remembered = {"bridge": "dyt0", "bip": "10.1.0.1/24", "pools": ["base=10.2.0.0/16,size=24"],
                  "mtu": 1400, "table": "dyt"}
    assert Settings.resolve(DaemonConfig(), remembered) == Settings("dyt0", "10.1.0.1/24",
                                                                   ["base=10.2.0.0/16,size=24"], 1400, "dyt")
    flags = DaemonConfig(bridge="br9", nft_table="t9", default_address_pools=["base=10.9.0.0/16,size=24"])
    resolved = Settings.resolve(flags, remembered)
    assert (resolved.bridge, resolved.table, resolved.pools, resolved.bip) == \
        ("br9", "t9", ["base=10.9.0.0/16,size=24"], "10.1.0.1/24")
    assert Settings.resolve(DaemonConfig(), resolved.stored()) == resolved


@pytest.mark.parametrize("config", [DaemonConfig(bip="10.1.0.1"), DaemonConfig(bip="nope"),
                                    DaemonConfig(default_address_pools=["10.0.0.0/8"]),
                                    DaemonConfig(nft_table="no spaces")])
def test_bad_flags(config):
    with pytest.raises(ValueError):
        Settings.resolve(config, {})


def test_one_daemon_per_table_and_bridge(tmp_path, monkeypatch):
    monkeypatch.setattr(service, "LOCK_DIR", str(tmp_path))
    first = service._lock_host_resources(Settings(bridge="b1", table="t1"))
    try:
        with pytest.raises(DockyardError, match="another dockyard daemon manages the nftables table t1"):
            service._lock_host_resources(Settings(bridge="b2", table="t1"))
        with pytest.raises(DockyardError, match="manages the bridge b1; give this one its own --bridge"):
            service._lock_host_resources(Settings(bridge="b1", table="t2"))
        first += service._lock_host_resources(Settings(bridge="b3", table="t3"))
    finally:
        for fd in first:
            os.close(fd)
    for fd in service._lock_host_resources(Settings(bridge="b1", table="t1")):  # free again
        os.close(fd)

# SPDX-License-Identifier: Apache-2.0
"""The rendered nftables ruleset: what each network and published port adds, and that
nft itself accepts the script (checked with `nft -c`, nothing applied)."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import shutil

import pytest

from dockyard.network.nftables import (
    BridgeRules,
    PortForward,
    apply,
    delete_script,
    elements_script,
    render,
)

NET = ipaddress.IPv4Network


def ruleset() -> str:
    return render("dytest", [BridgeRules("br-a", NET("10.1.0.0/24")),
                             BridgeRules("br-i", NET("10.2.0.0/24"), internal=True),
                             BridgeRules("br-n", NET("10.3.0.0/24"), masquerade=False)],
                  [PortForward("tcp", "0.0.0.0", 8080, "10.1.0.2", 80),
                   PortForward("udp", "127.0.0.1", 5353, "10.1.0.2", 53)])


def test_render_replaces_the_table_atomically():
    script = ruleset()
    assert script.startswith("table inet dytest {}\ndelete table inet dytest\ntable inet dytest {\n")
    assert delete_script("dytest") == "table inet dytest {}\ndelete table inet dytest\n"


def test_render_rules():
    lines = [line.strip() for line in ruleset().splitlines()]
    assert "elements = { tcp . 8080 : 10.1.0.2 . 80 }" in lines
    assert "elements = { 127.0.0.1 . udp . 5353 : 10.1.0.2 . 53 }" in lines
    assert "meta nfproto ipv4 dnat ip to meta l4proto . th dport map @ports" in lines
    assert 'ip saddr 10.1.0.0/24 oifname != "br-a" masquerade' in lines
    assert not any("10.2.0.0/24 oifname !=" in line for line in lines)  # internal: no way out
    assert not any("10.3.0.0/24 oifname !=" in line for line in lines)  # masquerade off
    assert 'elements = { "br-i" }' in lines
    assert lines.index("iifname @internal drop") < lines.index("oifname @bridges ct status dnat accept")
    assert lines.index("oifname @bridges ct status dnat accept") < lines.index("iifname @bridges oifname @bridges drop")
    assert "oifname @bridges ip saddr 127.0.0.0/8 masquerade" in lines


def test_elements_script():
    a = PortForward("tcp", "0.0.0.0", 8080, "10.1.0.2", 80)
    b = PortForward("udp", "127.0.0.1", 5353, "10.1.0.3", 53)
    assert elements_script("t", [a], [b]) == (
        "delete element inet t hostports { 127.0.0.1 . udp . 5353 }\n"
        "add element inet t ports { tcp . 8080 : 10.1.0.2 . 80 }\n")
    assert elements_script("t", [], []) == ""


def test_render_empty():
    script = render("dytest", [], [])
    assert "jump published" in script and "masquerade" not in script and "drop" not in script


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft"), reason="nft -c needs root")
def test_nft_accepts_the_script():
    asyncio.run(apply(ruleset(), check=True))
    asyncio.run(apply(render("dytest", [], []), check=True))
    a = PortForward("tcp", "0.0.0.0", 8080, "10.1.0.2", 80)
    asyncio.run(apply(ruleset() + elements_script("dytest", [a], []), check=True))

# SPDX-License-Identifier: Apache-2.0
"""The /etc/hostname, /etc/hosts and /etc/resolv.conf files the daemon writes for each
container and bind-mounts into it, like Docker's."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

_LOCAL_NAMESERVER = re.compile(r"^\s*nameserver\s+(127\.\S+|::1)\s*$")


def write_all(record: dict[str, Any], host_resolv: str = "/etc/resolv.conf") -> None:
    config = record["Config"]
    hostname = config.get("Hostname") or record["Id"][:12]
    fqdn = f"{hostname}.{config['Domainname']}" if config.get("Domainname") else hostname
    _write(record["HostnamePath"], hostname + "\n")
    _write(record["HostsPath"], hosts_content(fqdn, hostname, extra=record["HostConfig"].get("ExtraHosts") or []))
    _write(record["ResolvConfPath"], resolv_content(record["HostConfig"], host_resolv))


def hosts_content(fqdn: str, hostname: str, *, address: str | None = None, extra: list[str] = ()) -> str:
    lines = [
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::0\tip6-localnet",
        "ff00::0\tip6-mcastprefix",
        "ff02::1\tip6-allnodes",
        "ff02::2\tip6-allrouters",
    ]
    for entry in extra:
        host, _, ip = entry.partition(":")
        lines.append(f"{ip}\t{host}")
    if address:
        names = fqdn if fqdn == hostname else f"{fqdn} {hostname}"
        lines.append(f"{address}\t{names}")
    return "\n".join(lines) + "\n"


def resolv_content(host_config: dict[str, Any], host_resolv: str) -> str:
    """The host's resolv.conf without loopback nameservers (unreachable from a container's
    namespace), overridden by --dns/--dns-search/--dns-option."""
    try:
        host_lines = Path(host_resolv).read_text().splitlines()
    except OSError:
        host_lines = []
    servers = [f"nameserver {s}" for s in host_config.get("Dns") or []]
    searches = host_config.get("DnsSearch") or []
    options = host_config.get("DnsOptions") or []
    out: list[str] = []
    for line in host_lines:
        stripped = line.strip()
        if stripped.startswith("nameserver"):
            if servers or _LOCAL_NAMESERVER.match(line):
                continue
        elif stripped.startswith("search") and searches:
            continue
        elif stripped.startswith("options") and options:
            continue
        out.append(line)
    out.extend(servers)
    if searches:
        out.append("search " + " ".join(searches))
    if options:
        out.append("options " + " ".join(options))
    return "\n".join(out) + "\n"


def _write(path: str, content: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(content)
    os.replace(tmp, path)

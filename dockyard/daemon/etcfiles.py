# SPDX-License-Identifier: Apache-2.0
"""The /etc/hostname, /etc/hosts and /etc/resolv.conf files the daemon writes for each
container and bind-mounts into it, in Docker's formats.

    hosts        the standard localhost/ip6 lines, the `--add-host` entries, then the
                 container's own address with its FQDN and short name; with
                 `--network host` a copy of the host's /etc/hosts plus `--add-host`
    resolv.conf  with the embedded DNS server (user-defined networks):
                 `nameserver 127.0.0.11` and `options ndots:0`, the host's search domains;
                 otherwise the host's file without loopback nameservers (unreachable from
                 a container's namespace); `--dns*` override either
    hostname     the container's hostname

`write_all` is the create-time version (no address yet); the network layer rewrites the
files at every start with `write_files`. A running container sees its files through
bind mounts, so later changes are written in place (`rewrite_in_place`), never by rename.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any

HOST_RESOLV = "/etc/resolv.conf"
HOST_HOSTS = "/etc/hosts"
EMBEDDED_DNS = "127.0.0.11"
# When the host's resolv.conf names only loopback servers and no embedded server is
# wanted, Docker falls back to Google's public servers.
FALLBACK_NAMESERVERS = ("8.8.8.8", "8.8.4.4")

_DEFAULT_HOSTS = (
    ("127.0.0.1", "localhost"),
    ("::1", "localhost ip6-localhost ip6-loopback"),
    ("fe00::0", "ip6-localnet"),
    ("ff00::0", "ip6-mcastprefix"),
    ("ff02::1", "ip6-allnodes"),
    ("ff02::2", "ip6-allrouters"),
)
_NAMESERVER = re.compile(r"^\s*nameserver\s+(\S+)")


def write_all(record: dict[str, Any], host_resolv: str = HOST_RESOLV) -> None:
    """The files of a just-created container (no address yet)."""
    write_files(record, host_resolv=host_resolv)


def write_files(record: dict[str, Any], *, address: str | None = None,
                host_gateway: str | None = None, embedded_dns: bool = False,
                host_resolv: str = HOST_RESOLV, host_hosts: str = HOST_HOSTS,
                more_hosts: list[str] = ()) -> None:
    """Write the three files of `record` (nothing for `--network container:…`, whose
    files are the other container's); `more_hosts` are extra hosts lines (links)."""
    mode = network_mode(record)
    if mode.startswith("container:"):
        return
    config, host_config = record["Config"], record["HostConfig"]
    hostname = _hostname(record)
    extra = extra_host_lines(host_config.get("ExtraHosts") or [], host_gateway) + list(more_hosts)
    if mode == "host":
        hosts = host_hosts_content(host_hosts, extra)
    else:
        hosts = hosts_content(hostname, config.get("Domainname") or "", address=address, extra=extra)
    _write(record["HostnamePath"], hostname + "\n")
    _write(record["HostsPath"], hosts)
    _write(record["ResolvConfPath"], resolv_content(host_config, host_resolv,
                                                    embedded_dns=embedded_dns,
                                                    host_mode=mode == "host"))


def network_mode(record: dict[str, Any]) -> str:
    return record["HostConfig"].get("NetworkMode") or "default"


def hosts_content(hostname: str, domainname: str = "", *, address: str | None = None,
                  extra: list[str] = ()) -> str:
    lines = [f"{ip}\t{names}" for ip, names in _DEFAULT_HOSTS]
    lines.extend(extra)
    if address:
        lines.append(f"{address}\t{host_names(hostname, domainname)}")
    return "\n".join(lines) + "\n"


def host_names(hostname: str, domainname: str = "") -> str:
    """`fqdn short` for a hostname with dots (or a domain name), else just the name."""
    fqdn = f"{hostname}.{domainname}" if domainname else hostname
    short, dot, _ = fqdn.partition(".")
    return f"{fqdn} {short}" if dot else fqdn


def host_hosts_content(host_hosts: str, extra: list[str]) -> str:
    try:
        content = Path(host_hosts).read_text()
    except OSError:
        content = "".join(f"{ip}\t{names}\n" for ip, names in _DEFAULT_HOSTS)
    if content and not content.endswith("\n"):
        content += "\n"
    return content + "".join(line + "\n" for line in extra)


def extra_host_lines(entries: list[str], host_gateway: str | None) -> list[str]:
    """`--add-host name:ip` entries as hosts lines; `host-gateway` is the default
    bridge's gateway address (dropped if there is none)."""
    lines = []
    for entry in entries:
        name, _, ip = entry.partition(":")
        if ip == "host-gateway":
            if not host_gateway:
                continue
            ip = host_gateway
        lines.append(f"{ip}\t{name}")
    return lines


def validate_extra_hosts(entries: list[str]) -> None:
    """Docker's create-time check of HostConfig.ExtraHosts (ValueError with its message)."""
    for entry in entries:
        name, sep, ip = entry.partition(":")
        if not sep or not name or not ip:
            raise ValueError(f'bad format for add-host: "{entry}"')
        if ip == "host-gateway":
            continue
        try:
            ipaddress.ip_address(ip.strip("[]"))
        except ValueError:
            raise ValueError(f'invalid IP address in add-host: "{ip}"') from None


def resolv_content(host_config: dict[str, Any], host_resolv: str = HOST_RESOLV, *,
                   embedded_dns: bool = False, host_mode: bool = False) -> str:
    try:
        host_lines = Path(host_resolv).read_text().splitlines()
    except OSError:
        host_lines = []
    dns = list(host_config.get("Dns") or [])
    searches = list(host_config.get("DnsSearch") or [])
    options = list(host_config.get("DnsOptions") or [])
    if embedded_dns:
        # --dns servers become the embedded server's upstreams, not the container's.
        if not searches:
            searches = _words(host_lines, "search") or _words(host_lines, "domain")
        if not options:
            options = _words(host_lines, "options")
        if not any(o.startswith("ndots:") for o in options):
            options.append("ndots:0")
        return _build([EMBEDDED_DNS], searches, options)
    if not dns and not searches and not options:
        if host_mode:
            return "\n".join(host_lines) + "\n" if host_lines else ""
        kept = [line for line in host_lines if not _is_loopback_nameserver(line)]
        if not any(_NAMESERVER.match(line) for line in kept):
            kept.extend(f"nameserver {server}" for server in FALLBACK_NAMESERVERS)
        return "\n".join(kept) + "\n"
    if not dns:
        dns = [s for s in nameservers(host_lines) if host_mode or not _is_loopback(s)]
        if not dns:
            dns = list(FALLBACK_NAMESERVERS)
    if not searches:
        searches = _words(host_lines, "search") or _words(host_lines, "domain")
    if not options:
        options = _words(host_lines, "options")
    return _build(dns, searches, options)


def nameservers(lines: list[str]) -> list[str]:
    """The nameserver addresses of a resolv.conf."""
    found = []
    for line in lines:
        match = _NAMESERVER.match(line)
        if match:
            found.append(match.group(1))
    return found


def host_nameservers(host_resolv: str = HOST_RESOLV) -> list[str]:
    try:
        return nameservers(Path(host_resolv).read_text().splitlines())
    except OSError:
        return []


def has_usable_nameserver(host_resolv: str = HOST_RESOLV) -> bool:
    """True if the host's resolv.conf names a server a container's namespace can reach."""
    return any(not _is_loopback(s) for s in host_nameservers(host_resolv))


def set_hosts_entry(record: dict[str, Any], address: str, present: bool) -> None:
    """Add (or take out) the container's own line for one more address, as dockerd does
    on `network connect` (and disconnect). The file is rewritten in place: it is bind
    mounted into the running container."""
    path = record["HostsPath"]
    try:
        lines = Path(path).read_text().splitlines()
    except FileNotFoundError:
        return
    lines = [line for line in lines if line.split("\t", 1)[0] != address]
    if present:
        lines.append(f"{address}\t{host_names(_hostname(record), record['Config'].get('Domainname') or '')}")
    rewrite_in_place(path, "\n".join(lines) + "\n")


def _hostname(record: dict[str, Any]) -> str:
    return record["Config"].get("Hostname") or record["Id"][:12]


def rewrite_in_place(path: str, content: str) -> None:
    """Replace the content of a file a running container has bind-mounted (a rename
    would leave the container looking at the old inode)."""
    with open(path, "r+" if os.path.exists(path) else "w") as f:
        f.write(content)
        f.truncate()


def _build(dns: list[str], searches: list[str], options: list[str]) -> str:
    lines = []
    if searches:
        lines.append("search " + " ".join(searches))
    lines.extend(f"nameserver {server}" for server in dns)
    if options:
        lines.append("options " + " ".join(options))
    return "\n".join(lines) + "\n"


def _words(lines: list[str], keyword: str) -> list[str]:
    """The values of the last `keyword` line (later lines win, as in the resolver)."""
    found: list[str] = []
    for line in lines:
        parts = line.split()
        if parts and parts[0] == keyword:
            found = parts[1:]
    return found


def _is_loopback_nameserver(line: str) -> bool:
    match = _NAMESERVER.match(line)
    return bool(match) and _is_loopback(match.group(1))


def _is_loopback(server: str) -> bool:
    try:
        return ipaddress.ip_address(server.split("%")[0]).is_loopback
    except ValueError:
        return False


def _write(path: str, content: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(content)
    os.replace(tmp, path)

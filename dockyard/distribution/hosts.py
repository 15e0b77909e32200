# SPDX-License-Identifier: Apache-2.0
"""Where a registry is and how to talk to it: endpoints, TLS trust, insecure registries.

Docker's rules, kept here so pull, push, login and search agree:

* `docker.io` is served by `registry-1.docker.io`, after any `registry-mirrors`;
* HTTPS is verified against the system CAs plus the per-registry files in
  `<certs.d>/<host[:port]>/` (`*.crt` are CAs, `*.cert` + `*.key` a client certificate),
  with `<certs.d>` = `/etc/docker/certs.d` and `/etc/dockyard/certs.d`;
* plain HTTP is allowed only for "insecure" registries: `localhost`, `127.0.0.0/8`, `::1`,
  and the `--insecure-registry` entries (host[:port] or CIDR). For those HTTPS is tried
  first without verification, then plain HTTP, as Docker does.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_CERTS_DIRS = ("/etc/docker/certs.d", "/etc/dockyard/certs.d")
HUB_DOMAIN = "docker.io"
HUB_REGISTRY = "registry-1.docker.io"
HUB_INDEX = "https://index.docker.io/v1/"  # the key Docker's config.json uses for Hub


@dataclass(frozen=True)
class Endpoint:
    """One base URL to try for a registry; `mirror` endpoints may not accept pushes."""

    scheme: str
    host: str  # host[:port], as in the URL
    tls: ssl.SSLContext | None
    insecure: bool = False  # may fall back to plain HTTP
    mirror: bool = False

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"


@dataclass
class RegistryHosts:
    """Registry settings of the daemon (or of a CLI command that talks to a registry)."""

    insecure: list[str] = field(default_factory=list)
    mirrors: list[str] = field(default_factory=list)
    certs_dirs: tuple[str, ...] = DEFAULT_CERTS_DIRS
    _contexts: dict[tuple[str, bool, str], ssl.SSLContext] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def endpoints(self, domain: str, *, push: bool = False) -> list[Endpoint]:
        """Endpoints to try in order for the registry `domain` (a reference's domain)."""
        out: list[Endpoint] = []
        if domain == HUB_DOMAIN:
            if not push:
                for mirror in self.mirrors:
                    scheme, _, host = mirror.rstrip("/").partition("://")
                    if not host:
                        scheme, host = "https", scheme
                    insecure = self.is_insecure(host)
                    out.append(Endpoint(scheme, host, self._tls(host, insecure) if scheme == "https" else None,
                                        insecure, mirror=True))
            domain = HUB_REGISTRY
        insecure = self.is_insecure(domain)
        out.append(Endpoint("https", domain, self._tls(domain, insecure), insecure))
        return out

    def is_insecure(self, host: str) -> bool:
        """Docker's isSecureIndex, negated: loopback and the configured entries."""
        name = _hostname(host)
        if name == "localhost":
            return True
        for entry in self.insecure:
            entry = entry.split("://", 1)[-1].rstrip("/")
            if entry in (host, name):
                return True
            try:
                network = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                continue
            if any(address in network for address in _addresses(name)):
                return True
        return any(address.is_loopback for address in _addresses(name))

    def tls_context(self, host: str) -> ssl.SSLContext:
        return self._tls(host, self.is_insecure(host))

    def _tls(self, host: str, insecure: bool) -> ssl.SSLContext:
        # Keyed by what certs.d holds now: Docker reads it per connection, so a CA added
        # or replaced while the daemon runs takes effect without a restart.
        key = (host, insecure, self._files_signature(host))
        with self._lock:
            context = self._contexts.get(key)
            if context is None:
                context = self._contexts[key] = self._make_context(host, insecure)
            return context

    def _files_signature(self, host: str) -> str:
        parts = []
        for base in self.certs_dirs:
            directory = Path(base) / host.replace("[", "").replace("]", "")
            try:
                entries = sorted(os.scandir(directory), key=lambda e: e.name)
            except OSError:
                continue
            for entry in entries:
                try:
                    st = entry.stat()
                except OSError:
                    continue
                parts.append(f"{entry.path}:{st.st_mtime_ns}:{st.st_size}")
        return "|".join(parts)

    def _make_context(self, host: str, insecure: bool) -> ssl.SSLContext:
        context = ssl.create_default_context()
        extra_cas = False
        for base in self.certs_dirs:
            directory = Path(base) / host.replace("[", "").replace("]", "")
            if not directory.is_dir():
                continue
            for entry in sorted(directory.iterdir()):
                if entry.suffix == ".crt":
                    context.load_verify_locations(cafile=str(entry))
                    extra_cas = True
                elif entry.suffix == ".cert":
                    key = entry.with_suffix(".key")
                    if key.exists():
                        context.load_cert_chain(str(entry), str(key))
        if insecure and not extra_cas:
            # Docker skips verification for insecure registries that have no CA of their own.
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


def _hostname(host: str) -> str:
    if host.startswith("["):
        return host[1:host.index("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _addresses(name: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(name)]
    except ValueError:
        pass
    if name in ("", "docker.io", HUB_REGISTRY) or "." not in name and name != "localhost":
        return []
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return []
    out = []
    for info in infos:
        try:
            out.append(ipaddress.ip_address(info[4][0].split("%", 1)[0]))
        except ValueError:
            continue
    return out


def certs_dirs_from_env() -> tuple[str, ...]:
    """The certs.d directories, overridable (colon-separated) by DOCKYARD_CERTS_D."""
    value = os.environ.get("DOCKYARD_CERTS_D")
    return tuple(value.split(":")) if value else DEFAULT_CERTS_DIRS

# SPDX-License-Identifier: Apache-2.0
"""Which daemon to talk to: the `-H` flag, `DOCKYARD_HOST`, `DOCKER_HOST`, or the default socket.

A host is a URL. `unix:///path` names a socket file; `tcp://addr[:port]` (also written
`http://`) a plain TCP listener, port 2375 by default as in Docker. TLS is not spoken yet.
"""

from __future__ import annotations

import os

from dockyard import DEFAULT_SOCKET

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_TCP_PORT = 2375


class Host:
    """A parsed daemon address: `scheme` is "unix" (address is a path) or "tcp"."""

    __slots__ = ("url", "scheme", "path", "hostname", "port")

    def __init__(self, url: str, scheme: str, path: str = "", hostname: str = "", port: int = 0):
        self.url = url
        self.scheme = scheme
        self.path = path
        self.hostname = hostname
        self.port = port

    def __repr__(self) -> str:
        return f"Host({self.url!r})"

    @property
    def is_default(self) -> bool:
        return self.url == DEFAULT_SOCKET


def resolve_host(flag: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The host URL to use: the flag wins, then DOCKYARD_HOST, DOCKER_HOST, the default."""
    env = os.environ if environ is None else environ
    for candidate in (flag, env.get("DOCKYARD_HOST"), env.get("DOCKER_HOST")):
        if candidate:
            return candidate
    return DEFAULT_SOCKET


def parse_host(url: str) -> Host:
    """Parse a host URL; raises ValueError with Docker's wording for ones we cannot use."""
    if url.startswith("unix://"):
        path = url[len("unix://") :]
        if not path:
            raise ValueError(f"invalid bind address ({url}): empty socket path")
        return Host(url=url, scheme="unix", path=path)
    for prefix in ("tcp://", "http://"):
        if url.startswith(prefix):
            return _parse_tcp(url, url[len(prefix) :])
    if url.startswith("https://") or url.startswith("ssh://") or url.startswith("npipe://"):
        raise ValueError(f"unsupported host scheme: {url}")
    if url.startswith("/"):
        # Docker accepts a bare socket path in DOCKER_HOST for backwards compatibility.
        return Host(url="unix://" + url, scheme="unix", path=url)
    raise ValueError(f"invalid bind address format: {url}")


def _parse_tcp(url: str, rest: str) -> Host:
    rest = rest.split("/", 1)[0]
    if rest.startswith("["):
        # IPv6 literal: [::1]:2375
        end = rest.find("]")
        if end < 0:
            raise ValueError(f"invalid bind address format: {url}")
        hostname, tail = rest[1:end], rest[end + 1 :]
        port_text = tail[1:] if tail.startswith(":") else ""
    else:
        hostname, _, port_text = rest.partition(":")
    if not hostname:
        hostname = "127.0.0.1"
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"invalid bind address format: {url}")
        port = int(port_text)
    else:
        port = DEFAULT_TCP_PORT
    return Host(url=url, scheme="tcp", hostname=hostname, port=port)

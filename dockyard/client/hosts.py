# SPDX-License-Identifier: Apache-2.0
"""Which daemon to talk to: the `-H` flag, `DOCKYARD_HOST`, `DOCKER_HOST`, or the default socket.

A host is a URL. `unix:///path` names a socket file; `tcp://addr[:port]` (also written
`http://`) a TCP listener, port 2375 by default as in Docker (2376 with TLS).

TLS on TCP follows the docker CLI: `--tls` (encrypt, do not verify the daemon),
`--tlsverify` or `DOCKER_TLS_VERIFY` (verify the daemon against the CA), with `ca.pem`,
`cert.pem` and `key.pem` from `DOCKER_CERT_PATH` (default `~/.docker`) unless
`--tlscacert`, `--tlscert`, `--tlskey` name other files. `resolve_tls` only collects the
settings; the `ssl` module is imported when a TLS connection is made (`client/tls.py`).
"""

from __future__ import annotations

import os

from dockyard import DEFAULT_SOCKET

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_TCP_PORT = 2375
DEFAULT_TLS_PORT = 2376


class Host:
    """A parsed daemon address: `scheme` is "unix" (address is a path) or "tcp"."""

    __slots__ = ("url", "scheme", "path", "hostname", "port", "port_given", "tls")

    def __init__(self, url: str, scheme: str, path: str = "", hostname: str = "", port: int = 0):
        self.url = url
        self.scheme = scheme
        self.path = path
        self.hostname = hostname
        self.port = port
        self.port_given = True
        # TLS settings for a tcp host (None: plain TCP); unix sockets never use TLS.
        self.tls: TLSOptions | None = None

    def use_tls(self, tls: TLSOptions | None) -> None:
        """Set the TLS settings; an address without a port then means Docker's TLS port."""
        self.tls = tls
        if tls is not None and not self.port_given:
            self.port = DEFAULT_TLS_PORT

    def __repr__(self) -> str:
        return f"Host({self.url!r})"

    @property
    def is_default(self) -> bool:
        return self.url == DEFAULT_SOCKET


class TLSOptions:
    """TLS settings for a TCP daemon: `verify` checks its certificate against `cacert`;
    `cert`/`key` are the client's certificate (None when there is none to present)."""

    __slots__ = ("verify", "cacert", "cert", "key")

    def __init__(self, verify: bool, cacert: str | None, cert: str | None, key: str | None):
        self.verify = verify
        self.cacert = cacert
        self.cert = cert
        self.key = key

    def __repr__(self) -> str:
        return f"TLSOptions(verify={self.verify}, cacert={self.cacert!r}, cert={self.cert!r})"


def resolve_tls(
    tls: bool = False,
    verify: bool | None = None,
    cacert: str | None = None,
    cert: str | None = None,
    key: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> TLSOptions | None:
    """The TLS settings the flags and environment ask for, or None for plain TCP.

    As in the docker CLI, files named by flags must exist (checked on connect), while the
    defaults from `DOCKER_CERT_PATH` are used only when present.
    """
    env = os.environ if environ is None else environ
    if verify is None:
        verify = bool(env.get("DOCKER_TLS_VERIFY"))
    if not (tls or verify):
        return None
    cert_dir = env.get("DOCKER_CERT_PATH") or os.path.join(os.path.expanduser("~"), ".docker")

    def pick(flag: str | None, name: str) -> str | None:
        if flag:
            return flag
        default = os.path.join(cert_dir, name)
        return default if os.path.exists(default) else None

    return TLSOptions(verify, pick(cacert, "ca.pem"), pick(cert, "cert.pem"), pick(key, "key.pem"))


def resolve_host(flag: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The host URL to use: the flag wins, then DOCKYARD_HOST, DOCKER_HOST, the default."""
    env = os.environ if environ is None else environ
    for candidate in (flag, env.get("DOCKYARD_HOST"), env.get("DOCKER_HOST")):
        if candidate:
            return candidate
    return DEFAULT_SOCKET


def context_host(name: str | None = None) -> str | None:
    """The daemon address of a docker CLI context (`--context`, else DOCKER_CONTEXT unless
    DOCKER_HOST/DOCKYARD_HOST is set, as with docker), read from the docker CLI's context
    store; None for the default context (then the usual flag and environment rules
    apply). LookupError with Docker's words when the context does not exist."""
    if name is None:
        if os.environ.get("DOCKYARD_HOST") or os.environ.get("DOCKER_HOST"):
            return None
        name = os.environ.get("DOCKER_CONTEXT")
    if not name or name == "default":
        return None
    import hashlib
    import json

    from dockyard.distribution.credentials import config_dir

    meta = os.path.join(config_dir(), "contexts", "meta", hashlib.sha256(name.encode()).hexdigest(), "meta.json")
    try:
        with open(meta) as f:
            doc = json.load(f)
    except OSError as e:
        raise LookupError(f'unable to resolve docker endpoint: context "{name}": context not found: '
                          f"open {meta}: {(e.strerror or str(e)).lower()}") from None
    except ValueError:
        raise LookupError(f'unable to resolve docker endpoint: context "{name}": invalid context metadata') from None
    host = ((doc.get("Endpoints") or {}).get("docker") or {}).get("Host")
    if not host:
        raise LookupError(f'unable to resolve docker endpoint: context "{name}" has no docker endpoint')
    return str(host)


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
    host = Host(url=url, scheme="tcp", hostname=hostname, port=port)
    host.port_given = bool(port_text)
    return host

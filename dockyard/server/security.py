# SPDX-License-Identifier: Apache-2.0
"""Who may reach the Engine API: the unix socket's owner group and TCP listeners' TLS.

Access to the API is root on the host, so the unix socket is `0660 root:<group>` (group
`dockyard` by default, created if missing, or `--group`, like dockerd's `-G`), and a TCP
listener needs TLS with client certificates checked against `--tlscacert`
(`--tlsverify`). Plain TCP is refused unless TLS is switched off explicitly
(`--tls=false`), as dockerd does since v27, and then only with a warning.

`prepare` checks the flags and loads certificates before the daemon starts, so a bad
setting fails in one line on the terminal instead of half-way through startup.
"""

from __future__ import annotations

import grp
import logging
import os
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ssl

    from dockyard.config import DaemonConfig

log = logging.getLogger("dockyard.server")

DEFAULT_GROUP = "dockyard"


class ListenerError(ValueError):
    """A listener setting the daemon refuses to start with."""


@dataclass
class Listeners:
    """What `serve` needs beyond the host URLs: the socket group and the TLS context."""

    socket_gid: int | None = None
    ssl_context: ssl.SSLContext | None = None
    # Warnings to show on the terminal as well as in the log (plain TCP forced on).
    warnings: list[str] | None = None


def prepare(config: DaemonConfig) -> Listeners:
    """Check the listener flags of `config`, resolve the group and load the TLS material.

    Raises ListenerError with a one-line message for settings the daemon refuses.
    """
    tcp_hosts = [h for h in config.hosts if h.startswith("tcp://")]
    listeners = Listeners(warnings=[])
    if any(h.startswith("unix://") for h in config.hosts):
        listeners.socket_gid = socket_gid(config.socket_group, explicit=config.socket_group_explicit)
    if not tcp_hosts:
        return listeners
    if config.tls_verify:
        listeners.ssl_context = server_context(config.tls_cacert, config.tls_cert, config.tls_key)
        return listeners
    forced_off = config.tls is False or (config.tls_verify is False and not config.tls)
    if forced_off:
        for host in tcp_hosts:
            listeners.warnings.append(
                f"API listening on {host} without TLS: anyone who can reach it has root access "
                "to this host")
        return listeners
    if config.tls:
        raise ListenerError(
            f"refusing to listen on {tcp_hosts[0]} with --tls but without --tlsverify: "
            "clients must present a certificate signed by --tlscacert")
    raise ListenerError(
        f"refusing to listen on {tcp_hosts[0]} without TLS: use --tlsverify with "
        "--tlscacert, --tlscert and --tlskey, or --tls=false to accept the risk")


def server_context(cafile: str, certfile: str, keyfile: str) -> ssl.SSLContext:
    """A TLS server context that requires client certificates signed by `cafile`."""
    import ssl

    for flag, path in (("--tlscacert", cafile), ("--tlscert", certfile), ("--tlskey", keyfile)):
        if not os.path.isfile(path):
            raise ListenerError(f"could not read {flag} {path}: no such file")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(certfile, keyfile)
        context.load_verify_locations(cafile=cafile)
    except (ssl.SSLError, OSError) as e:
        raise ListenerError(f"could not load the TLS certificates: {e}") from None
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def socket_gid(name: str, *, explicit: bool) -> int | None:
    """The group id to give the API socket; None leaves it root's.

    The default group is created (`groupadd --system`) when missing; a group named on the
    command line must exist. A number is taken as a group id.
    """
    if not name:
        return None
    if name.isdigit():
        return int(name)
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        pass
    if explicit:
        raise ListenerError(f"group {name} for the API socket not found")
    created = _run(["groupadd", "--system", name])
    if created is not None and created.returncode == 0:
        log.info("created group %s for the API socket", name)
        try:
            return grp.getgrnam(name).gr_gid
        except KeyError:
            pass
    log.warning("could not create group %s: the API socket is root's only", name)
    return None


def secure_socket(path: str, gid: int | None) -> None:
    """Give a freshly bound unix socket mode 0660 and group `gid`."""
    os.chmod(path, 0o660)
    if gid is not None:
        os.chown(path, -1, gid)


def _run(argv: list[str]) -> Any:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        log.warning("%s: %s", argv[0], e)
        return None

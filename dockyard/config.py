# SPDX-License-Identifier: Apache-2.0
"""Daemon settings and the on-disk layout derived from them.

Persistent state lives under `data_root`; volatile state (bundles, rootfs mounts, conmon
sockets, exit files, runc's state) under `exec_root`, which is a tmpfs on a real host.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dockyard import DEFAULT_SOCKET
from dockyard.idmap import IDENTITY, IDMap

# Shared by every daemon on the machine (test daemons too): see baseimages/cache.py.
DEFAULT_BASE_IMAGE_CACHE = Path("/var/cache/dockyard/base-images")


@dataclass
class DaemonConfig:
    data_root: Path = Path("/var/lib/dockyard")
    exec_root: Path = Path("/run/dockyard")
    hosts: list[str] = field(default_factory=lambda: [DEFAULT_SOCKET])
    runc: str = "runc"
    conmon: str = "conmon"
    log_file: str | None = None
    debug: bool = False
    # Networking: the default bridge's device ("none": no default bridge), its address
    # (--bip), the pools of user networks' subnets, the MTU of new bridges (default: the
    # uplink's when below 1500), the nftables table holding dockyard's rules, and
    # whether to add accept rules to Docker's DOCKER-USER chain (see network/dockercompat).
    # Unset ones take what the data root remembers (network/service.py Settings).
    bridge: str | None = None
    bip: str | None = None
    default_address_pools: list[str] = field(default_factory=list)
    mtu: int | None = None
    nft_table: str | None = None
    docker_compat: bool = True
    # Registries (see distribution/hosts.py): plain-HTTP allowed hosts or CIDRs, Docker
    # Hub mirrors, and the directories holding per-registry CAs (`<dir>/<host:port>/`).
    insecure_registries: list[str] = field(default_factory=list)
    registry_mirrors: list[str] = field(default_factory=list)
    certs_dirs: list[str] = field(default_factory=lambda: ["/etc/docker/certs.d", "/etc/dockyard/certs.d"])
    # Offline base images (see baseimages/bootstrap.py): build the slow ones when a pull
    # finds no registry, and the machine-wide cache every daemon loads them from.
    bootstrap: bool = False
    base_image_cache: str = ""
    # API access (see server/security.py): the unix socket's group (`--group`; `explicit`
    # when named on the command line, so a missing one is an error rather than created),
    # and TLS for TCP listeners. `tls`/`tls_verify` are None when not given, False when
    # switched off explicitly (`--tls=false`), which is what allows plain TCP.
    socket_group: str = "dockyard"
    socket_group_explicit: bool = False
    tls: bool | None = None
    tls_verify: bool | None = None
    tls_cacert: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    # User namespaces (`--userns-remap`, see daemon/userns.py): the resolved `user:group`
    # ("" when off) and the container → host ID mapping (IDENTITY when off). With it on,
    # data_root is already the `<uid>.<gid>` directory under the one given.
    userns_remap: str = ""
    id_map: IDMap = IDENTITY

    @property
    def db_path(self) -> Path:
        return self.data_root / "dockyard.db"

    @property
    def blobs_dir(self) -> Path:
        return self.data_root / "blobs"

    @property
    def layers_dir(self) -> Path:
        return self.data_root / "layers"

    @property
    def containers_dir(self) -> Path:
        return self.data_root / "containers"

    @property
    def volumes_dir(self) -> Path:
        """Local volumes: `<name>/_data` each (see dockyard.volumes.store)."""
        return self.data_root / "volumes"

    @property
    def tmp_dir(self) -> Path:
        """Scratch space on the same filesystem as the store, so renames are atomic."""
        return self.data_root / "tmp"

    @property
    def runc_root(self) -> Path:
        return self.exec_root / "runc"

    @property
    def bundles_dir(self) -> Path:
        return self.exec_root / "containers"

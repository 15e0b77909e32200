# SPDX-License-Identifier: Apache-2.0
"""The daemon: wires the stores, the runtime and the services together, restores state on
boot, and answers the system-wide questions (`/info`, `/version`)."""

from __future__ import annotations

import asyncio
import collections
import functools
import os
import platform
import socket
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard import API_VERSION, MIN_API_VERSION, __version__
from dockyard.baseimages.bootstrap import Bootstrapper
from dockyard.baseimages.cache import MachineCache
from dockyard.builder import BuildService
from dockyard.config import DaemonConfig
from dockyard.daemon import pulling
from dockyard.daemon.containers import ContainerService
from dockyard.daemon.events import Events
from dockyard.daemon.execs import ExecService
from dockyard.daemon.health import HealthMonitor
from dockyard.daemon.logrotate import LogRotator
from dockyard.images import ImageService
from dockyard.metadata.db import MetadataDB
from dockyard.network import NetworkService
from dockyard.runtime import Runtime
from dockyard.volumes import VolumeService

if TYPE_CHECKING:
    from dockyard.distribution.hosts import RegistryHosts

# What Docker calls experimental and dockyard implements (`build --squash`): the docker
# CLI offers such flags only to a daemon that says it is experimental.
EXPERIMENTAL = True

GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}


class Daemon:
    def __init__(self, config: DaemonConfig):
        self.config = config
        for directory in (config.data_root, config.containers_dir, config.tmp_dir,
                          config.exec_root, config.bundles_dir, config.runc_root):
            directory.mkdir(parents=True, exist_ok=True)
        os.chmod(config.data_root, 0o710)
        if not config.id_map.empty:
            # The remapped root mounts the root filesystems under here (runc, inside the
            # user namespace), so it must be let through whatever the daemon's umask.
            rootfs_dir = config.exec_root / "rootfs"
            rootfs_dir.mkdir(exist_ok=True)
            os.chmod(rootfs_dir, 0o711)
        self.db = MetadataDB(config.db_path)
        self.images = ImageService(config, self.db)
        self.runtime = Runtime(runc=config.runc, conmon=config.conmon,
                               runc_root=config.runc_root, bundles_dir=config.bundles_dir)
        self.events = Events()
        self.containers = ContainerService(config, self.db, self.images, self.runtime, self.events)
        self.volumes = VolumeService(config, self.db, self.images, self.containers, self.events)
        self.containers.hooks.register(self.volumes)
        self.networks = NetworkService(config, self.db, self.containers, self.events)
        self.containers.hooks.register(self.networks)
        self.execs = ExecService(self.containers, self.runtime, self.events)
        self.containers.hooks.register(self.execs)
        self.containers.hooks.register(HealthMonitor(self.containers, self.runtime, self.events))
        self.builder = BuildService(config, self.db, self.images, self.containers, self.events)
        self.containers.hooks.register(LogRotator())
        self.bootstrapper = Bootstrapper(self.images, self.builder, MachineCache(config.base_image_cache),
                                         auto=config.bootstrap)
        self.builder.pull = functools.partial(pulling.pull, self)
        self.id = self._daemon_id()

    @functools.cached_property
    def registry_hosts(self) -> RegistryHosts:
        """The registry settings (one object, so TLS contexts are built once)."""
        from dockyard.distribution.hosts import RegistryHosts

        config = self.config
        return RegistryHosts(list(config.insecure_registries), list(config.registry_mirrors),
                             tuple(config.certs_dirs))

    async def start(self) -> None:
        self.bootstrapper.loop = asyncio.get_running_loop()
        # Half-made layers and temp files of a daemon that died mid-write go first.
        await asyncio.to_thread(self.images.reconcile)
        await self.containers.restore()
        await self.containers.start_by_policy()
        # The first exec (or health check) should not wait for the helper to start.
        await self.runtime.start_exec_helper()

    async def shutdown(self) -> None:
        await self.containers.shutdown()
        await self.networks.shutdown()
        await self.runtime.close()

    def version(self) -> dict[str, Any]:
        uname = os.uname()
        arch = GO_ARCH.get(uname.machine, uname.machine)
        return {
            "Platform": {"Name": "dockyard"},
            "Components": [{"Name": "Engine", "Version": __version__,
                            "Details": {"ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
                                        "Os": "linux", "Arch": arch, "KernelVersion": uname.release,
                                        "Experimental": str(EXPERIMENTAL).lower()}}],
            "Version": __version__,
            "ApiVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION,
            "GitCommit": "",
            "GoVersion": "python" + platform.python_version(),
            "Os": "linux",
            "Arch": arch,
            "KernelVersion": uname.release,
            "BuildTime": "",
            "Experimental": EXPERIMENTAL,
        }

    async def info(self) -> dict[str, Any]:
        records = self.containers.list(all=True)
        running = sum(1 for r in records if r["State"] == "running")
        paused = sum(1 for r in records if r["State"] == "paused")
        images = await asyncio.to_thread(self.images.list, True)
        uname = os.uname()
        return {
            "ID": self.id,
            "Containers": len(records),
            "ContainersRunning": running,
            "ContainersPaused": paused,
            "ContainersStopped": len(records) - running - paused,
            "Images": len(images),
            "Driver": "overlay2",
            "DriverStatus": [["Backing Filesystem", _fs_type(self.config.data_root)]],
            "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "null"],
                        "Authorization": None, "Log": ["json-file", "k8s-file", "local"]},
            "MemoryLimit": True,
            "SwapLimit": Path("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists(),
            "CpuCfsPeriod": True,
            "CpuCfsQuota": True,
            "CPUShares": True,
            "CPUSet": True,
            "PidsLimit": True,
            "OomKillDisable": True,
            "IPv4Forwarding": _read("/proc/sys/net/ipv4/ip_forward") == "1",
            "Debug": self.config.debug,
            "NFd": len(os.listdir("/proc/self/fd")),
            "NGoroutines": len(asyncio.all_tasks()),
            "SystemTime": _now(),
            "LoggingDriver": "json-file",
            "CgroupDriver": "cgroupfs",
            "CgroupVersion": "2" if Path("/sys/fs/cgroup/cgroup.controllers").exists() else "1",
            "NEventsListener": 0,
            "KernelVersion": uname.release,
            "OperatingSystem": _os_name(),
            "OSVersion": _os_release().get("VERSION_ID", ""),
            "OSType": "linux",
            "Architecture": uname.machine,
            "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": self._registry_config(),
            "NCPU": os.cpu_count() or 1,
            "MemTotal": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
            "DockerRootDir": str(self.config.data_root),
            "HttpProxy": os.environ.get("HTTP_PROXY", os.environ.get("http_proxy", "")),
            "HttpsProxy": os.environ.get("HTTPS_PROXY", os.environ.get("https_proxy", "")),
            "NoProxy": os.environ.get("NO_PROXY", os.environ.get("no_proxy", "")),
            "Name": socket.gethostname(),
            "Labels": [],
            "ExperimentalBuild": EXPERIMENTAL,
            "ServerVersion": __version__,
            "Runtimes": {"runc": {"path": self.config.runc}},
            "DefaultRuntime": "runc",
            "LiveRestoreEnabled": True,
            "Isolation": "",
            "InitBinary": "tini",
            "SecurityOptions": ["name=seccomp,profile=builtin"] + (["name=userns"] if self.config.userns_remap else []),
            "Warnings": [],
            # No swarm mode here; scripts test LocalNodeState for "active".
            "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": False,
                      "Error": "", "RemoteManagers": None},
        }

    def _registry_config(self) -> dict[str, Any]:
        """Docker's RegistryConfig: mirrors (with the trailing slash dockerd adds), the
        insecure CIDRs (loopback always) and one IndexConfig per named registry."""
        import ipaddress

        mirrors = [m.rstrip("/") + "/" for m in self.config.registry_mirrors]
        cidrs, hosts = ["127.0.0.0/8"], []
        for entry in self.config.insecure_registries:
            try:
                cidrs.append(str(ipaddress.ip_network(entry, strict=False)))
            except ValueError:
                hosts.append(entry)
        indexes = {"docker.io": {"Name": "docker.io", "Mirrors": mirrors, "Secure": True, "Official": True}}
        for host in hosts:
            indexes[host] = {"Name": host, "Mirrors": [], "Secure": False, "Official": False}
        return {"AllowNondistributableArtifactsCIDRs": None, "AllowNondistributableArtifactsHostnames": None,
                "IndexConfigs": indexes, "InsecureRegistryCIDRs": list(dict.fromkeys(cidrs)), "Mirrors": mirrors}

    async def disk_usage(self) -> dict[str, Any]:
        """`GET /system/df`: images, containers and volumes with their sizes. Images as
        dockerd lists them there: the top-level ones, each with SharedSize (the bytes of
        its layers another image also uses)."""
        images = await asyncio.to_thread(self.images.list, False)
        layer_sizes, shared = await asyncio.to_thread(self._layer_sizes)
        containers = await asyncio.to_thread(self.containers.add_sizes, self.containers.list(all=True))
        users = collections.Counter(container["ImageID"] for container in containers)
        for image in images:
            image["SharedSize"] = shared.get(image["Id"], 0)
            image["Containers"] = users[image["Id"]]
        return {
            "LayersSize": sum(layer_sizes.values()),
            "Images": images,
            "Containers": containers,
            "Volumes": await self.volumes.usage(),
            "BuildCache": [],
        }

    def _layer_sizes(self) -> tuple[dict[str, int], dict[str, int]]:
        """(chain ID → size of every stored layer, image ID → size of its layers some
        other image also has); each layer record read once."""
        sizes: dict[str, int] = {}
        for chain_id in self.images.layers.list():
            try:
                sizes[chain_id] = self.images.layer_record(chain_id).size
            except Exception:  # noqa: BLE001 - a layer being removed right now
                continue
        records = self.images.db.list_images()
        users = collections.Counter(chain for record in records for chain in set(record.chain_ids))
        shared = {record.id: sum(sizes.get(chain, 0) for chain in set(record.chain_ids) if users[chain] > 1)
                  for record in records}
        return sizes, shared

    def _daemon_id(self) -> str:
        path = self.config.data_root / "engine-id"
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            engine_id = str(uuid.uuid4())
            tmp = path.with_suffix(".tmp")
            tmp.write_text(engine_id)
            os.replace(tmp, path)
            return engine_id


def _now() -> str:
    from dockyard.units import rfc3339

    return rfc3339()


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def _os_release() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in _read("/etc/os-release").splitlines():
        key, _, value = line.partition("=")
        values[key] = value.strip('"')
    return values


def _os_name() -> str:
    return _os_release().get("PRETTY_NAME", "Linux")


def _fs_type(path: Path) -> str:
    best, fs = "", "unknown"
    for line in _read("/proc/mounts").splitlines():
        parts = line.split()
        if len(parts) > 2 and str(path).startswith(parts[1]) and len(parts[1]) > len(best):
            best, fs = parts[1], parts[2]
    return fs

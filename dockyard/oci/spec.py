# SPDX-License-Identifier: Apache-2.0
"""The OCI runtime spec (config.json) for a container record, with Docker's defaults.

`build_spec` starts from `default_spec()` and applies small steps, each a `with_*(...)`
factory returning a `SpecOpt` that edits the spec in place (containerd's `oci.WithX`
style), so a caller can add or replace a step:

    spec = build_spec(record, rootfs=..., hosts_path=..., netns_path="/run/netns/x")
    apply(spec, with_network_namespace("/run/netns/y"))

Order matters in two places: capabilities are settled before seccomp (the profile is
evaluated against them), and mounts after namespaces (IPC mode decides /dev/shm).
"""

from __future__ import annotations

import copy
import os
import posixpath
import re
import shutil
import stat
from collections.abc import Callable, Iterable
from typing import Any

from dockyard.errors import DockyardError, InvalidParameter
from dockyard.idmap import IDENTITY, IDMap
from dockyard.oci import caps as capabilities
from dockyard.oci.host import HostInfo
from dockyard.oci.seccomp import convert_profile, default_seccomp, parse_profile
from dockyard.oci.user import resolve_user

SpecOpt = Callable[[dict[str, Any]], None]

OCI_VERSION = "1.0.2-dev"  # what runc 1.1 implements
DEFAULT_PATH_ENV = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHM_SIZE = 64 * 1024 * 1024
DEFAULT_NOFILE = 1048576
DEFAULT_CGROUP_PARENT = "/dockyard"
INIT_PATH = "/sbin/docker-init"
RLIM_INFINITY = 2**64 - 1

MASKED_PATHS = (
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

# (path, major, minor): the nodes every container gets.
DEFAULT_DEVICES = (
    ("/dev/null", 1, 3), ("/dev/zero", 1, 5), ("/dev/full", 1, 7),
    ("/dev/random", 1, 8), ("/dev/urandom", 1, 9), ("/dev/tty", 5, 0),
)

ULIMIT_NAMES = ("as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
                "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack")


def build_spec(ctr: dict[str, Any], *, rootfs: str, hostname_path: str | None = None,
               hosts_path: str | None = None, resolv_path: str | None = None,
               netns_path: str | None = None, namespace_paths: dict[str, str] | None = None,
               mounts: Iterable[dict[str, Any]] = (), host: HostInfo | None = None,
               idmap: IDMap = IDENTITY) -> dict[str, Any]:
    """The runtime spec for `ctr`, a container record in the ContainerInspect shape
    (`Id`, `Path`, `Args`, `Config`, `HostConfig`; Config.Env already merged with the
    image's).

    `rootfs` is the prepared root filesystem; `hostname_path`, `hosts_path` and
    `resolv_path`, when given, are bind-mounted over /etc/hostname, /etc/hosts and
    /etc/resolv.conf. `netns_path` joins a network namespace prepared by the network
    layer instead of creating an empty one; `namespace_paths` ({"ipc": path, …}) joins
    others (the `container:<id>` modes). `mounts` are extra OCI mounts (volumes, binds).
    `idmap` (--userns-remap) puts the container in a user namespace (see
    `with_user_namespace`).
    Raises InvalidParameter for what the user got wrong (unknown user, capability, …)."""
    host = host or HostInfo.probe()
    spec = default_spec()
    steps: list[SpecOpt] = [
        with_root(rootfs, readonly=bool(_hc(ctr).get("ReadonlyRootfs"))),
        with_process(ctr),
        with_user(ctr, rootfs),
        with_hostname(ctr),
        with_namespaces(ctr, host),
    ]
    if netns_path:
        steps.append(with_network_namespace(netns_path))
    for ns_type, path in (namespace_paths or {}).items():
        steps.append(with_namespace_path(ns_type, path))
    steps += [
        with_mounts(ctr, hostname_path=hostname_path, hosts_path=hosts_path,
                    resolv_path=resolv_path, extra=mounts),
        with_init(ctr),
    ]
    if not idmap.empty:
        steps.append(with_user_namespace(ctr, idmap))
    steps += [
        with_capabilities(ctr, host),
        with_no_new_privileges(ctr),
        with_seccomp(ctr, host),
        with_masked_paths(ctr),
        with_devices(ctr),
        with_resources(ctr, host),
        with_cgroups_path(ctr),
        with_rlimits(ctr, host),
        with_sysctls(ctr),
    ]
    apply(spec, *steps)
    return spec


def build_exec_process(base: dict[str, Any], ctr: dict[str, Any], exec_config: dict[str, Any], *,
                       rootfs: str, host: HostInfo | None = None) -> dict[str, Any]:
    """The OCI process for `docker exec`: the container's own process (`base`, from its
    config.json) with the ExecConfig's command, TTY, environment (Docker's daemon
    variables and Config.Env, then the exec's Env), working directory and user (resolved
    in `rootfs`) — and every capability the daemon holds when Privileged."""
    host = host or HostInfo.probe()
    config = _config(ctr)
    process = copy.deepcopy(base)
    command = list(exec_config.get("Cmd") or [])
    if not command:
        raise InvalidParameter("No exec command specified")
    tty = bool(exec_config.get("Tty"))
    process["args"] = command
    process["terminal"] = tty
    process["env"] = merge_env(_daemon_env(config, tty), list(config.get("Env") or []) +
                               list(exec_config.get("Env") or []))
    process.pop("consoleSize", None)
    size = exec_config.get("ConsoleSize") or [0, 0]
    if tty and len(size) == 2 and size[0] and size[1]:
        process["consoleSize"] = {"height": int(size[0]), "width": int(size[1])}
    if exec_config.get("WorkingDir"):
        process["cwd"] = posixpath.normpath(posixpath.join("/", exec_config["WorkingDir"]))
    if exec_config.get("User"):
        user = resolve_user(rootfs, exec_config["User"], _hc(ctr).get("GroupAdd"))
        process["user"] = {"uid": user.uid, "gid": user.gid}
        if user.additional_gids:
            process["user"]["additionalGids"] = user.additional_gids
    if exec_config.get("Privileged"):
        caps = capabilities.all_capabilities(host.cap_last, host.cap_bounding)
        process["capabilities"] = {"bounding": caps, "effective": list(caps), "permitted": list(caps)}
    return process


def apply(spec: dict[str, Any], *opts: SpecOpt) -> dict[str, Any]:
    for opt in opts:
        opt(spec)
    return spec


def default_spec() -> dict[str, Any]:
    """A fresh skeleton: a root process, Docker's namespaces, deny-all devices."""
    return {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": [],
            "env": [],
            "cwd": "/",
            "capabilities": {},
        },
        "root": {"path": "rootfs", "readonly": False},
        "hostname": "",
        "mounts": [],
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount", "network")],
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "maskedPaths": [],
            "readonlyPaths": [],
        },
    }


# ── steps ─────────────────────────────────────────────────────────────────────────────

def with_root(rootfs: str, *, readonly: bool = False) -> SpecOpt:
    def opt(spec: dict[str, Any]) -> None:
        spec["root"] = {"path": rootfs, "readonly": readonly}
    return opt


def with_process(ctr: dict[str, Any]) -> SpecOpt:
    """args = [Path] + Args; Docker's daemon environment (PATH, HOSTNAME, TERM with a
    TTY) overridden by Config.Env; cwd; terminal and its initial size."""
    def opt(spec: dict[str, Any]) -> None:
        config, hc = _config(ctr), _hc(ctr)
        path = ctr.get("Path") or ""
        if not path:
            raise InvalidParameter("No command specified")
        process = spec["process"]
        process["args"] = [path, *(ctr.get("Args") or [])]
        tty = bool(config.get("Tty"))
        process["env"] = merge_env(_daemon_env(config, tty), config.get("Env") or [])
        workdir = config.get("WorkingDir") or "/"
        process["cwd"] = posixpath.normpath(posixpath.join("/", workdir))
        process["terminal"] = tty
        size = hc.get("ConsoleSize") or [0, 0]
        if tty and len(size) == 2 and size[0] and size[1]:
            process["consoleSize"] = {"height": int(size[0]), "width": int(size[1])}
        if hc.get("OomScoreAdj"):
            process["oomScoreAdj"] = int(hc["OomScoreAdj"])
    return opt


def with_user(ctr: dict[str, Any], rootfs: str) -> SpecOpt:
    """Config.User and HostConfig.GroupAdd resolved in the container's /etc files."""
    def opt(spec: dict[str, Any]) -> None:
        user = resolve_user(rootfs, _config(ctr).get("User"), _hc(ctr).get("GroupAdd"))
        entry: dict[str, Any] = {"uid": user.uid, "gid": user.gid}
        if user.additional_gids:
            entry["additionalGids"] = user.additional_gids
        spec["process"]["user"] = entry
    return opt


def with_hostname(ctr: dict[str, Any]) -> SpecOpt:
    def opt(spec: dict[str, Any]) -> None:
        config = _config(ctr)
        spec["hostname"] = config.get("Hostname") or ""
        if config.get("Domainname"):
            spec["domainname"] = config["Domainname"]
    return opt


def with_namespaces(ctr: dict[str, Any], host: HostInfo) -> SpecOpt:
    """pid, ipc, uts, mount and network namespaces unless HostConfig shares the host's;
    a cgroup namespace only on cgroup v2 (Docker's default there), never on v1."""
    def opt(spec: dict[str, Any]) -> None:
        hc = _hc(ctr)
        wanted = ["mount"]
        if hc.get("PidMode") != "host":
            wanted.append("pid")
        if hc.get("IpcMode") != "host":
            wanted.append("ipc")
        if hc.get("UTSMode") != "host" and hc.get("NetworkMode") != "host":
            wanted.append("uts")
        if hc.get("NetworkMode") != "host":
            wanted.append("network")
        cgroupns = hc.get("CgroupnsMode") or ("private" if host.cgroup2 else "host")
        if cgroupns == "private" and host.cgroup2:
            wanted.append("cgroup")
        order = ("pid", "ipc", "uts", "mount", "network", "cgroup")
        spec["linux"]["namespaces"] = [{"type": t} for t in order if t in wanted]
        if "uts" not in wanted:
            # runc refuses a hostname without a UTS namespace of its own.
            spec["hostname"] = ""
            spec.pop("domainname", None)
    return opt


def with_network_namespace(path: str | None) -> SpecOpt:
    """The hook for the network layer: join the namespace at `path` (e.g.
    /run/dockyard/netns/<id>) instead of starting with an empty one; None keeps a fresh
    namespace."""
    return with_namespace_path("network", path)


def with_namespace_path(ns_type: str, path: str | None) -> SpecOpt:
    def opt(spec: dict[str, Any]) -> None:
        namespaces = [ns for ns in spec["linux"]["namespaces"] if ns["type"] != ns_type]
        entry: dict[str, Any] = {"type": ns_type}
        if path:
            entry["path"] = path
        namespaces.append(entry)
        spec["linux"]["namespaces"] = namespaces
    return opt


def with_mounts(ctr: dict[str, Any], *, hostname_path: str | None = None,
                hosts_path: str | None = None, resolv_path: str | None = None,
                extra: Iterable[dict[str, Any]] = ()) -> SpecOpt:
    """Docker's filesystem mounts (/proc, /dev, /dev/pts, /sys, /sys/fs/cgroup,
    /dev/mqueue, /dev/shm), replaced by any user mount at the same destination; then the
    user's mounts (HostConfig.Tmpfs, the /etc network files, `extra`), parents first."""
    def opt(spec: dict[str, Any]) -> None:
        hc = _hc(ctr)
        readonly = bool(hc.get("ReadonlyRootfs"))
        user: list[dict[str, Any]] = []
        for dest, data in (hc.get("Tmpfs") or {}).items():
            options = ["noexec", "nosuid", "nodev", "rprivate"]
            if data:
                options += [o for o in data.split(",") if o]
            user.append({"destination": _clean_dest(dest), "type": "tmpfs", "source": "tmpfs",
                         "options": merge_tmpfs_options(options)})
        for source, dest in ((hostname_path, "/etc/hostname"), (hosts_path, "/etc/hosts"),
                             (resolv_path, "/etc/resolv.conf")):
            if source:
                user.append(bind_mount(source, dest, readonly=readonly))
        user.extend(dict(m) for m in extra)
        taken = {m["destination"] for m in user}
        defaults = [m for m in _default_mounts(hc) if m["destination"] not in taken]
        if hc.get("Privileged") and not readonly:
            for m in defaults:
                if m["destination"] in ("/sys", "/sys/fs/cgroup"):
                    m["options"] = [o for o in m["options"] if o != "ro"]
        # Parents before children, so a mount under another one is not hidden by it.
        user.sort(key=lambda m: m["destination"].rstrip("/").count("/"))
        spec["mounts"] = defaults + user
    return opt


def with_user_namespace(ctr: dict[str, Any], idmap: IDMap) -> SpecOpt:
    """--userns-remap, as dockerd does it, unless HostConfig.UsernsMode is `host`: a user
    namespace with `idmap`'s mappings (joined by path when one is already in the spec: the
    one owning the network namespace it joins, which sysfs needs); the cgroup mount left
    writable (a read-only remount of it fails in a user namespace); and each bind mount
    given the flags its source mount has locked, which runc could not drop when it
    remounts inside the namespace."""
    def opt(spec: dict[str, Any]) -> None:
        if _hc(ctr).get("UsernsMode") == "host":
            return
        linux = spec["linux"]
        if not any(ns["type"] == "user" for ns in linux["namespaces"]):
            linux["namespaces"].append({"type": "user"})
        linux.update(idmap.spec())
        for m in spec["mounts"]:
            if m["type"] == "cgroup":
                m["options"] = [o for o in m["options"] if o != "ro"]
            elif m["type"] == "bind":
                locked = [o for o in locked_mount_flags(m["source"]) if o not in m["options"]]
                m["options"] = [*m["options"], *locked]
    return opt


def with_init(ctr: dict[str, Any]) -> SpecOpt:
    """HostConfig.Init: a tiny init (docker-init / tini) as pid 1 that reaps zombies and
    forwards signals, bind-mounted at /sbin/docker-init."""
    def opt(spec: dict[str, Any]) -> None:
        if not _hc(ctr).get("Init"):
            return
        binary = find_init_binary()
        if binary is None:
            raise DockyardError("no init binary (docker-init or tini-static) found on this host")
        spec["process"]["args"] = [INIT_PATH, "--", *spec["process"]["args"]]
        spec["mounts"].append(bind_mount(binary, INIT_PATH, readonly=True))
    return opt


def with_capabilities(ctr: dict[str, Any], host: HostInfo) -> SpecOpt:
    def opt(spec: dict[str, Any]) -> None:
        hc = _hc(ctr)
        caps = capabilities.effective_capabilities(
            cap_add=hc.get("CapAdd"), cap_drop=hc.get("CapDrop"),
            privileged=bool(hc.get("Privileged")), cap_last=host.cap_last,
            bounding=host.cap_bounding)
        # No inheritable set: giving one lets execve'd binaries with file caps keep them
        # (CVE-2022-24769), which Docker stopped doing.
        spec["process"]["capabilities"] = {
            "bounding": list(caps), "effective": list(caps), "permitted": list(caps),
        }
    return opt


def with_no_new_privileges(ctr: dict[str, Any]) -> SpecOpt:
    def opt(spec: dict[str, Any]) -> None:
        value = security_options(ctr).get("no-new-privileges")
        if value is not None and value.lower() in ("", "true", "1"):
            spec["process"]["noNewPrivileges"] = True
        else:
            spec["process"].pop("noNewPrivileges", None)
    return opt


def with_seccomp(ctr: dict[str, Any], host: HostInfo) -> SpecOpt:
    """Docker's default profile evaluated against the capabilities already in the spec;
    `seccomp=unconfined` or privileged (without an explicit profile) turns it off, and
    `seccomp=<profile JSON>` replaces it."""
    def opt(spec: dict[str, Any]) -> None:
        profile = security_options(ctr).get("seccomp", "")
        spec["linux"].pop("seccomp", None)
        if profile == "unconfined" or (_hc(ctr).get("Privileged") and profile in ("", "builtin")):
            return
        if not host.seccomp_arch:
            return  # an architecture libseccomp names differently: nothing safe to load
        caps = spec["process"].get("capabilities", {}).get("bounding", [])
        if profile in ("", "builtin"):
            spec["linux"]["seccomp"] = default_seccomp(caps, host)
        else:
            spec["linux"]["seccomp"] = convert_profile(parse_profile(profile), caps, host)
    return opt


def with_masked_paths(ctr: dict[str, Any]) -> SpecOpt:
    """Hide kernel interfaces a container should not see; none when privileged or with
    `systempaths=unconfined`."""
    def opt(spec: dict[str, Any]) -> None:
        if _hc(ctr).get("Privileged") or security_options(ctr).get("systempaths") == "unconfined":
            spec["linux"]["maskedPaths"] = []
            spec["linux"]["readonlyPaths"] = []
        else:
            spec["linux"]["maskedPaths"] = list(MASKED_PATHS)
            spec["linux"]["readonlyPaths"] = list(READONLY_PATHS)
    return opt


def with_devices(ctr: dict[str, Any]) -> SpecOpt:
    """The default device nodes and a device cgroup that denies everything else; every
    host device when privileged; HostConfig.Devices and DeviceCgroupRules on top."""
    def opt(spec: dict[str, Any]) -> None:
        hc = _hc(ctr)
        linux = spec["linux"]
        resources = linux.setdefault("resources", {})
        if hc.get("Privileged"):
            linux["devices"] = host_devices()
            resources["devices"] = [{"allow": True, "access": "rwm"}]
            return
        devices = [{"path": p, "type": "c", "major": ma, "minor": mi, "fileMode": 0o666,
                    "uid": 0, "gid": 0} for p, ma, mi in DEFAULT_DEVICES]
        rules: list[dict[str, Any]] = [
            {"allow": False, "access": "rwm"},
            # mknod of any node is allowed; using it is what the rules below control.
            {"allow": True, "type": "c", "access": "m"},
            {"allow": True, "type": "b", "access": "m"},
        ]
        rules += [_rule("c", ma, mi, "rwm") for _, ma, mi in DEFAULT_DEVICES]
        rules += [
            _rule("c", 5, 1, "rwm"),  # /dev/console
            _rule("c", 5, 2, "rwm"),  # /dev/ptmx
            _rule("c", 136, None, "rwm"),  # /dev/pts/*
        ]
        for mapping in hc.get("Devices") or []:
            for device in _mapped_devices(mapping):
                devices = [d for d in devices if d["path"] != device["path"]]
                devices.append(device)
                rules.append(_rule(device["type"], device["major"], device["minor"],
                                   mapping.get("CgroupPermissions") or "rwm"))
        for text in hc.get("DeviceCgroupRules") or []:
            rules.append(parse_device_cgroup_rule(text))
        linux["devices"] = devices
        resources["devices"] = rules
    return opt


def resources_of(ctr: dict[str, Any], host: HostInfo | None = None) -> dict[str, Any]:
    """The OCI `linux.resources` for the container's HostConfig (for `docker update`)."""
    spec: dict[str, Any] = {"linux": {}}
    with_resources(ctr, host or HostInfo.probe())(spec)
    return spec["linux"].get("resources", {})


def with_resources(ctr: dict[str, Any], host: HostInfo) -> SpecOpt:
    """Memory, CPU, pids and block I/O limits from HostConfig (only what is set)."""
    def opt(spec: dict[str, Any]) -> None:
        hc = _hc(ctr)
        resources = spec["linux"].setdefault("resources", {})
        memory: dict[str, Any] = {}
        limit = int(hc.get("Memory") or 0)
        if limit > 0:
            memory["limit"] = limit
        if int(hc.get("MemoryReservation") or 0) > 0:
            memory["reservation"] = int(hc["MemoryReservation"])
        swap = int(hc.get("MemorySwap") or 0)
        if swap == 0 and limit > 0:
            swap = 2 * limit  # Docker's default: as much swap as memory
        if swap and host.swap_accounting and (limit > 0 or swap == -1):
            memory["swap"] = swap
        swappiness = hc.get("MemorySwappiness")
        if swappiness is not None and int(swappiness) >= 0 and not host.cgroup2:
            memory["swappiness"] = int(swappiness)
        if hc.get("OomKillDisable"):
            memory["disableOOMKiller"] = True
        if memory:
            resources["memory"] = memory

        cpu: dict[str, Any] = {}
        if int(hc.get("CpuShares") or 0) > 0:
            cpu["shares"] = int(hc["CpuShares"])
        nano = int(hc.get("NanoCpus") or 0)
        if nano > 0:
            cpu["period"] = 100000
            cpu["quota"] = nano * 100000 // 10**9
        else:
            if int(hc.get("CpuPeriod") or 0) > 0:
                cpu["period"] = int(hc["CpuPeriod"])
            if int(hc.get("CpuQuota") or 0) != 0:
                cpu["quota"] = int(hc["CpuQuota"])
        if hc.get("CpusetCpus"):
            cpu["cpus"] = hc["CpusetCpus"]
        if hc.get("CpusetMems"):
            cpu["mems"] = hc["CpusetMems"]
        if int(hc.get("CpuRealtimePeriod") or 0) > 0:
            cpu["realtimePeriod"] = int(hc["CpuRealtimePeriod"])
        if int(hc.get("CpuRealtimeRuntime") or 0) > 0:
            cpu["realtimeRuntime"] = int(hc["CpuRealtimeRuntime"])
        if cpu:
            resources["cpu"] = cpu

        pids = hc.get("PidsLimit")
        if pids is not None and int(pids) != 0:
            # Docker reads 0 and negative as "unlimited"; runc spells that -1.
            resources["pids"] = {"limit": int(pids) if int(pids) > 0 else -1}

        block = _block_io(hc)
        if block:
            resources["blockIO"] = block
    return opt


def with_cgroups_path(ctr: dict[str, Any]) -> SpecOpt:
    def opt(spec: dict[str, Any]) -> None:
        parent = _hc(ctr).get("CgroupParent") or DEFAULT_CGROUP_PARENT
        spec["linux"]["cgroupsPath"] = posixpath.join(parent, ctr["Id"])
    return opt


def with_rlimits(ctr: dict[str, Any], host: HostInfo) -> SpecOpt:
    """RLIMIT_NOFILE 1048576 (no higher than the daemon's own hard limit, which runc could
    not exceed), overridden and extended by HostConfig.Ulimits."""
    def opt(spec: dict[str, Any]) -> None:
        nofile = min(DEFAULT_NOFILE, host.nofile_hard)
        limits: dict[str, tuple[int, int]] = {"RLIMIT_NOFILE": (nofile, nofile)}
        for ulimit in _hc(ctr).get("Ulimits") or []:
            name = str(ulimit.get("Name", "")).lower()
            if name not in ULIMIT_NAMES:
                raise InvalidParameter(f"invalid ulimit type: {name}")
            soft, hard = _ulimit_value(ulimit.get("Soft")), _ulimit_value(ulimit.get("Hard"))
            if soft > hard:
                raise InvalidParameter(
                    f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")
            limits["RLIMIT_" + name.upper()] = (soft, hard)
        spec["process"]["rlimits"] = [{"type": t, "soft": s, "hard": h}
                                      for t, (s, h) in limits.items()]
    return opt


def with_sysctls(ctr: dict[str, Any]) -> SpecOpt:
    def opt(spec: dict[str, Any]) -> None:
        sysctls = _hc(ctr).get("Sysctls") or {}
        if sysctls:
            spec["linux"]["sysctl"] = {str(k): str(v) for k, v in sysctls.items()}
    return opt


# ── public helpers ────────────────────────────────────────────────────────────────────

def merge_env(base: list[str], overrides: list[str]) -> list[str]:
    """`base` with each `KEY=value` of `overrides` replacing the same key or appended; a
    bare `KEY` removes it (Docker's ReplaceOrAppendEnvValues semantics)."""
    result = list(base)
    index = {entry.partition("=")[0]: i for i, entry in enumerate(result)}
    removed: set[str] = set()
    for entry in overrides:
        key, eq, _ = entry.partition("=")
        if not eq:
            removed.add(key)
            continue
        removed.discard(key)
        if key in index:
            result[index[key]] = entry
        else:
            index[key] = len(result)
            result.append(entry)
    return [e for e in result if e.partition("=")[0] not in removed]


def security_options(ctr: dict[str, Any]) -> dict[str, str]:
    """HostConfig.SecurityOpt as a dict: `key=value`, the legacy `key:value`, and a bare
    `no-new-privileges`."""
    result: dict[str, str] = {}
    for raw in _hc(ctr).get("SecurityOpt") or []:
        if raw == "no-new-privileges":
            result[raw] = ""
            continue
        key, sep, value = raw.partition("=")
        if not sep:
            key, sep, value = raw.partition(":")
        if not sep:
            raise InvalidParameter(f"invalid --security-opt 1: {raw!r}")
        result[key] = value
    return result


def bind_mount(source: str, destination: str, *, readonly: bool = False) -> dict[str, Any]:
    options = ["rbind", "rprivate"]
    if readonly:
        options.append("ro")
    return {"destination": destination, "type": "bind", "source": source, "options": options}


def locked_mount_flags(path: str) -> list[str]:
    """The flags of the mount holding `path` that a user namespace may not clear (moby's
    UnprivilegedMountFlags); none when it cannot be looked at."""
    try:
        flags = os.statvfs(path).f_flag
    except OSError:
        return []
    return [name for bit, name in _LOCKED_FLAGS if flags & bit]


_LOCKED_FLAGS = ((os.ST_RDONLY, "ro"), (os.ST_NOSUID, "nosuid"), (os.ST_NODEV, "nodev"),
                 (os.ST_NOEXEC, "noexec"), (os.ST_NOATIME, "noatime"),
                 (os.ST_NODIRATIME, "nodiratime"), (os.ST_RELATIME, "relatime"))


def merge_tmpfs_options(options: list[str]) -> list[str]:
    """Later options win over earlier ones they conflict with (`exec` over `noexec`,
    the last `size=`), so the user's choices override Docker's defaults."""
    groups = {
        "exec": "exec", "noexec": "exec", "suid": "suid", "nosuid": "suid",
        "dev": "dev", "nodev": "dev", "ro": "rw", "rw": "rw",
        "atime": "atime", "noatime": "atime", "relatime": "atime", "strictatime": "atime",
        "diratime": "diratime", "nodiratime": "diratime",
    }
    for propagation in ("private", "rprivate", "shared", "rshared", "slave", "rslave"):
        groups[propagation] = "propagation"
    merged: dict[str, str] = {}
    for option in options:
        key = groups.get(option) or option.partition("=")[0]
        merged.pop(key, None)
        merged[key] = option
    return list(merged.values())


def parse_device_cgroup_rule(text: str) -> dict[str, Any]:
    """`c 1:3 mr`, `a *:* rwm` → an OCI device cgroup rule."""
    match = re.fullmatch(r"([acb]) (\d+|\*):(\d+|\*) ([rwm]{1,3})", text.strip())
    if not match:
        raise InvalidParameter(f"invalid device cgroup rule format: '{text}'")
    kind, major, minor, access = match.groups()
    return _rule(kind, None if major == "*" else int(major),
                 None if minor == "*" else int(minor), access)


def host_devices(root: str = "/dev") -> list[dict[str, Any]]:
    """Every character and block device under /dev, for privileged containers. The
    per-container directories (pts, shm, mqueue) and /dev/console are the runtime's."""
    skip_dirs = {"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"}
    found: list[dict[str, Any]] = []

    def walk(directory: str) -> None:
        try:
            entries = list(os.scandir(directory))
        except OSError:
            return
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name not in skip_dirs:
                    walk(entry.path)
                continue
            if entry.path == "/dev/console":
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            device = _device_from_stat(entry.path, entry.path, st)
            if device is not None:
                found.append(device)

    walk(root)
    return found


def find_init_binary() -> str | None:
    """docker-init when installed, else Debian's statically linked tini (a dynamically
    linked one would not run in most images)."""
    for name in ("docker-init", "tini-static"):
        path = shutil.which(name)
        if path:
            return path
    return None


# ── private helpers ───────────────────────────────────────────────────────────────────

def _config(ctr: dict[str, Any]) -> dict[str, Any]:
    return ctr.get("Config") or {}


def _hc(ctr: dict[str, Any]) -> dict[str, Any]:
    return ctr.get("HostConfig") or {}


def _daemon_env(config: dict[str, Any], tty: bool) -> list[str]:
    """What Docker's daemon puts in every process's environment before Config.Env."""
    hostname = config.get("Hostname") or ""
    if config.get("Domainname"):
        hostname = f"{hostname}.{config['Domainname']}"
    env = [f"PATH={DEFAULT_PATH_ENV}", f"HOSTNAME={hostname}"]
    if tty:
        env.append("TERM=xterm")
    return env


def _clean_dest(path: str) -> str:
    if not path.startswith("/"):
        raise InvalidParameter(f"invalid mount path: '{path}' mount path must be absolute")
    return posixpath.normpath(path)


def _default_mounts(hc: dict[str, Any]) -> list[dict[str, Any]]:
    shm_size = int(hc.get("ShmSize") or 0) or DEFAULT_SHM_SIZE
    mounts = [
        {"destination": "/proc", "type": "proc", "source": "proc",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["ro", "nosuid", "noexec", "nodev"]},
    ]
    ipc = hc.get("IpcMode") or "private"
    # An mqueue file system shows the queues of the IPC namespace it is mounted in: with
    # --ipc host, the host's (which need not have /dev/mqueue mounted itself).
    mounts.append({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
                   "options": ["nosuid", "noexec", "nodev"]})
    if ipc == "host":
        mounts.append(bind_mount("/dev/shm", "/dev/shm"))  # the host's shared memory
        return mounts
    if ipc != "none":
        mounts.append({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                       "options": ["nosuid", "noexec", "nodev", "mode=1777", f"size={shm_size}"]})
    return mounts


def _rule(kind: str, major: int | None, minor: int | None, access: str) -> dict[str, Any]:
    rule: dict[str, Any] = {"allow": True, "type": kind}
    if major is not None:
        rule["major"] = major
    if minor is not None:
        rule["minor"] = minor
    rule["access"] = access
    return rule


def _mapped_devices(mapping: dict[str, Any]) -> list[dict[str, Any]]:
    """A HostConfig.Devices entry: one device, or every device under a directory."""
    host_path = mapping.get("PathOnHost") or ""
    ctr_path = mapping.get("PathInContainer") or host_path
    try:
        st = os.stat(host_path)
    except OSError as e:
        raise InvalidParameter(f'error gathering device information while adding custom device "{host_path}": {e.strerror.lower()}') from None
    if stat.S_ISDIR(st.st_mode):
        found = []
        for dirpath, _, filenames in os.walk(host_path):
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                try:
                    sub = os.stat(path)
                except OSError:
                    continue
                device = _device_from_stat(path, posixpath.join(ctr_path, os.path.relpath(path, host_path)), sub)
                if device is not None:
                    found.append(device)
        return found
    device = _device_from_stat(host_path, ctr_path, st)
    if device is None:
        raise InvalidParameter(f'error gathering device information while adding custom device "{host_path}": not a device node')
    return [device]


def _device_from_stat(host_path: str, ctr_path: str, st: os.stat_result) -> dict[str, Any] | None:
    if stat.S_ISCHR(st.st_mode):
        kind = "c"
    elif stat.S_ISBLK(st.st_mode):
        kind = "b"
    else:
        return None
    return {"path": ctr_path, "type": kind, "major": os.major(st.st_rdev),
            "minor": os.minor(st.st_rdev), "fileMode": stat.S_IMODE(st.st_mode),
            "uid": st.st_uid, "gid": st.st_gid}


def _block_io(hc: dict[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = {}
    if int(hc.get("BlkioWeight") or 0) > 0:
        block["weight"] = int(hc["BlkioWeight"])
    weights = [{**_device_numbers(d["Path"]), "weight": int(d["Weight"])}
               for d in hc.get("BlkioWeightDevice") or []]
    if weights:
        block["weightDevice"] = weights
    for key, field in (("BlkioDeviceReadBps", "throttleReadBpsDevice"),
                       ("BlkioDeviceWriteBps", "throttleWriteBpsDevice"),
                       ("BlkioDeviceReadIOps", "throttleReadIOPSDevice"),
                       ("BlkioDeviceWriteIOps", "throttleWriteIOPSDevice")):
        throttles = [{**_device_numbers(d["Path"]), "rate": int(d["Rate"])}
                     for d in hc.get(key) or []]
        if throttles:
            block[field] = throttles
    return block


def _device_numbers(path: str) -> dict[str, int]:
    try:
        st = os.stat(path)
    except OSError as e:
        raise InvalidParameter(f"{path}: {e.strerror}") from None
    if not (stat.S_ISBLK(st.st_mode) or stat.S_ISCHR(st.st_mode)):
        raise InvalidParameter(f"{path}: not a device")
    return {"major": os.major(st.st_rdev), "minor": os.minor(st.st_rdev)}


def _ulimit_value(value: Any) -> int:
    number = int(value if value is not None else 0)
    return RLIM_INFINITY if number < 0 else number

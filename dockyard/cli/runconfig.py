# SPDX-License-Identifier: Apache-2.0
"""`run`/`create` flags → the `POST /containers/create` body (Config + HostConfig + NetworkingConfig).

This is the one translation the CLI owns, and it is Docker's (cli/command/container/
opts.go): the same flags, the same checks in the same order, the same messages, and
the same body — every key the docker CLI sends, in its order — so that a daemon, or a
test recording of docker, cannot tell the two clients apart. Values are checked when
the flag is read (opts.py); what needs several flags together is checked here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import SimpleNamespace

from dockyard.cli import opts as o
from dockyard.cli.parser import Flag, is_set

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class FlagError(ValueError):
    """A flag combination or value Docker would reject; the message is Docker's."""


def _env_check(value: str) -> str:
    # The value is completed from our environment later (build_create_body's `environ`).
    if not value.partition("=")[0]:
        raise o.OptError(f"invalid environment variable: {value}")
    return value


def run_flags(run: bool) -> list[Flag]:
    """The flags of `run` (run=True) or `create`, sorted as Docker's help lists them."""
    duration = "duration"
    flags = [
        # General purpose
        Flag("attach", "a", "list", help="Attach to STDIN, STDOUT or STDERR", validate=o.validate_attach),
        Flag("device-cgroup-rule", "", "list", help="Add a rule to the cgroup allowed devices list", validate=o.validate_device_cgroup_rule),
        Flag("device", "", "list", help="Add a host device to the container"),
        Flag("gpus", "", "list", type_name="gpu-request", help="GPU devices to add to the container ('all' to pass all GPUs)", validate=_parse_gpus),
        Flag("env", "e", "list", help="Set environment variables", validate=_env_check),
        Flag("env-file", "", "list", help="Read in a file of environment variables"),
        Flag("entrypoint", "", "string", help="Overwrite the default ENTRYPOINT of the image"),
        Flag("group-add", "", "list", help="Add additional groups to join"),
        Flag("hostname", "h", "string", help="Container host name"),
        Flag("domainname", "", "string", help="Container NIS domain name"),
        Flag("interactive", "i", help="Keep STDIN open even if not attached"),
        Flag("label", "l", "list", help="Set meta data on a container", validate=o.validate_label),
        Flag("label-file", "", "list", help="Read in a line delimited file of labels"),
        Flag("read-only", "", help="Mount the container's root filesystem as read only"),
        Flag("restart", "", "string", default="no", help="Restart policy to apply when a container exits"),
        Flag("stop-signal", "", "string", help="Signal to stop the container"),
        Flag("stop-timeout", "", "int", help="Timeout (in seconds) to stop a container"),
        Flag("sysctl", "", "map", help="Sysctl options", validate=o.validate_sysctl),
        Flag("tty", "t", help="Allocate a pseudo-TTY"),
        Flag("ulimit", "", "list", type_name="ulimit", help="Ulimit options", validate=o.parse_ulimit),
        Flag("user", "u", "string", help="Username or UID (format: <name|uid>[:<group|gid>])"),
        Flag("workdir", "w", "string", help="Working directory inside the container"),
        Flag("rm", "", help="Automatically remove the container and its associated anonymous volumes when it exits"),
        # Security
        Flag("cap-add", "", "list", help="Add Linux capabilities"),
        Flag("cap-drop", "", "list", help="Drop Linux capabilities"),
        Flag("privileged", "", help="Give extended privileges to this container"),
        Flag("security-opt", "", "list", help="Security Options"),
        Flag("userns", "", "string", help="User namespace to use"),
        Flag("cgroupns", "", "string", help="Cgroup namespace to use (host|private)"),
        # Network and port publishing
        Flag("add-host", "", "list", help="Add a custom host-to-IP mapping (host:ip)", validate=o.validate_extra_host),
        Flag("dns", "", "list", help="Set custom DNS servers", validate=o.validate_ip),
        Flag("dns-opt", "", "list", hidden=True, dest="dns_option"),
        Flag("dns-option", "", "list", help="Set DNS options"),
        Flag("dns-search", "", "list", help="Set custom DNS search domains", validate=o.validate_dns_search),
        Flag("expose", "", "list", help="Expose a port or a range of ports"),
        Flag("ip", "", "string", help="IPv4 address (e.g., 172.30.100.104)"),
        Flag("ip6", "", "string", help="IPv6 address (e.g., 2001:db8::33)"),
        Flag("link", "", "list", help="Add link to another container", validate=o.validate_link),
        Flag("link-local-ip", "", "list", help="Container IPv4/IPv6 link-local addresses"),
        Flag("mac-address", "", "string", help="Container MAC address (e.g., 92:d0:c6:0a:29:33)"),
        Flag("publish", "p", "list", help="Publish a container's port(s) to the host"),
        Flag("publish-all", "P", help="Publish all exposed ports to random ports"),
        Flag("net", "", "list", type_name="network", hidden=True, dest="network", validate=o.parse_network),
        Flag("network", "", "list", type_name="network", help="Connect a container to a network", validate=o.parse_network),
        Flag("net-alias", "", "list", hidden=True, dest="network_alias"),
        Flag("network-alias", "", "list", help="Add network-scoped alias for the container"),
        # Logging and storage
        Flag("log-driver", "", "string", help="Logging driver for the container"),
        Flag("volume-driver", "", "string", help="Optional volume driver for the container"),
        Flag("log-opt", "", "list", help="Log driver options"),
        Flag("storage-opt", "", "list", help="Storage driver options for the container"),
        Flag("tmpfs", "", "list", help="Mount a tmpfs directory"),
        Flag("volumes-from", "", "list", help="Mount volumes from the specified container(s)"),
        Flag("volume", "v", "list", help="Bind mount a volume"),
        Flag("mount", "", "list", type_name="mount", help="Attach a filesystem mount to the container", validate=o.parse_mount),
        # Health-checking
        Flag("health-cmd", "", "string", help="Command to run to check health"),
        Flag("health-interval", "", "string", type_name=duration, help="Time between running the check (ms|s|m|h) (default 0s)", validate=o.go_duration),
        Flag("health-retries", "", "int", help="Consecutive failures needed to report unhealthy"),
        Flag("health-timeout", "", "string", type_name=duration, help="Maximum time to allow one check to run (ms|s|m|h) (default 0s)", validate=o.go_duration),
        Flag("health-start-period", "", "string", type_name=duration, help="Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)", validate=o.go_duration),
        Flag("health-start-interval", "", "string", type_name=duration, help="Time between running the check during the start period (ms|s|m|h) (default 0s)", validate=o.go_duration),
        Flag("no-healthcheck", "", help="Disable any container-specified HEALTHCHECK"),
        # Resource management
        Flag("blkio-weight", "", "uint16", help="Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)"),
        Flag("blkio-weight-device", "", "list", help="Block IO weight (relative device weight)", validate=o.parse_weight_device),
        Flag("cidfile", "", "string", help="Write the container ID to the file"),
        Flag("cpuset-cpus", "", "string", help="CPUs in which to allow execution (0-3, 0,1)"),
        Flag("cpuset-mems", "", "string", help="MEMs in which to allow execution (0-3, 0,1)"),
        Flag("cpu-count", "", "int", help="CPU count (Windows only)", hidden=True),
        Flag("cpu-percent", "", "int", help="CPU percent (Windows only)", hidden=True),
        Flag("cpu-period", "", "int", help="Limit CPU CFS (Completely Fair Scheduler) period"),
        Flag("cpu-quota", "", "int", help="Limit CPU CFS (Completely Fair Scheduler) quota"),
        Flag("cpu-rt-period", "", "int", help="Limit CPU real-time period in microseconds"),
        Flag("cpu-rt-runtime", "", "int", help="Limit CPU real-time runtime in microseconds"),
        Flag("cpu-shares", "c", "int", help="CPU shares (relative weight)"),
        Flag("cpus", "", "string", type_name="decimal", help="Number of CPUs", validate=o.nano_cpus),
        Flag("device-read-bps", "", "list", help="Limit read rate (bytes per second) from a device", validate=o.parse_throttle_bps),
        Flag("device-read-iops", "", "list", help="Limit read rate (IO per second) from a device", validate=o.parse_throttle_iops),
        Flag("device-write-bps", "", "list", help="Limit write rate (bytes per second) to a device", validate=o.parse_throttle_bps),
        Flag("device-write-iops", "", "list", help="Limit write rate (IO per second) to a device", validate=o.parse_throttle_iops),
        Flag("io-maxbandwidth", "", "string", type_name="bytes", hidden=True, validate=o.mem_bytes),
        Flag("io-maxiops", "", "int", hidden=True),
        Flag("kernel-memory", "", "string", type_name="bytes", help="Kernel memory limit", validate=o.mem_bytes),
        Flag("memory", "m", "string", type_name="bytes", help="Memory limit", validate=o.mem_bytes),
        Flag("memory-reservation", "", "string", type_name="bytes", help="Memory soft limit", validate=o.mem_bytes),
        Flag("memory-swap", "", "string", type_name="bytes", help="Swap limit equal to memory plus swap: '-1' to enable unlimited swap", validate=o.mem_swap_bytes),
        Flag("memory-swappiness", "", "int", default=-1, help="Tune container memory swappiness (0 to 100)"),
        Flag("oom-kill-disable", "", help="Disable OOM Killer"),
        Flag("oom-score-adj", "", "int", help="Tune host's OOM preferences (-1000 to 1000)"),
        Flag("pids-limit", "", "int", help="Tune container pids limit (set -1 for unlimited)"),
        # Low-level execution
        Flag("cgroup-parent", "", "string", help="Optional parent cgroup for the container"),
        Flag("ipc", "", "string", help="IPC mode to use"),
        Flag("isolation", "", "string", help="Container isolation technology"),
        Flag("pid", "", "string", help="PID namespace to use"),
        Flag("shm-size", "", "string", type_name="bytes", help="Size of /dev/shm", validate=o.mem_bytes),
        Flag("uts", "", "string", help="UTS namespace to use"),
        Flag("runtime", "", "string", help="Runtime to use for this container"),
        Flag("init", "", help="Run an init inside the container that forwards signals and reaps processes"),
        Flag("annotation", "", "map", help="Add an annotation to the container (passed through to the OCI runtime)"),
        # create/run options
        Flag("name", "", "string", help="Assign a name to the container"),
        Flag("pull", "", "string", default="missing", help='Pull image before running ("always", "missing", "never")'),
        Flag("quiet", "q", help="Suppress the pull output"),
        Flag("platform", "", "string", default=os.environ.get("DOCKER_DEFAULT_PLATFORM") or None, help="Set platform if server is multi-platform capable"),
        Flag("disable-content-trust", "", default=True, help="Skip image verification"),
    ]
    if run:
        flags += [
            Flag("detach", "d", help="Run container in background and print container ID"),
            Flag("detach-keys", "", "string", help="Override the key sequence for detaching a container"),
            Flag("sig-proxy", "", default=True, help="Proxy received signals to the process"),
        ]
    return sorted(flags, key=lambda f: f.long)


def build_create_body(
    opts: SimpleNamespace,
    args: list[str],
    *,
    detach: bool = False,
    environ: Mapping[str, str] | None = None,
    console_size: tuple[int, int] | None = None,
    cwd: str | None = None,
) -> dict[str, Any]:
    """The create body for parsed flags; `args` is IMAGE [COMMAND [ARG...]].

    `console_size` is (height, width) of our terminal when -t is used on one; `detach`
    clears the attach flags as `run -d` does. Raises FlagError for what Docker rejects.
    """
    try:
        return _build(opts, args, detach, os.environ if environ is None else environ, console_size, cwd)
    except o.OptError as exc:
        raise FlagError(str(exc)) from None


def _build(
    opts: SimpleNamespace,
    args: list[str],
    detach: bool,
    environ: Mapping[str, str],
    console_size: tuple[int, int] | None,
    cwd: str | None,
) -> dict[str, Any]:
    image, command = args[0], args[1:]
    attach = list(opts.attach)
    attach_stdin = "stdin" in attach or bool(opts.interactive)
    attach_stdout = "stdout" in attach or not attach
    attach_stderr = "stderr" in attach or not attach

    if opts.mac_address:
        try:
            o.validate_mac(opts.mac_address)
        except o.OptError:
            raise FlagError(f"{opts.mac_address} is not a valid mac address") from None
    swappiness = opts.memory_swappiness
    if swappiness != -1 and not 0 <= swappiness <= 100:
        raise FlagError(f"invalid value: {swappiness}. Valid memory swappiness range is 0-100")

    binds: list[str] = []
    volumes: dict[str, dict[str, Any]] = {}
    for spec in dict.fromkeys(opts.volume):  # duplicates count once, as in Docker's map
        parsed = o.parse_volume(spec)
        if parsed["Source"]:
            binds.append(o.absolute_bind(spec, cwd) if parsed["Type"] == "bind" else spec)
        else:
            volumes[spec] = {}

    tmpfs: dict[str, str] = {}
    for spec in opts.tmpfs:
        path, _, options = spec.partition(":")
        tmpfs[path] = options

    entrypoint = None
    if opts.entrypoint:
        entrypoint = [opts.entrypoint]
    elif is_set(opts, "entrypoint"):
        entrypoint = [""]

    exposed, bindings = o.parse_port_specs(o.publish_standard_notation(opts.publish))
    for port in o.expose_ports(opts.expose):
        exposed.setdefault(port, {})

    devices: list[dict[str, str]] = []
    cdi_devices: list[str] = []
    for device in opts.device:
        if _is_cdi_name(device):
            cdi_devices.append(device)
        else:
            devices.append(o.parse_device(device))

    # -e values go through a map in Docker's CLI (a repeated name keeps its last value);
    # env files are read as they are, before them.
    env = o.read_env(
        opts.env_file, _dedupe_env([o.validate_env(e, environ) for e in opts.env]), environ
    )
    labels = o.kv_map(o.read_labels(opts.label_file, opts.label))

    for name, mode in (("pid", opts.pid), ("uts", opts.uts), ("userns", opts.userns), ("cgroupns", opts.cgroupns)):
        if not _valid_mode(name, mode or ""):
            word = {"pid": "PID", "uts": "UTS", "userns": "USER", "cgroupns": "CGROUP"}[name]
            raise FlagError(f"--{name}: invalid {word} mode")

    restart = o.parse_restart_policy(opts.restart if opts.restart is not None else "no")
    log_options = o.kv_map(opts.log_opt)
    if opts.log_driver == "none" and opts.log_opt:
        raise FlagError(f"invalid logging opts for driver {opts.log_driver}")
    security = o.parse_security_opts(list(opts.security_opt))
    masked = readonly_paths = None
    if "systempaths=unconfined" in security:
        masked, readonly_paths = [], []
    security_opts = [s for s in security if s != "systempaths=unconfined"]
    storage: dict[str, str] = {}
    for option in opts.storage_opt:
        key, sep, value = option.partition("=")
        if not sep:
            raise FlagError("invalid storage option")
        storage[key] = value

    health = _healthcheck(opts)

    device_requests = list(opts.gpus) or None
    if cdi_devices:
        device_requests = (device_requests or []) + [
            {"Driver": "cdi", "Count": 0, "DeviceIDs": cdi_devices, "Capabilities": None, "Options": None}
        ]

    config: dict[str, Any] = {
        "Hostname": opts.hostname or "",
        "Domainname": opts.domainname or "",
        "User": opts.user or "",
        "AttachStdin": attach_stdin,
        "AttachStdout": attach_stdout,
        "AttachStderr": attach_stderr,
    }
    if exposed:
        config["ExposedPorts"] = exposed
    config["Tty"] = bool(opts.tty)
    config["OpenStdin"] = bool(opts.interactive)
    config["StdinOnce"] = bool(opts.interactive) and attach_stdin
    config["Env"] = env or None
    config["Cmd"] = command or None
    if health is not None:
        config["Healthcheck"] = health
    config.update(
        {
            "Image": image,
            "Volumes": volumes,
            "WorkingDir": opts.workdir or "",
            "Entrypoint": entrypoint,
            "OnBuild": None,
            "Labels": labels,
        }
    )
    if opts.stop_signal:
        config["StopSignal"] = opts.stop_signal
    if is_set(opts, "stop_timeout"):
        config["StopTimeout"] = opts.stop_timeout

    networks = list(opts.network)
    network_mode = networks[0]["Target"] if networks else "default"
    host: dict[str, Any] = {
        "Binds": binds or None,
        "ContainerIDFile": opts.cidfile or "",
        "LogConfig": {"Type": opts.log_driver or "", "Config": log_options},
        "NetworkMode": network_mode,
        "PortBindings": bindings,
        "RestartPolicy": restart,
        "AutoRemove": bool(opts.rm),
        "VolumeDriver": opts.volume_driver or "",
        "VolumesFrom": list(opts.volumes_from) or None,
        "ConsoleSize": list(console_size) if (opts.tty and console_size) else [0, 0],
    }
    if opts.annotation:
        host["Annotations"] = dict(opts.annotation)
    host.update(
        {
            "CapAdd": [_capability(c) for c in opts.cap_add] or None,
            "CapDrop": [_capability(c) for c in opts.cap_drop] or None,
            "CgroupnsMode": opts.cgroupns or "",
            "Dns": list(opts.dns),
            "DnsOptions": list(opts.dns_option),
            "DnsSearch": list(opts.dns_search),
            "ExtraHosts": list(opts.add_host) or None,
            "GroupAdd": list(opts.group_add) or None,
            "IpcMode": opts.ipc or "",
            "Cgroup": "",
            "Links": list(opts.link) or None,
            "OomScoreAdj": opts.oom_score_adj or 0,
            "PidMode": opts.pid or "",
            "Privileged": bool(opts.privileged),
            "PublishAllPorts": bool(opts.publish_all),
            "ReadonlyRootfs": bool(opts.read_only),
            "SecurityOpt": security_opts if (security_opts or masked is not None) else None,
        }
    )
    if storage:
        host["StorageOpt"] = storage
    if tmpfs:
        host["Tmpfs"] = tmpfs
    host["UTSMode"] = opts.uts or ""
    host["UsernsMode"] = opts.userns or ""
    host["ShmSize"] = opts.shm_size or 0
    if opts.sysctl:
        host["Sysctls"] = dict(opts.sysctl)
    if opts.runtime:
        host["Runtime"] = opts.runtime
    host.update(
        {
            "Isolation": opts.isolation or "",
            "CgroupParent": opts.cgroup_parent or "",
            "BlkioWeightDevice": list(opts.blkio_weight_device),
            "BlkioDeviceReadBps": list(opts.device_read_bps),
            "BlkioDeviceWriteBps": list(opts.device_write_bps),
            "BlkioDeviceReadIOps": list(opts.device_read_iops),
            "BlkioDeviceWriteIOps": list(opts.device_write_iops),
            "Devices": devices,
            "DeviceCgroupRules": list(opts.device_cgroup_rule) or None,
            "DeviceRequests": device_requests,
        }
    )
    host.update(limit_fields(opts))
    host.update(
        {
            "MemorySwappiness": swappiness,
            "OomKillDisable": bool(opts.oom_kill_disable),
            "PidsLimit": opts.pids_limit or 0,
            "Ulimits": _ulimits(opts.ulimit),
            "CpuCount": opts.cpu_count or 0,
            "CpuPercent": opts.cpu_percent or 0,
            "IOMaximumIOps": opts.io_maxiops or 0,
            "IOMaximumBandwidth": opts.io_maxbandwidth or 0,
        }
    )
    if opts.mount:
        host["Mounts"] = list(opts.mount)
    host["MaskedPaths"] = masked
    host["ReadonlyPaths"] = readonly_paths
    if is_set(opts, "init"):
        host["Init"] = bool(opts.init)

    if opts.rm and restart["Name"] not in ("", "no"):
        raise FlagError("conflicting options: cannot specify both --restart and --rm")

    endpoints = _endpoints(opts, networks)

    if detach:
        config["AttachStdin"] = config["AttachStdout"] = config["AttachStderr"] = False
        config["StdinOnce"] = False
    config["HostConfig"] = host
    config["NetworkingConfig"] = {"EndpointsConfig": endpoints}
    return config


# --- pieces of the body -----------------------------------------------------------------


def _healthcheck(opts: SimpleNamespace) -> dict[str, Any] | None:
    interval = opts.health_interval or 0
    timeout = opts.health_timeout or 0
    start_period = opts.health_start_period or 0
    start_interval = opts.health_start_interval or 0
    retries = opts.health_retries or 0
    have = bool(opts.health_cmd) or any((interval, timeout, start_period, start_interval, retries))
    if opts.no_healthcheck:
        if have:
            raise FlagError("--no-healthcheck conflicts with --health-* options")
        return {"Test": ["NONE"]}
    if not have:
        return None
    for name, value in (
        ("interval", interval),
        ("timeout", timeout),
        ("retries", retries),
        ("start-period", start_period),
        ("start-interval", start_interval),
    ):
        if value < 0:
            raise FlagError(f"--health-{name} cannot be negative")
    health: dict[str, Any] = {}
    if opts.health_cmd:
        health["Test"] = ["CMD-SHELL", opts.health_cmd]
    for key, value in (
        ("Interval", interval),
        ("Timeout", timeout),
        ("StartPeriod", start_period),
        ("StartInterval", start_interval),
        ("Retries", retries),
    ):
        if value:
            health[key] = value
    return health


_EMPTY_ENDPOINT = {
    "IPAMConfig": None,
    "Links": None,
    "Aliases": None,
    "MacAddress": "",
    "DriverOpts": None,
    "GwPriority": 0,
    "NetworkID": "",
    "EndpointID": "",
    "Gateway": "",
    "IPAddress": "",
    "IPPrefixLen": 0,
    "IPv6Gateway": "",
    "GlobalIPv6Address": "",
    "GlobalIPv6PrefixLen": 0,
    "DNSNames": None,
}


def _endpoints(opts: SimpleNamespace, networks: list[dict[str, Any]]) -> dict[str, Any]:
    """Docker's parseNetworkOpts: one endpoint per --network, the plain flags on the first."""
    endpoints: dict[str, Any] = {}
    if not networks:
        attachment = o.parse_network("default")
        _apply_container_options(attachment, opts)
        endpoints["default"] = _endpoint(attachment)
        return endpoints
    user_defined = other = False
    for i, attachment in enumerate(networks):
        attachment = {**attachment, "Aliases": list(attachment["Aliases"])}
        if _user_defined(attachment["Target"]):
            user_defined = True
        else:
            other = True
        if i == 0:
            _apply_container_options(attachment, opts)
        endpoint = _endpoint(attachment)
        if attachment["Target"] in endpoints:
            raise FlagError(f'network "{attachment["Target"]}" is specified multiple times')
        if i == 0 and len(networks) == 1 and endpoint == _EMPTY_ENDPOINT:
            continue
        endpoints[attachment["Target"]] = endpoint
    if user_defined and other:
        raise FlagError(
            "conflicting options: cannot attach both user-defined and non-user-defined network-modes"
        )
    return endpoints


def _apply_container_options(attachment: dict[str, Any], opts: SimpleNamespace) -> None:
    conflicts = (
        (attachment["Aliases"] and opts.network_alias, "--network-alias and per-network alias"),
        (attachment["Links"] and opts.link, "--link and per-network links"),
        (attachment["IPv4Address"] and opts.ip, "--ip and per-network IPv4 address"),
        (attachment["IPv6Address"] and opts.ip6, "--ip6 and per-network IPv6 address"),
        (attachment["MacAddress"] and opts.mac_address, "--mac-address and per-network MAC address"),
        (attachment["LinkLocalIPs"] and opts.link_local_ip, "--link-local-ip and per-network link-local IP addresses"),
    )
    for conflict, what in conflicts:
        if conflict:
            raise FlagError(f"conflicting options: cannot specify both {what}")
    if opts.network_alias:
        attachment["Aliases"] = list(opts.network_alias)
    if _user_defined(attachment["Target"]) and opts.link:
        attachment["Links"] = list(opts.link)
    if opts.ip:
        attachment["IPv4Address"] = opts.ip
    if opts.ip6:
        attachment["IPv6Address"] = opts.ip6
    if opts.mac_address:
        attachment["MacAddress"] = opts.mac_address
    if opts.link_local_ip:
        attachment["LinkLocalIPs"] = list(opts.link_local_ip)


def _endpoint(attachment: dict[str, Any]) -> dict[str, Any]:
    target = attachment["Target"]
    if not target.strip():
        raise FlagError("no name set for network")
    if not _user_defined(target):
        if attachment["Aliases"]:
            raise FlagError("network-scoped aliases are only supported for user-defined networks")
        if attachment["Links"]:
            raise FlagError("links are only supported for user-defined networks")
    endpoint = dict(_EMPTY_ENDPOINT)
    endpoint["GwPriority"] = attachment["GwPriority"]
    endpoint["Aliases"] = list(attachment["Aliases"]) or None
    if attachment["DriverOpts"]:
        endpoint["DriverOpts"] = dict(attachment["DriverOpts"])
    if attachment["Links"]:
        endpoint["Links"] = list(attachment["Links"])
    if attachment["IPv4Address"] or attachment["IPv6Address"] or attachment["LinkLocalIPs"]:
        ipam: dict[str, Any] = {}
        if attachment["IPv4Address"]:
            ipam["IPv4Address"] = attachment["IPv4Address"]
        if attachment["IPv6Address"]:
            ipam["IPv6Address"] = attachment["IPv6Address"]
        if attachment["LinkLocalIPs"]:
            ipam["LinkLocalIPs"] = list(attachment["LinkLocalIPs"])
        endpoint["IPAMConfig"] = ipam
    if attachment["MacAddress"]:
        try:
            o.validate_mac(attachment["MacAddress"])
        except o.OptError:
            raise FlagError(f"{attachment['MacAddress']} is not a valid mac address") from None
        endpoint["MacAddress"] = attachment["MacAddress"]
    return endpoint


def _user_defined(network: str) -> bool:
    return network not in ("default", "bridge", "host", "none") and not network.startswith(
        "container:"
    )


def _valid_mode(name: str, mode: str) -> bool:
    if name == "pid":
        return mode in ("", "host") or (mode.startswith("container:") and len(mode) > 10)
    if name in ("uts", "userns"):
        return mode in ("", "host")
    return mode in ("", "host", "private")


def _dedupe_env(entries: list[str]) -> list[str]:
    """Docker collects -e values in a map: a repeated name keeps its last value."""
    seen: dict[str, int] = {}
    out: list[str] = []
    for entry in entries:
        key = entry.partition("=")[0]
        if key in seen:
            out[seen[key]] = entry
        else:
            seen[key] = len(out)
            out.append(entry)
    return out


def _ulimits(values: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_name = {u["Name"]: u for u in values}
    return [by_name[name] for name in sorted(by_name)]


def _capability(name: str) -> str:
    upper = name.upper()
    if upper == "ALL" or upper.startswith("CAP_"):
        return upper
    return "CAP_" + upper


def _is_cdi_name(device: str) -> bool:
    import re

    return bool(
        re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9._-]*/[a-zA-Z0-9][a-zA-Z0-9._-]*=[a-zA-Z0-9_.:-]+", device)
    )


def _parse_gpus(value: str) -> dict[str, Any]:
    import csv

    fields = next(csv.reader([value]), [])
    request: dict[str, Any] = {"Driver": "", "Count": 0, "DeviceIDs": None, "Capabilities": None, "Options": None}
    seen: set[str] = set()

    def count(text: str) -> int:
        if text == "all":
            return -1
        try:
            return int(text)
        except ValueError:
            raise o.OptError(
                f'invalid count ({text}): value must be either "all" or an integer: invalid syntax'
            ) from None

    for field in fields:
        key, sep, val = field.partition("=")
        if key in seen:
            raise o.OptError(f"gpu request key '{key}' can be specified only once")
        seen.add(key)
        if not sep:
            seen.add("count")
            request["Count"] = count(key)
        elif key == "driver":
            request["Driver"] = val
        elif key == "count":
            request["Count"] = count(val)
        elif key == "device":
            request["DeviceIDs"] = val.split(",")
        elif key == "capabilities":
            request["Capabilities"] = [val.split(",") + ["gpu"]]
        elif key == "options":
            request["Options"] = o.kv_map(next(csv.reader([val]), []))
        else:
            raise o.OptError(f"unexpected key '{key}' in '{field}'")
    if "count" not in seen and request["DeviceIDs"] is None:
        request["Count"] = 1
    if request["Options"] is None:
        request["Options"] = {}
    if request["Capabilities"] is None:
        request["Capabilities"] = [["gpu"]]
    return request


# Kept for callers of the earlier API (tests, other commands).
def parse_restart(value: str) -> dict[str, Any]:
    try:
        return o.parse_restart_policy(value)
    except o.OptError as exc:
        raise FlagError(str(exc)) from None


def parse_bytes(value: str) -> int:
    try:
        return o.ram_in_bytes(value)
    except o.OptError as exc:
        raise FlagError(str(exc)) from None


def limit_fields(opts: Any) -> dict[str, Any]:
    """The CPU, memory and block-I/O weight limits that `run`/`create` and `update` take
    from the same flags and send the same way."""
    fields: dict[str, Any] = {
        "CpuShares": opts.cpu_shares or 0,
        "Memory": opts.memory or 0,
        "NanoCpus": opts.cpus or 0,
        "BlkioWeight": opts.blkio_weight or 0,
        "CpuPeriod": opts.cpu_period or 0,
        "CpuQuota": opts.cpu_quota or 0,
        "CpuRealtimePeriod": opts.cpu_rt_period or 0,
        "CpuRealtimeRuntime": opts.cpu_rt_runtime or 0,
        "CpusetCpus": opts.cpuset_cpus or "",
        "CpusetMems": opts.cpuset_mems or "",
        "MemoryReservation": opts.memory_reservation or 0,
        "MemorySwap": opts.memory_swap or 0,
    }
    if opts.kernel_memory:
        fields["KernelMemory"] = opts.kernel_memory
    return fields

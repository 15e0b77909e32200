# SPDX-License-Identifier: Apache-2.0
"""A container's record, built from a create request and its image.

The record has the shape of `GET /containers/{id}/json` (ContainerInspectResponse) and is
what the daemon stores and returns. Docker's merge rules apply: the image's Env is
overlaid by the request's, Labels merged, and the image's Cmd is dropped when the request
sets an Entrypoint without a Cmd.
"""

from __future__ import annotations

import copy
import os
import secrets
from typing import Any

from dockyard.daemon import logrotate
from dockyard.errors import InvalidParameter
from dockyard.units import ZERO_TIME, rfc3339

# Fields of the create body that belong to Config (everything but the two sub-objects).
_NOT_CONFIG = ("HostConfig", "NetworkingConfig")

_DEFAULT_HOSTCONFIG: dict[str, Any] = {
    "Binds": None,
    "ContainerIDFile": "",
    "LogConfig": {"Type": "json-file", "Config": {}},
    "NetworkMode": "default",
    "PortBindings": {},
    "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
    "AutoRemove": False,
    "VolumeDriver": "",
    "VolumesFrom": None,
    "CapAdd": None,
    "CapDrop": None,
    "CgroupnsMode": "host",
    "Dns": [],
    "DnsOptions": [],
    "DnsSearch": [],
    "ExtraHosts": None,
    "GroupAdd": None,
    "IpcMode": "private",
    "Cgroup": "",
    "Links": None,
    "OomScoreAdj": 0,
    "PidMode": "",
    "Privileged": False,
    "PublishAllPorts": False,
    "ReadonlyRootfs": False,
    "SecurityOpt": None,
    "UTSMode": "",
    "UsernsMode": "",
    "ShmSize": 67108864,
    "Runtime": "runc",
    "Isolation": "",
    "CpuShares": 0,
    "Memory": 0,
    "NanoCpus": 0,
    "CgroupParent": "",
    "BlkioWeight": 0,
    "CpuPeriod": 0,
    "CpuQuota": 0,
    "CpusetCpus": "",
    "CpusetMems": "",
    "Devices": [],
    "MemoryReservation": 0,
    "MemorySwap": 0,
    "KernelMemory": 0,
    "KernelMemoryTCP": 0,
    "OomKillDisable": None,
    "PidsLimit": None,
    "Ulimits": None,
    "Init": None,
    "MaskedPaths": None,
    "ReadonlyPaths": None,
}


def new_record(body: dict[str, Any], *, name: str, image_id: str, image_config: dict[str, Any],
               container_dir: str) -> dict[str, Any]:
    """The record of a new container named `name` (with its leading slash)."""
    config = {k: copy.deepcopy(v) for k, v in body.items() if k not in _NOT_CONFIG}
    validate_config(config)
    host_config = _host_config(body.get("HostConfig") or {})
    cid = secrets.token_hex(32)
    config = merge_image_config(config, image_config or {})
    if not config.get("Hostname"):
        config["Hostname"] = cid[:12]
    command = (config.get("Entrypoint") or []) + (config.get("Cmd") or [])
    if not command:
        raise InvalidParameter("No command specified")
    log_config = host_config.get("LogConfig") or {}
    if log_config.get("Type") in ("", None):
        log_config["Type"] = "json-file"
    if log_config["Type"] not in ("json-file", "local", "k8s-file", "none"):
        raise InvalidParameter(f"logger: no log driver named '{log_config['Type']}' is registered")
    # conmon writes the log (in its k8s-file format); it serves every API the json-file
    # driver serves, so clients that check for json-file (docker-py's run()) read it.
    # `none` keeps no log at all (attach still sees the output).
    kind = log_config["Type"] if log_config["Type"] in ("k8s-file", "none") else "json-file"
    host_config["LogConfig"] = {"Type": kind, "Config": dict(log_config.get("Config") or {})}
    log_size_limit(host_config)  # refuse a bad max-size now, not at start
    logrotate.validate({"HostConfig": host_config})
    return {
        "Id": cid,
        "Created": rfc3339(),
        "Path": command[0],
        "Args": command[1:],
        "State": {
            "Status": "created",
            "Running": False,
            "Paused": False,
            "Restarting": False,
            "OOMKilled": False,
            "Dead": False,
            "Pid": 0,
            "ExitCode": 0,
            "Error": "",
            "StartedAt": ZERO_TIME,
            "FinishedAt": ZERO_TIME,
        },
        "Image": image_id,
        "ResolvConfPath": f"{container_dir}/{cid}/resolv.conf",
        "HostnamePath": f"{container_dir}/{cid}/hostname",
        "HostsPath": f"{container_dir}/{cid}/hosts",
        "LogPath": f"{container_dir}/{cid}/ctr.log" if host_config["LogConfig"]["Type"] != "none" else "",
        "Name": name,
        "RestartCount": 0,
        "Driver": "overlay2",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": None,
        "HostConfig": host_config,
        "GraphDriver": {
            "Name": "overlay2",
            "Data": {
                "UpperDir": f"{container_dir}/{cid}/diff",
                "WorkDir": f"{container_dir}/{cid}/work",
            },
        },
        "Mounts": [],
        "Config": config,
        "NetworkSettings": _network_settings(body.get("NetworkingConfig")),
    }


def merge_image_config(config: dict[str, Any], image: dict[str, Any]) -> dict[str, Any]:
    """Docker's merge of a create request's Config with the image's config."""
    merged = dict(config)
    merged["Env"] = merge_env(image.get("Env") or [], config.get("Env") or [])
    if config.get("Entrypoint") == [""]:
        # `--entrypoint ''`: no entrypoint, and not the image's Cmd either (as dockerd)
        merged["Entrypoint"] = None
    elif not config.get("Entrypoint"):
        merged["Entrypoint"] = image.get("Entrypoint")
        if not config.get("Cmd"):
            merged["Cmd"] = image.get("Cmd")
    for key in ("WorkingDir", "User", "StopSignal", "Healthcheck", "OnBuild", "Shell"):
        if not config.get(key) and image.get(key):
            merged[key] = copy.deepcopy(image[key])
    for key in ("ExposedPorts", "Volumes", "Labels"):
        combined = dict(image.get(key) or {})
        combined.update(config.get(key) or {})
        merged[key] = combined or None
    merged.setdefault("AttachStdin", False)
    merged.setdefault("AttachStdout", False)
    merged.setdefault("AttachStderr", False)
    for key in ("Tty", "OpenStdin", "StdinOnce"):
        merged[key] = bool(config.get(key))
    merged.setdefault("Domainname", "")
    merged.setdefault("WorkingDir", "")
    merged.setdefault("User", "")
    merged["Labels"] = merged.get("Labels") or {}
    return merged


def merge_env(image: list[str], requested: list[str]) -> list[str]:
    """Docker's order: the request's variables first, then the image's that the request
    does not set."""
    keys = set()
    for entry in requested:
        if not isinstance(entry, str) or not entry.split("=", 1)[0]:
            raise InvalidParameter(f"invalid environment variable: {entry!r}")
        keys.add(entry.split("=", 1)[0])
    return list(requested) + [e for e in image if e.split("=", 1)[0] not in keys]


def validate_restart_policy(policy: dict[str, Any]) -> dict[str, Any]:
    """A RestartPolicy in its full form, or InvalidParameter with Docker's message."""
    name = policy.get("Name") or "no"
    if name not in ("no", "always", "unless-stopped", "on-failure"):
        raise InvalidParameter(f"invalid restart policy: unknown policy '{name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'")
    count = policy.get("MaximumRetryCount") or 0
    if not isinstance(count, int) or count < 0:
        raise InvalidParameter("invalid restart policy: maximum retry count can't be negative")
    if count and name != "on-failure":
        raise InvalidParameter("invalid restart policy: maximum retry count can only be used with 'on-failure'")
    return {"Name": name, "MaximumRetryCount": count}


# Without --log-opt max-size a container's log is still capped, so it cannot fill the disk.
DEFAULT_LOG_SIZE_MAX = 100 * 1024 * 1024
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2, "g": 1024**3, "gb": 1024**3}


def log_size_limit(host_config: dict[str, Any]) -> int:
    """The byte limit for the container's log from `--log-opt max-size` (Docker's units:
    `10k`, `20m`, `1g`); conmon keeps the newest lines within it."""
    options = (host_config.get("LogConfig") or {}).get("Config") or {}
    unknown = set(options) - {"max-size", "max-file", "compress", "labels", "env", "tag", "mode"}
    if unknown:
        raise InvalidParameter(f"unknown log opt '{sorted(unknown)[0]}' for json-file log driver")
    text = str(options.get("max-size") or "").strip().lower()
    if not text or text == "-1":
        return DEFAULT_LOG_SIZE_MAX
    number = text.rstrip("kmgb")
    unit = text[len(number):]
    try:
        value = float(number) * _SIZE_UNITS[unit]
    except (ValueError, KeyError):
        raise InvalidParameter(f"invalid value for max-size: {options['max-size']}") from None
    if value <= 0:
        raise InvalidParameter(f"invalid value for max-size: {options['max-size']}")
    return int(value)


# dockerd's floor for a memory limit (runc cannot start a container under it).
MIN_MEMORY = 6 << 20
_MIN_DURATION_NS = 1_000_000  # 1 ms: the shortest health check interval, timeout, start period


def validate_resources(hc: dict[str, Any]) -> None:
    """dockerd's checks of resource settings (create and update), so a limit the kernel
    or runc would refuse is refused up front with Docker's message."""
    memory, swap = hc.get("Memory") or 0, hc.get("MemorySwap") or 0
    reservation = hc.get("MemoryReservation") or 0
    if memory and memory < MIN_MEMORY:
        raise InvalidParameter("Minimum memory limit allowed is 6MB")
    if memory > 0 and swap > 0 and swap < memory:
        raise InvalidParameter("Minimum memoryswap limit should be larger than memory limit, see usage")
    if memory > 0 and reservation > 0 and memory < reservation:
        raise InvalidParameter("Minimum memory limit can not be less than memory reservation limit, see usage")
    available = sorted(os.sched_getaffinity(0))
    nano = hc.get("NanoCpus") or 0
    if nano < 0 or nano > len(available) * 10**9:
        raise InvalidParameter(f"Range of CPUs is from 0.01 to {len(available)}.00, as there are only "
                               f"{len(available)} CPUs available")
    cpuset = hc.get("CpusetCpus") or ""
    if cpuset:
        try:
            wanted = _cpu_list(cpuset)
        except ValueError:
            raise InvalidParameter(f"Invalid value {cpuset} for cpuset cpus") from None
        if not wanted <= set(available):
            listing = ",".join(str(c) for c in available)
            raise InvalidParameter(f"Requested CPUs are not available - requested {cpuset}, available: {listing}")
    oom = hc.get("OomScoreAdj") or 0
    if not -1000 <= oom <= 1000:
        raise InvalidParameter(f"Invalid value {oom}, range for oom score adj is [-1000, 1000]")
    from dockyard.oci.caps import normalize

    for key in ("CapAdd", "CapDrop"):
        try:
            normalize(hc.get(key))
        except InvalidParameter as e:
            raise InvalidParameter(f"invalid {key}: {e.message}") from None


def validate_config(config: dict[str, Any]) -> None:
    """dockerd's checks of the create request's Config (before the image's is merged)."""
    workdir = config.get("WorkingDir") or ""
    if workdir and not workdir.startswith("/"):
        raise InvalidParameter(f"the working directory '{workdir}' is invalid, it needs to be an absolute path")
    if config.get("StopSignal"):
        from dockyard.daemon.signals import parse_signal

        parse_signal(config["StopSignal"])
    health = config.get("Healthcheck") or {}
    for key in ("Interval", "Timeout", "StartPeriod"):
        value = health.get(key) or 0
        if value and value < _MIN_DURATION_NS:
            raise InvalidParameter(f"{key} in Healthcheck cannot be less than 1ms")
    if (health.get("Retries") or 0) < 0:
        raise InvalidParameter("Retries in Healthcheck cannot be negative")


def _cpu_list(text: str) -> set[int]:
    """`0-2,4` as {0, 1, 2, 4}; ValueError when malformed."""
    cpus: set[int] = set()
    for part in text.split(","):
        first, dash, last = part.partition("-")
        start, end = int(first), int(last) if dash else int(first)
        if start < 0 or end < start:
            raise ValueError(text)
        cpus.update(range(start, end + 1))
    return cpus


def _host_config(requested: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(requested, dict):
        raise InvalidParameter("HostConfig must be an object")
    host_config = copy.deepcopy(_DEFAULT_HOSTCONFIG)
    for key, value in requested.items():
        if value is not None or key not in host_config:
            host_config[key] = copy.deepcopy(value)
    host_config["RestartPolicy"] = validate_restart_policy(host_config.get("RestartPolicy") or {})
    if host_config["AutoRemove"] and host_config["RestartPolicy"]["Name"] not in ("no", ""):
        raise InvalidParameter("can't create 'AutoRemove' container with restart policy")
    if host_config.get("NetworkMode") in ("", None):
        host_config["NetworkMode"] = "default"
    if host_config["ShmSize"] in (0, None):
        host_config["ShmSize"] = _DEFAULT_HOSTCONFIG["ShmSize"]
    elif host_config["ShmSize"] < 0:
        raise InvalidParameter("SHM size can not be less than 0")
    validate_resources(host_config)
    return host_config


def _network_settings(networking: Any) -> dict[str, Any]:
    """Docker's NetworkSettings of a created container. Networks holds the request's
    NetworkingConfig.EndpointsConfig for now; the network service's on_create hook
    checks it and turns it into EndpointSettings keyed by network name."""
    from dockyard.network.settings import network_settings

    settings = network_settings()
    endpoints = (networking or {}).get("EndpointsConfig") if isinstance(networking, dict) else None
    if endpoints is not None and not isinstance(endpoints, dict):
        raise InvalidParameter("invalid NetworkingConfig: EndpointsConfig must be an object")
    settings["Networks"] = copy.deepcopy(endpoints or {})
    return settings

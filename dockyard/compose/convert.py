# SPDX-License-Identifier: Apache-2.0
"""A canonical service → the Engine API create body of one of its containers.

Labels are exactly Docker Compose v2's (`com.docker.compose.*`), names are
`<project>-<service>-<n>` (one-off `run` containers `<project>-<service>-run-<hex>`),
networks and volumes are referred to by their project-scoped names. Flag-like values
(ports, sizes, durations, restart policies, ulimits) go through the same parsers as
`dockyard run`'s flags (`dockyard.cli.opts`), so both spell a container the same way.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from dockyard.cli import opts as o
from dockyard.compose.errors import ComposeError
from dockyard.compose.planner import (
    HASH_LABEL,
    NUMBER_LABEL,
    ONEOFF_LABEL,
    PROJECT_LABEL,
    SERVICE_LABEL,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.compose.loader import Project

COMPOSE_VERSION = "2.29.0"  # the Compose v2 behaviour (labels, naming) we follow
VERSION_LABEL = "com.docker.compose.version"
IMAGE_LABEL = "com.docker.compose.image"
DEPENDS_LABEL = "com.docker.compose.depends_on"
WORKING_DIR_LABEL = "com.docker.compose.project.working_dir"
CONFIG_FILES_LABEL = "com.docker.compose.project.config_files"
ENV_FILE_LABEL = "com.docker.compose.project.environment_file"
NETWORK_LABEL = "com.docker.compose.network"
VOLUME_LABEL = "com.docker.compose.volume"
SECRETS_DIR = "/run/secrets"


def container_name(project: Project, service: str, number: int) -> str:
    svc = project.services.get(service) or {}
    if svc.get("container_name"):
        return svc["container_name"]
    return f"{project.name}-{service}-{number}"


def image_name(project: Project, service: str) -> str:
    """The image a service runs: its `image`, or `<project>-<service>` when only built."""
    svc = project.services[service]
    return svc.get("image") or f"{project.name}-{service}"


def service_scale(svc: dict[str, Any]) -> int:
    if "scale" in svc:
        return int(svc["scale"])
    replicas = (svc.get("deploy") or {}).get("replicas")
    return 1 if replicas is None else int(replicas)


def project_labels(project: Project) -> dict[str, str]:
    labels = {
        PROJECT_LABEL: project.name,
        WORKING_DIR_LABEL: project.working_dir,
        CONFIG_FILES_LABEL: ",".join(project.config_files),
    }
    if project.env_files:
        labels[ENV_FILE_LABEL] = ",".join(project.env_files)
    return labels


def resource_labels(project: Project, kind: str, key: str, spec: dict[str, Any]) -> dict[str, str]:
    """Labels of a network or volume the project creates."""
    label = NETWORK_LABEL if kind == "networks" else VOLUME_LABEL
    return {**(spec.get("labels") or {}), PROJECT_LABEL: project.name, label: key,
            VERSION_LABEL: COMPOSE_VERSION}


def service_environment(svc: dict[str, Any]) -> dict[str, str]:
    """env_file contents (in order) under `environment`; unset variables left out."""
    from dockyard.compose.dotenv import read_dotenv

    env: dict[str, str] = {}
    for entry in svc.get("env_file") or []:
        path = entry["path"]
        if not os.path.exists(path):
            if entry.get("required", True):
                raise ComposeError(f"env file {path} not found: stat {path}: no such file or directory")
            continue
        for k, v in read_dotenv(path, os.environ).items():
            if v is not None:
                env[k] = v
    for k, v in (svc.get("environment") or {}).items():
        if v is not None:
            env[k] = v
        else:
            env.pop(k, None)
    return env


def check_services(project: Project, names: Iterable[str] | None = None) -> None:
    """Turn each service's settings into a create request without sending it: a value
    only the conversion judges (a duration, a size) fails with ComposeError before `up`
    makes anything, and in `config`."""
    for name in names if names is not None else list(project.services):
        create_body(project, name, 1, config_hash="")


def create_body(
    project: Project,
    service: str,
    number: int,
    *,
    config_hash: str,
    image_id: str = "",
    oneoff: bool = False,
    network_containers: dict[str, str] | None = None,
    anon_volumes: dict[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """(create body, [(network name, endpoint config)] to connect after create).

    `network_containers` maps services to a container ID for `network_mode: service:x`
    and `volumes_from`; `anon_volumes` maps targets to the anonymous volumes a previous
    container of the service had (kept across recreation, as Compose does).
    """
    svc = dict(project.services[service])
    if overrides:
        svc.update(overrides)
    try:
        return _body(project, service, svc, number, config_hash, image_id, oneoff,
                     network_containers or {}, anon_volumes or {})
    except o.OptError as exc:
        raise ComposeError(f"service {service!r}: {exc}") from None


def _body(
    project: Project,
    service: str,
    svc: dict[str, Any],
    number: int,
    config_hash: str,
    image_id: str,
    oneoff: bool,
    network_containers: dict[str, str],
    anon_volumes: dict[str, str],
) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    labels = dict(svc.get("labels") or {})
    labels.update(project_labels(project))
    labels.update({
        SERVICE_LABEL: service,
        NUMBER_LABEL: str(number),
        ONEOFF_LABEL: "True" if oneoff else "False",
        HASH_LABEL: config_hash,
        DEPENDS_LABEL: ",".join(
            f"{d}:{spec.get('condition', 'service_started')}:{str(bool(spec.get('restart', False))).lower()}"
            for d, spec in (svc.get("depends_on") or {}).items()
        ),
        VERSION_LABEL: COMPOSE_VERSION,
    })
    if image_id:
        labels[IMAGE_LABEL] = image_id

    env = service_environment(svc)
    exposed: dict[str, dict[str, Any]] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for port in svc.get("ports") or []:
        key = f"{port['target']}/{port.get('protocol', 'tcp')}"
        exposed[key] = {}
        bindings.setdefault(key, []).append(
            {"HostIp": port.get("host_ip", ""), "HostPort": str(port.get("published", ""))}
        )
    for port in o.expose_ports(list(svc.get("expose") or [])):
        exposed.setdefault(port, {})

    config: dict[str, Any] = {
        "Hostname": svc.get("hostname", ""),
        "Domainname": svc.get("domainname", ""),
        "User": str(svc.get("user", "")),
        "AttachStdin": False,
        "AttachStdout": False,
        "AttachStderr": False,
        "ExposedPorts": exposed or None,
        "Tty": bool(svc.get("tty", False)),
        "OpenStdin": bool(svc.get("stdin_open", False)),
        "StdinOnce": False,
        "Env": [f"{k}={v}" for k, v in env.items()] or None,
        "Cmd": svc.get("command"),
        "Image": svc.get("image") or f"{project.name}-{service}",
        "WorkingDir": svc.get("working_dir", ""),
        "Entrypoint": svc.get("entrypoint"),
        "Labels": labels,
    }
    if svc.get("mac_address"):
        config["MacAddress"] = svc["mac_address"]
    health = _healthcheck(svc.get("healthcheck"))
    if health is not None:
        config["Healthcheck"] = health
    if svc.get("stop_signal"):
        config["StopSignal"] = svc["stop_signal"]
    if svc.get("stop_grace_period") is not None:
        config["StopTimeout"] = _duration(svc["stop_grace_period"]) // 1_000_000_000

    binds: list[str] = []
    mounts: list[dict[str, Any]] = []
    for vol in svc.get("volumes") or []:
        mount = _mount(project, vol, anon_volumes)
        if isinstance(mount, str):
            binds.append(mount)
        else:
            mounts.append(mount)
    for kind, directory in (("secrets", SECRETS_DIR), ("configs", "/")):
        for ref in svc.get(kind) or []:
            spec = getattr(project, kind)[ref["source"]]
            if "file" in spec:
                target = ref.get("target") or ref["source"]
                if not target.startswith("/"):
                    target = os.path.join(directory, target)
                mounts.append({"Type": "bind", "Source": spec["file"], "Target": target, "ReadOnly": True})

    host: dict[str, Any] = {
        "Binds": binds or None,
        "Mounts": mounts or None,
        "PortBindings": bindings or None,
        "RestartPolicy": _restart(svc),
        "LogConfig": {"Type": (svc.get("logging") or {}).get("driver", ""),
                      "Config": (svc.get("logging") or {}).get("options") or {}},
        "CapAdd": svc.get("cap_add"),
        "CapDrop": svc.get("cap_drop"),
        "Dns": svc.get("dns"),
        "DnsOptions": svc.get("dns_opt"),
        "DnsSearch": svc.get("dns_search"),
        "ExtraHosts": [f"{h}:{ip}" for h, ip in (svc.get("extra_hosts") or {}).items()] or None,
        "GroupAdd": svc.get("group_add"),
        "IpcMode": svc.get("ipc", ""),
        "PidMode": svc.get("pid", ""),
        "Privileged": bool(svc.get("privileged", False)),
        "ReadonlyRootfs": bool(svc.get("read_only", False)),
        "SecurityOpt": svc.get("security_opt"),
        "UsernsMode": svc.get("userns_mode", ""),
        "ShmSize": _size(svc["shm_size"]) if svc.get("shm_size") is not None else 0,
        "Sysctls": svc.get("sysctls") or None,
        "Tmpfs": {t.partition(":")[0]: t.partition(":")[2] for t in svc.get("tmpfs") or []} or None,
        "Devices": [
            {"PathOnHost": d["source"], "PathInContainer": d["target"], "CgroupPermissions": d.get("permissions", "rwm")}
            for d in svc.get("devices") or []
        ] or None,
        "Ulimits": [
            {"Name": n, "Soft": int(v["soft"]), "Hard": int(v["hard"])}
            for n, v in (svc.get("ulimits") or {}).items()
        ] or None,
        "VolumesFrom": _volumes_from(svc, network_containers),
        "Links": svc.get("links"),
        "OomScoreAdj": int(svc.get("oom_score_adj", 0)),
        "CgroupParent": svc.get("cgroup_parent", ""),
        "Runtime": svc.get("runtime") or None,
    }
    if "init" in svc:
        host["Init"] = bool(svc["init"])
    if svc.get("storage_opt"):
        host["StorageOpt"] = svc["storage_opt"]
    host.update(_resources(svc))
    host = {k: v for k, v in host.items() if v is not None}

    connect: list[tuple[str, dict[str, Any]]] = []
    endpoints: dict[str, Any] = {}
    mode = svc.get("network_mode")
    if mode:
        if mode.startswith("service:"):
            target = network_containers.get(mode[8:])
            if not target:
                raise ComposeError(f"service {service!r}: no container of service {mode[8:]!r} to share a network with")
            mode = f"container:{target}"
        host["NetworkMode"] = mode
    else:
        nets = sorted(
            (svc.get("networks") or {}).items(),
            key=lambda item: (-int((item[1] or {}).get("priority", 0)), item[0]),
        )
        for i, (key, spec) in enumerate(nets):
            name = project.networks[key]["name"]
            endpoint = _endpoint(service, spec or {}, oneoff, number, project)
            if i == 0:
                host["NetworkMode"] = name
                endpoints[name] = endpoint
            else:
                connect.append((name, endpoint))
    config["HostConfig"] = host
    config["NetworkingConfig"] = {"EndpointsConfig": endpoints}
    return config, connect


def _endpoint(service: str, spec: dict[str, Any], oneoff: bool, number: int, project: Project) -> dict[str, Any]:
    aliases = [] if oneoff else [service]
    aliases += [a for a in spec.get("aliases") or [] if a not in aliases]
    endpoint: dict[str, Any] = {"Aliases": aliases}
    ipam = {}
    if spec.get("ipv4_address"):
        ipam["IPv4Address"] = spec["ipv4_address"]
    if spec.get("ipv6_address"):
        ipam["IPv6Address"] = spec["ipv6_address"]
    if ipam:
        endpoint["IPAMConfig"] = ipam
    if spec.get("mac_address"):
        endpoint["MacAddress"] = spec["mac_address"]
    return endpoint


def _mount(project: Project, vol: dict[str, Any], anon: dict[str, str]) -> Any:
    kind = vol["type"]
    target = vol["target"]
    read_only = bool(vol.get("read_only"))
    if kind == "bind":
        bind = vol.get("bind") or {}
        if bind.get("create_host_path"):
            # Only the Binds form makes a missing host directory, as the short syntax promises.
            options = ["ro" if read_only else "rw"]
            if bind.get("selinux"):
                options.append(bind["selinux"])
            if bind.get("propagation"):
                options.append(bind["propagation"])
            return f"{vol['source']}:{target}:{','.join(options)}"
        mount: dict[str, Any] = {"Type": "bind", "Source": vol["source"], "Target": target, "ReadOnly": read_only}
        if bind.get("propagation"):
            mount["BindOptions"] = {"Propagation": bind["propagation"]}
        return mount
    if kind == "volume":
        source = vol.get("source")
        name = project.volumes[source]["name"] if source else anon.get(target, "")
        mount = {"Type": "volume", "Source": name, "Target": target, "ReadOnly": read_only}
        if (vol.get("volume") or {}).get("nocopy"):
            mount["VolumeOptions"] = {"NoCopy": True}
        return mount
    if kind == "tmpfs":
        mount = {"Type": "tmpfs", "Target": target, "ReadOnly": read_only}
        tmpfs = vol.get("tmpfs") or {}
        options = {}
        if tmpfs.get("size") is not None:
            options["SizeBytes"] = _size(tmpfs["size"])
        if tmpfs.get("mode") is not None:
            options["Mode"] = int(tmpfs["mode"])
        if options:
            mount["TmpfsOptions"] = options
        return mount
    return {"Type": kind, "Source": vol.get("source", ""), "Target": target, "ReadOnly": read_only}


def _volumes_from(svc: dict[str, Any], containers: dict[str, str]) -> list[str] | None:
    out = []
    for ref in svc.get("volumes_from") or []:
        name, _, mode = ref.partition(":")
        if name == "container":
            name, _, mode = mode.partition(":")
        else:
            name = containers.get(name, name)
        out.append(f"{name}:{mode}" if mode else name)
    return out or None


def _restart(svc: dict[str, Any]) -> dict[str, Any]:
    policy = (svc.get("deploy") or {}).get("restart_policy")
    if svc.get("restart"):
        return o.parse_restart_policy(svc["restart"])
    if policy:
        name = {"none": "no", "any": "always", "on-failure": "on-failure"}.get(policy.get("condition", "any"), "always")
        return {"Name": name, "MaximumRetryCount": int(policy.get("max_attempts", 0) or 0)}
    return {"Name": "no", "MaximumRetryCount": 0}


def _resources(svc: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    resources = (svc.get("deploy") or {}).get("resources") or {}
    limits = resources.get("limits") or {}
    reservations = resources.get("reservations") or {}
    memory = svc.get("mem_limit", limits.get("memory"))
    if memory is not None:
        out["Memory"] = _size(memory)
    if svc.get("memswap_limit") is not None:
        out["MemorySwap"] = -1 if str(svc["memswap_limit"]) == "-1" else _size(svc["memswap_limit"])
    reserve = svc.get("mem_reservation", reservations.get("memory"))
    if reserve is not None:
        out["MemoryReservation"] = _size(reserve)
    cpus = svc.get("cpus", limits.get("cpus"))
    if cpus is not None:
        out["NanoCpus"] = o.nano_cpus(str(cpus))
    pids = svc.get("pids_limit", limits.get("pids"))
    if pids is not None:
        out["PidsLimit"] = int(pids)
    for key, wire in (("cpu_shares", "CpuShares"), ("cpu_quota", "CpuQuota"), ("cpu_period", "CpuPeriod"),
                      ("cpuset", "CpusetCpus"), ("mem_swappiness", "MemorySwappiness")):
        if svc.get(key) is not None:
            out[wire] = svc[key]
    if svc.get("oom_kill_disable"):
        out["OomKillDisable"] = True
    return out


def _healthcheck(check: dict[str, Any] | None) -> dict[str, Any] | None:
    if check is None:
        return None
    if check.get("disable"):
        return {"Test": ["NONE"]}
    health: dict[str, Any] = {}
    if check.get("test") is not None:
        health["Test"] = check["test"]
    for key, wire in (("interval", "Interval"), ("timeout", "Timeout"),
                      ("start_period", "StartPeriod"), ("start_interval", "StartInterval")):
        if check.get(key) is not None:
            health[wire] = _duration(check[key])
    if check.get("retries") is not None:
        health["Retries"] = int(check["retries"])
    return health


def _duration(value: Any) -> int:
    if isinstance(value, int | float):
        return int(value * 1_000_000_000)
    return o.go_duration(str(value))


def _size(value: Any) -> int:
    if isinstance(value, int):
        return value
    return o.ram_in_bytes(str(value))

# SPDX-License-Identifier: Apache-2.0
"""The canonical (normalised) form of services and top-level resources.

Compose files allow several spellings of one thing: `environment` as a list or a map,
`ports: ["8080:80"]` or long syntax, `volumes: ["data:/x:ro"]`, `depends_on: [db]`,
`command: "sh -c 'x'"`. `canonical_service` turns a service into one spelling (the long
syntax, maps for key/value things, lists for commands, absolute paths), which is what
merging, hashing, `config` output and conversion to create bodies all work on. It is
idempotent: a canonical service canonicalises to itself.
"""

from __future__ import annotations

import os
import shlex

from dockyard.compose.errors import ComposeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Keys whose value is a key/value collection given as a list ("K=V") or a map.
_MAPPINGS = ("environment", "labels", "annotations", "sysctls")
# Keys given as a string or a list of strings.
_STRING_LISTS = ("dns", "dns_search", "dns_opt", "tmpfs", "env_file_paths")


def canonical_service(name: str, raw: dict[str, Any], base_dir: str) -> dict[str, Any]:
    """The canonical form of service `name`; relative paths are resolved against `base_dir`."""
    svc: dict[str, Any] = dict(raw)
    where = f"services.{name}"
    for key in _MAPPINGS:
        if key in svc:
            svc[key] = to_mapping(svc[key], f"{where}.{key}", "=" if key != "labels" else "=")
    for key in ("dns", "dns_search", "dns_opt", "tmpfs"):
        if isinstance(svc.get(key), str):
            svc[key] = [svc[key]]
    if "extra_hosts" in svc:
        svc["extra_hosts"] = _extra_hosts(svc["extra_hosts"], f"{where}.extra_hosts")
    for key in ("command", "entrypoint"):
        if isinstance(svc.get(key), str):
            svc[key] = _split(svc[key], f"{where}.{key}")
    if "build" in svc:
        svc["build"] = _build(svc["build"], base_dir)
    if "env_file" in svc:
        svc["env_file"] = _env_files(svc["env_file"], base_dir)
    if "ports" in svc:
        ports: list[dict[str, Any]] = []
        for i, port in enumerate(svc["ports"]):
            ports.extend(parse_port(port, f"{where}.ports[{i}]"))
        svc["ports"] = ports
    if "expose" in svc:
        svc["expose"] = [str(e) for e in svc["expose"]]
    if "volumes" in svc:
        svc["volumes"] = [
            parse_service_volume(v, base_dir, f"{where}.volumes[{i}]")
            for i, v in enumerate(svc["volumes"])
        ]
    if "depends_on" in svc:
        svc["depends_on"] = _depends_on(svc["depends_on"])
    if "networks" in svc:
        nets = svc["networks"]
        if isinstance(nets, list):
            svc["networks"] = {n: None for n in nets}
        else:
            svc["networks"] = {k: (dict(v) if v else None) for k, v in nets.items()}
    if "ulimits" in svc:
        svc["ulimits"] = {
            k: (v if isinstance(v, dict) else {"soft": int(v), "hard": int(v)})
            for k, v in svc["ulimits"].items()
        }
    for key in ("secrets", "configs"):
        if key in svc:
            svc[key] = [
                {"source": s} if isinstance(s, str) else dict(s) for s in svc[key]
            ]
    if "devices" in svc:
        svc["devices"] = [_device(d) for d in svc["devices"]]
    if "healthcheck" in svc:
        svc["healthcheck"] = _healthcheck(svc["healthcheck"])
    if "extends" in svc and isinstance(svc["extends"], str):
        svc["extends"] = {"service": svc["extends"]}
    for key in ("cpus",):
        if key in svc and not isinstance(svc[key], float):
            svc[key] = float(svc[key])
    return svc


def to_mapping(value: Any, where: str, sep: str = "=") -> dict[str, Any]:
    """A list of `K=V` (or `K` alone: no value) or a map, as a map of strings (or None)."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): _scalar(v) for k, v in value.items()}
    out: dict[str, Any] = {}
    for item in value:
        key, has, val = str(item).partition(sep)
        if not key:
            raise ComposeError(f"{where}: invalid entry {item!r}")
        out[key] = val if has else None
    return out


def _scalar(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _split(command: str, where: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError as exc:
        raise ComposeError(f"{where}: {exc}") from None


def _extra_hosts(value: Any, where: str) -> dict[str, str]:
    if isinstance(value, dict):
        return {k: ",".join(v) if isinstance(v, list) else str(v) for k, v in value.items()}
    out: dict[str, str] = {}
    for item in value:
        # "host:ip" and "host=ip"; IPv6 addresses contain colons, so split at the first.
        host, sep, ip = item.partition("=")
        if not sep:
            host, sep, ip = item.partition(":")
        if not sep:
            raise ComposeError(f"{where}: invalid extra host {item!r}")
        out[host] = ip.strip("[]") if ip.startswith("[") else ip
    return out


def _build(value: Any, base_dir: str) -> dict[str, Any]:
    build = {"context": value} if isinstance(value, str) else dict(value)
    context = str(build.get("context", "."))
    if "://" not in context and not context.startswith("git@"):
        context = absolute(context, base_dir)
    build["context"] = context
    if "dockerfile_inline" not in build:
        build.setdefault("dockerfile", "Dockerfile")
    for key in ("args", "labels"):
        if key in build:
            build[key] = to_mapping(build[key], f"build.{key}")
    return build


def _env_files(value: Any, base_dir: str) -> list[dict[str, Any]]:
    items = [value] if isinstance(value, str) else value
    out = []
    for item in items:
        entry = {"path": item, "required": True} if isinstance(item, str) else dict(item)
        entry["path"] = absolute(entry["path"], base_dir)
        entry.setdefault("required", True)
        out.append(entry)
    return out


def absolute(path: str, base_dir: str) -> str:
    if path.startswith("~"):
        path = os.path.expanduser(path)
    return os.path.normpath(os.path.join(base_dir, path))


def parse_port(value: Any, where: str) -> list[dict[str, Any]]:
    """Short (`[[ip:]published:]target[/proto]`, ranges) or long port syntax → long entries."""
    if isinstance(value, dict):
        entry = dict(value)
        try:
            entry["target"] = int(entry["target"])
        except (TypeError, ValueError):
            raise ComposeError(f"{where}.target: invalid container port {entry['target']!r}") from None
        if "published" in entry and entry["published"] is not None:
            entry["published"] = str(entry["published"])
        entry.setdefault("protocol", "tcp")
        entry.setdefault("mode", "ingress")
        return [_port_order(entry)]
    from dockyard.cli.opts import OptError, parse_port_spec

    text = str(value)
    try:
        specs = parse_port_spec(text)
    except OptError as exc:
        raise ComposeError(f"{where}: {exc}") from None
    out = []
    for port, binding in specs:
        target, _, proto = port.partition("/")
        entry: dict[str, Any] = {"mode": "ingress", "target": int(target)}
        if binding["HostIp"]:
            entry["host_ip"] = binding["HostIp"]
        if binding["HostPort"]:
            entry["published"] = binding["HostPort"]
        entry["protocol"] = proto
        out.append(_port_order(entry))
    return out


def _port_order(entry: dict[str, Any]) -> dict[str, Any]:
    order = ("name", "mode", "host_ip", "target", "published", "protocol", "app_protocol")
    return {k: entry[k] for k in order if k in entry} | {k: v for k, v in entry.items() if k not in order}


def parse_service_volume(value: Any, base_dir: str, where: str) -> dict[str, Any]:
    """Short (`[source:]target[:mode]`) or long volume syntax → the long form."""
    if isinstance(value, dict):
        vol = dict(value)
    else:
        vol = _short_volume(str(value), where)
    kind = vol.get("type")
    if kind == "bind" and vol.get("source"):
        vol["source"] = absolute(vol["source"], base_dir)
    if kind == "volume" and not vol.get("source"):
        vol.pop("source", None)
    if "read_only" in vol and not vol["read_only"]:
        vol.pop("read_only")
    order = ("type", "source", "target", "read_only", "bind", "volume", "tmpfs", "consistency")
    return {k: vol[k] for k in order if k in vol} | {k: v for k, v in vol.items() if k not in order}


def _short_volume(spec: str, where: str) -> dict[str, Any]:
    parts = spec.split(":")
    if len(parts) == 1:
        return {"type": "volume", "target": spec, "volume": {}}
    if len(parts) > 3:
        raise ComposeError(f"{where}: invalid volume specification {spec!r}: too many colons")
    source, target = parts[0], parts[1]
    mode = parts[2] if len(parts) == 3 else ""
    if not source or not target:
        raise ComposeError(f"{where}: invalid volume specification {spec!r}")
    options = [o for o in mode.split(",") if o]
    is_bind = source[0] in "./~"
    vol: dict[str, Any] = {"type": "bind" if is_bind else "volume", "source": source, "target": target}
    if "ro" in options:
        vol["read_only"] = True
    if is_bind:
        # The short syntax creates a missing host directory, as `-v` does.
        bind: dict[str, Any] = {"create_host_path": True}
        selinux = [o for o in options if o in ("z", "Z")]
        if selinux:
            bind["selinux"] = selinux[0]
        propagation = [o for o in options if o in ("shared", "slave", "private", "rshared", "rslave", "rprivate")]
        if propagation:
            bind["propagation"] = propagation[0]
        vol["bind"] = bind
    else:
        vol["volume"] = {"nocopy": True} if "nocopy" in options else {}
    return vol


def _depends_on(value: Any) -> dict[str, dict[str, Any]]:
    if isinstance(value, list):
        return {n: {"condition": "service_started", "required": True} for n in value}
    out = {}
    for name, spec in value.items():
        spec = dict(spec or {})
        spec.setdefault("condition", "service_started")
        spec.setdefault("required", True)
        out[name] = spec
    return out


def _device(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return dict(value)
    parts = value.split(":")
    entry = {"source": parts[0], "target": parts[1] if len(parts) > 1 else parts[0]}
    entry["permissions"] = parts[2] if len(parts) > 2 else "rwm"
    return entry


def _healthcheck(value: dict[str, Any]) -> dict[str, Any]:
    check = dict(value)
    test = check.get("test")
    if isinstance(test, str):
        check["test"] = ["CMD-SHELL", test]
    if check.get("disable"):
        check = {"disable": True}
    return check


# --- top-level resources ---------------------------------------------------------------


def canonical_resources(kind: str, raw: dict[str, Any] | None, base_dir: str) -> dict[str, Any]:
    """networks/volumes/secrets/configs: None entries become {}, labels maps, paths absolute."""
    out: dict[str, Any] = {}
    for key, spec in (raw or {}).items():
        entry = dict(spec or {})
        if "labels" in entry:
            entry["labels"] = to_mapping(entry["labels"], f"{kind}.{key}.labels")
        ext = entry.get("external")
        if isinstance(ext, dict):
            # The old `external: {name: x}` spelling.
            entry["external"] = True
            if ext.get("name"):
                entry["name"] = ext["name"]
        if kind in ("secrets", "configs") and "file" in entry:
            entry["file"] = absolute(entry["file"], base_dir)
        out[key] = entry
    return out

# SPDX-License-Identifier: Apache-2.0
"""Merging canonical compose models, for `-f a.yml -f b.yml` and for `extends`.

The compose spec's rules: mappings merge key by key (the later file wins on conflicts);
commands (`command`, `entrypoint`, `healthcheck.test`) are replaced whole; sequences are
appended, except that "unique resources" are merged by their key so an override replaces
rather than duplicates them: ports by (host_ip, target, published, protocol), volumes and
devices by target, secrets and configs by target (or source), and plain string lists
(dns, cap_add, ...) without duplicates.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_REPLACE = {"command", "entrypoint", "env_file_replace"}


def merge_service(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` merged onto `base` (both canonical); neither is modified."""
    out = dict(base)
    for key, value in override.items():
        if key not in out or key in _REPLACE or value is None or out[key] is None:
            out[key] = value
            continue
        rule = _LIST_KEYS.get(key)
        if rule is not None and isinstance(value, list):
            out[key] = _merge_list(out[key], value, rule)
        elif key == "healthcheck":
            merged = merge_mapping(out[key], value)
            if "test" in value:
                merged["test"] = value["test"]
            out[key] = merged
        elif isinstance(value, dict) and isinstance(out[key], dict):
            out[key] = merge_mapping(out[key], value)
        else:
            out[key] = value
    return out


def merge_mapping(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_mapping(out[key], value)
        else:
            out[key] = value
    return out


def merge_models(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Two canonical compose documents (services keyed by name) merged."""
    out = dict(base)
    for key, value in override.items():
        if key == "services":
            services = dict(out.get("services") or {})
            for name, svc in (value or {}).items():
                services[name] = merge_service(services[name], svc) if name in services else svc
            out["services"] = services
        elif key in ("networks", "volumes", "secrets", "configs") and isinstance(out.get(key), dict):
            merged = dict(out[key])
            for name, spec in (value or {}).items():
                merged[name] = merge_mapping(merged.get(name) or {}, spec or {})
            out[key] = merged
        else:
            out[key] = value
    return out


def _merge_list(base: list[Any], override: list[Any], key_of: Callable[[Any], Any]) -> list[Any]:
    index = {key_of(item): i for i, item in enumerate(base)}
    out = list(base)
    for item in override:
        k = key_of(item)
        if k in index:
            out[index[k]] = item
        else:
            index[k] = len(out)
            out.append(item)
    return out


def _port_key(p: dict[str, Any]) -> Any:
    return (p.get("host_ip", ""), p.get("target"), p.get("published", ""), p.get("protocol", "tcp"))


def _identity(x: Any) -> Any:
    return x if not isinstance(x, dict) else tuple(sorted((k, repr(v)) for k, v in x.items()))


_LIST_KEYS: dict[str, Callable[[Any], Any]] = {
    "ports": _port_key,
    "volumes": lambda v: v.get("target"),
    "devices": lambda d: d.get("target"),
    "secrets": lambda s: s.get("target") or s.get("source"),
    "configs": lambda s: s.get("target") or s.get("source"),
    "env_file": lambda e: e.get("path"),
    "expose": str,
    "dns": str,
    "dns_search": str,
    "dns_opt": str,
    "tmpfs": str,
    "cap_add": str,
    "cap_drop": str,
    "security_opt": str,
    "group_add": str,
    "external_links": str,
    "links": str,
    "profiles": str,
    "volumes_from": str,
    "device_cgroup_rules": str,
}

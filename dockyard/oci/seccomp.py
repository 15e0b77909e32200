# SPDX-License-Identifier: Apache-2.0
"""Docker's seccomp profile format → the OCI `linux.seccomp` section.

A Docker profile is written for every architecture and every capability set at once: an
`archMap` lists each native architecture with its compatible sub-architectures, and each
syscall rule may carry `includes`/`excludes` conditions on capabilities, architectures
(Go's names: amd64, arm64, s390x, …) and a minimum kernel version. Converting evaluates
those conditions for this host and for the container's capabilities, leaving a flat list
of rules the runtime can load. A rule applies when every `includes` condition holds and no
`excludes` condition does (for caps: all of `includes.caps` held, none of `excludes.caps`).

The default profile ships as package data, `seccomp-default.json`: a byte-for-byte copy of
moby/profiles `seccomp/default.json` at tag seccomp/v0.2.3 (commit 836ae4d3), Apache-2.0.
It is parsed once per process and converted once per distinct capability set.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterable
from importlib import resources
from typing import Any

from dockyard.errors import InvalidParameter, json_input
from dockyard.oci.host import HostInfo, parse_kernel_version


def default_seccomp(capabilities: Iterable[str], host: HostInfo) -> dict[str, Any]:
    """`linux.seccomp` from Docker's default profile for a container holding
    `capabilities`. The caller gets its own copy to modify."""
    key = tuple(sorted(set(capabilities)))
    return copy.deepcopy(_converted_default(key, host))


def convert_profile(profile: dict[str, Any], capabilities: Iterable[str], host: HostInfo) -> dict[str, Any]:
    """`linux.seccomp` from a Docker-format `profile` (the default one, or the JSON a user
    passed with `--security-opt seccomp=<file>`). Raises InvalidParameter on a malformed
    profile."""
    caps = set(capabilities)
    out: dict[str, Any] = {"defaultAction": _required(profile, "defaultAction")}
    if "defaultErrnoRet" in profile:
        out["defaultErrnoRet"] = profile["defaultErrnoRet"]
    for key in ("listenerPath", "listenerMetadata", "flags"):
        if profile.get(key):
            out[key] = profile[key]

    arch_map = profile.get("archMap") or []
    architectures = profile.get("architectures") or []
    if arch_map and architectures:
        raise InvalidParameter("'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'")
    if arch_map:
        # Only this host's family: loading filters for foreign architectures is pointless
        # and libseccomp rejects names it does not know.
        for entry in arch_map:
            if entry.get("architecture") == host.seccomp_arch:
                architectures = [host.seccomp_arch] + list(entry.get("subArchitectures") or [])
                break
    if architectures:
        out["architectures"] = list(architectures)

    syscalls = []
    for rule in profile.get("syscalls") or []:
        if not _applies(rule, caps, host):
            continue
        names = rule.get("names") or []
        if rule.get("name"):
            if names:
                raise InvalidParameter("'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'")
            names = [rule["name"]]
        if not names:
            continue
        converted: dict[str, Any] = {"names": list(names), "action": _required(rule, "action")}
        if rule.get("errnoRet") is not None:
            converted["errnoRet"] = rule["errnoRet"]
        if rule.get("args"):
            converted["args"] = [_convert_arg(a) for a in rule["args"]]
        syscalls.append(converted)
    out["syscalls"] = syscalls
    return out


def parse_profile(text: str) -> dict[str, Any]:
    """A user-supplied profile (the file's contents, as the docker CLI sends them)."""
    return json_input(text, dict, "Decoding seccomp profile failed")  # type: ignore[return-value]


def load_default_profile() -> dict[str, Any]:
    """The parsed default profile (shared; do not modify)."""
    return _default_profile()


# ── helpers ───────────────────────────────────────────────────────────────────────────

@functools.cache
def _default_profile() -> dict[str, Any]:
    data = resources.files("dockyard.oci").joinpath("seccomp-default.json").read_bytes()
    return json.loads(data)


@functools.lru_cache(maxsize=64)
def _converted_default(caps: tuple[str, ...], host: HostInfo) -> dict[str, Any]:
    return convert_profile(_default_profile(), caps, host)


def _applies(rule: dict[str, Any], caps: set[str], host: HostInfo) -> bool:
    includes = rule.get("includes") or {}
    excludes = rule.get("excludes") or {}
    if includes.get("arches") and host.go_arch not in includes["arches"]:
        return False
    if any(c not in caps for c in includes.get("caps") or ()):
        return False
    if includes.get("minKernel") and host.kernel < parse_kernel_version(includes["minKernel"]):
        return False
    if excludes.get("arches") and host.go_arch in excludes["arches"]:
        return False
    if any(c in caps for c in excludes.get("caps") or ()):
        return False
    if excludes.get("minKernel") and host.kernel >= parse_kernel_version(excludes["minKernel"]):
        return False
    return True


def _convert_arg(arg: dict[str, Any]) -> dict[str, Any]:
    out = {"index": arg["index"], "value": arg["value"], "op": arg["op"]}
    if arg.get("valueTwo"):
        out["valueTwo"] = arg["valueTwo"]
    return out


def _required(obj: dict[str, Any], key: str) -> Any:
    if not obj.get(key):
        raise InvalidParameter(f"seccomp profile: missing {key!r}")
    return obj[key]

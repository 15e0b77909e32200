# SPDX-License-Identifier: Apache-2.0
"""Generated specs validate against the OCI runtime-spec schema (v1.3.0 copy)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dockyard.oci import HostInfo, build_spec

jsonschema = pytest.importorskip("jsonschema")
referencing = pytest.importorskip("referencing")
from referencing.jsonschema import DRAFT4  # noqa: E402

SCHEMA_DIR = Path("/work/shared/specs/oci-runtime")
HOST = HostInfo(seccomp_arch="SCMP_ARCH_X86_64", go_arch="amd64", kernel=(6, 1, 0),
                nofile_hard=1 << 20, cap_last=40, cgroup2=False, swap_accounting=True)

pytestmark = pytest.mark.skipif(not SCHEMA_DIR.exists(), reason="shared specs not present")


def _load(name: str) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / name).read_text())


@pytest.fixture(scope="module")
def validator() -> Any:
    # The schemas' `id` URLs do not line up with their relative `$ref`s: resolve every
    # reference by file name inside the folder, as upstream's loader does.
    def retrieve(uri: str) -> Any:
        name = uri.split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        return referencing.Resource.from_contents(_load(name), default_specification=DRAFT4)

    registry = referencing.Registry(retrieve=retrieve)
    schema = _load("config-schema.json")
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft4Validator)
    return cls(schema, registry=registry)


def record(**host_config: Any) -> dict[str, Any]:
    return {"Id": "ab" * 32, "Path": "/bin/sh", "Args": ["-c", "true"],
            "Config": {"Env": ["PATH=/bin"], "Hostname": "abab", "Tty": True, "User": "1000:1000"},
            "HostConfig": host_config}


VARIANTS = {
    "defaults": {},
    "privileged": {"Privileged": True},
    "limits": {"Memory": 1 << 28, "MemorySwap": -1, "NanoCpus": 2 * 10**9, "CpuShares": 100,
               "PidsLimit": 50, "OomKillDisable": True, "CpusetCpus": "0",
               "Ulimits": [{"Name": "core", "Soft": -1, "Hard": -1}], "ConsoleSize": [24, 80]},
    "security": {"CapAdd": ["ALL"], "CapDrop": ["MKNOD"], "SecurityOpt": ["no-new-privileges"],
                 "ReadonlyRootfs": True, "Tmpfs": {"/run": "size=1m"}, "Sysctls": {"kernel.msgmax": "1"},
                 "DeviceCgroupRules": ["c 10:* rwm"]},
    "host namespaces": {"NetworkMode": "host", "IpcMode": "host", "PidMode": "host"},
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_spec_validates(validator: Any, tmp_path: Path, name: str) -> None:
    spec = build_spec(record(**VARIANTS[name]), rootfs=str(tmp_path), hostname_path="/h",
                      hosts_path="/hosts", resolv_path="/r", netns_path="/run/netns/x", host=HOST)
    errors = sorted(validator.iter_errors(spec), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_schema_rejects_a_broken_spec(validator: Any, tmp_path: Path) -> None:
    # The validator really checks nested definitions from the other files.
    spec = build_spec(record(), rootfs=str(tmp_path), host=HOST)
    spec["linux"]["seccomp"]["syscalls"][0]["action"] = "SCMP_ACT_BOGUS"
    spec["process"]["rlimits"][0]["type"] = "nofile"
    messages = [e.message for e in validator.iter_errors(spec)]
    assert any("SCMP_ACT_BOGUS" in m for m in messages)
    assert any("RLIMIT_" in m for m in messages)

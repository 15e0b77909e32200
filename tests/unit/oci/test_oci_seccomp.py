# SPDX-License-Identifier: Apache-2.0
"""Docker seccomp profiles → OCI linux.seccomp, evaluated for host and capabilities."""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from dockyard.errors import InvalidParameter
from dockyard.oci import HostInfo, build_spec
from dockyard.oci.caps import DEFAULT_CAPABILITIES
from dockyard.oci.seccomp import convert_profile, default_seccomp, load_default_profile

AMD64 = HostInfo(seccomp_arch="SCMP_ARCH_X86_64", go_arch="amd64", kernel=(6, 1, 0),
                 nofile_hard=1 << 20, cap_last=40, cgroup2=False, swap_accounting=True)
ARM64_OLD = HostInfo(seccomp_arch="SCMP_ARCH_AARCH64", go_arch="arm64", kernel=(4, 4, 0),
                     nofile_hard=1 << 20, cap_last=40, cgroup2=False, swap_accounting=True)
SHARED_PROFILE = Path("/work/shared/specs/seccomp-default.json")


def rules_for(seccomp: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [r for r in seccomp["syscalls"] if name in r["names"]]


def allowed_unconditionally(seccomp: dict[str, Any], name: str) -> bool:
    return any(r["action"] == "SCMP_ACT_ALLOW" and not r.get("args") for r in rules_for(seccomp, name))


def test_packaged_profile_is_the_upstream_file() -> None:
    packaged = resources.files("dockyard.oci").joinpath("seccomp-default.json").read_bytes()
    if SHARED_PROFILE.exists():
        assert packaged == SHARED_PROFILE.read_bytes()
    # moby/profiles seccomp/default.json at tag seccomp/v0.2.3.
    assert len(packaged) == 13470
    assert hashlib.sha256(packaged).hexdigest() == \
        "536529b665dd0972c37bfb569f5d4ac8a53592e7b00752bc39ff063ca9864c74"


def test_default_profile_for_default_caps_on_amd64() -> None:
    seccomp = default_seccomp(DEFAULT_CAPABILITIES, AMD64)
    assert seccomp["defaultAction"] == "SCMP_ACT_ERRNO"
    assert seccomp["defaultErrnoRet"] == 1
    assert seccomp["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    assert allowed_unconditionally(seccomp, "read")
    assert allowed_unconditionally(seccomp, "arch_prctl")  # includes arches amd64
    assert not rules_for(seccomp, "s390_pci_mmio_read")  # includes arches s390
    assert allowed_unconditionally(seccomp, "ptrace")  # includes minKernel 4.8
    # Without CAP_SYS_ADMIN: clone only with namespace flags masked out, clone3 → ENOSYS.
    assert not allowed_unconditionally(seccomp, "clone")
    clone = rules_for(seccomp, "clone")
    assert len(clone) == 1 and clone[0]["args"] == [
        {"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}]
    assert rules_for(seccomp, "clone3") == [{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
    assert not rules_for(seccomp, "mount") and not rules_for(seccomp, "reboot")
    assert allowed_unconditionally(seccomp, "chroot")  # CAP_SYS_CHROOT is a default
    # No rule keeps Docker-only keys.
    for rule in seccomp["syscalls"]:
        assert set(rule) <= {"names", "action", "errnoRet", "args"}


def test_capabilities_change_the_profile() -> None:
    seccomp = default_seccomp([*DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN", "CAP_SYS_PTRACE"], AMD64)
    assert allowed_unconditionally(seccomp, "clone") and allowed_unconditionally(seccomp, "clone3")
    assert allowed_unconditionally(seccomp, "mount") and allowed_unconditionally(seccomp, "setns")
    assert not any(r.get("args") for r in rules_for(seccomp, "clone"))  # excluded by the cap
    assert not any(r["action"] == "SCMP_ACT_ERRNO" for r in rules_for(seccomp, "clone3"))
    assert allowed_unconditionally(seccomp, "kcmp")
    without_chroot = default_seccomp([c for c in DEFAULT_CAPABILITIES if c != "CAP_SYS_CHROOT"], AMD64)
    assert not rules_for(without_chroot, "chroot")


def test_arch_and_kernel_conditions_on_another_host() -> None:
    seccomp = default_seccomp(DEFAULT_CAPABILITIES, ARM64_OLD)
    assert seccomp["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    assert not rules_for(seccomp, "arch_prctl")
    assert allowed_unconditionally(seccomp, "arm_fadvise64_64")
    assert not rules_for(seccomp, "ptrace")  # kernel 4.4 < minKernel 4.8


def test_results_are_independent_copies() -> None:
    first = default_seccomp(DEFAULT_CAPABILITIES, AMD64)
    first["syscalls"].clear()
    second = default_seccomp(DEFAULT_CAPABILITIES, AMD64)
    assert second["syscalls"]
    assert load_default_profile() is load_default_profile()  # parsed once


def test_custom_profile_conditions() -> None:
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [
            {"name": "chmod", "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
            {"names": ["a"], "action": "SCMP_ACT_LOG", "includes": {"caps": ["CAP_A", "CAP_B"]}},
            {"names": ["b"], "action": "SCMP_ACT_LOG", "excludes": {"caps": ["CAP_A"]}},
            {"names": ["c"], "action": "SCMP_ACT_LOG", "excludes": {"arches": ["amd64"]}},
            {"names": ["d"], "action": "SCMP_ACT_LOG", "excludes": {"minKernel": "5.10"}},
            {"names": ["e"], "action": "SCMP_ACT_LOG", "includes": {"minKernel": "6.2"}},
            {"names": ["f"], "action": "SCMP_ACT_KILL",
             "args": [{"index": 1, "value": 5, "valueTwo": 0, "op": "SCMP_CMP_EQ"},
                      {"index": 2, "value": 255, "valueTwo": 7, "op": "SCMP_CMP_MASKED_EQ"}]},
        ],
    }
    out = convert_profile(profile, ["CAP_A"], AMD64)
    assert out["architectures"] == ["SCMP_ARCH_X86_64"]
    names = [r["names"][0] for r in out["syscalls"]]
    assert names == ["chmod", "f"]  # a: lacks CAP_B; b: has CAP_A; c: amd64; d: 6.1 >= 5.10; e: 6.1 < 6.2
    assert out["syscalls"][0] == {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}
    assert out["syscalls"][1]["args"] == [{"index": 1, "value": 5, "op": "SCMP_CMP_EQ"},
                                          {"index": 2, "value": 255, "op": "SCMP_CMP_MASKED_EQ", "valueTwo": 7}]
    names = [r["names"][0] for r in convert_profile(profile, ["CAP_A", "CAP_B"], ARM64_OLD)["syscalls"]]
    assert names == ["chmod", "a", "c", "d", "f"]


def test_malformed_profiles() -> None:
    with pytest.raises(InvalidParameter):
        convert_profile({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"name": "x", "names": ["y"], "action": "SCMP_ACT_ALLOW"}]}, [], AMD64)
    with pytest.raises(InvalidParameter):
        convert_profile({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"],
                         "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}, [], AMD64)
    with pytest.raises(InvalidParameter):
        convert_profile({"syscalls": []}, [], AMD64)


def test_security_opt_profile_through_build_spec(tmp_path: Path) -> None:
    profile = json.dumps({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}}]})
    record = {"Id": "x" * 64, "Path": "true", "Args": [], "Config": {},
              "HostConfig": {"SecurityOpt": [f"seccomp={profile}"]}}
    spec = build_spec(record, rootfs=str(tmp_path), host=AMD64)
    assert spec["linux"]["seccomp"] == {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}]}
    record["HostConfig"]["CapAdd"] = ["SYS_ADMIN"]
    spec = build_spec(record, rootfs=str(tmp_path), host=AMD64)
    assert [r["names"] for r in spec["linux"]["seccomp"]["syscalls"]] == [["read", "write"], ["mount"]]
    record["HostConfig"]["SecurityOpt"] = ["seccomp={not json"]
    with pytest.raises(InvalidParameter, match="Decoding seccomp profile failed"):
        build_spec(record, rootfs=str(tmp_path), host=AMD64)

# SPDX-License-Identifier: Apache-2.0
"""Runtime spec generation: Docker's defaults and what each HostConfig knob changes."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest

from dockyard.errors import InvalidParameter
from dockyard.oci import HostInfo, apply, build_spec, with_network_namespace
from dockyard.oci.caps import DEFAULT_CAPABILITIES
from dockyard.oci.spec import find_init_binary, merge_env

HOST = HostInfo(seccomp_arch="SCMP_ARCH_X86_64", go_arch="amd64", kernel=(6, 1, 0),
                nofile_hard=1 << 30, cap_last=40, cgroup2=False, swap_accounting=True)


def ctr(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "Id": "c0ffee" * 10 + "abcd",
        "Path": "/bin/sh",
        "Args": ["-c", "echo hi"],
        "Config": {"Env": ["PATH=/usr/bin:/bin", "FOO=bar"], "Hostname": "c0ffeec0ffee",
                   "Tty": False, "User": "", "WorkingDir": ""},
        "HostConfig": {},
    }
    for key, value in overrides.items():
        if key in ("Config", "HostConfig"):
            record[key].update(value)
        else:
            record[key] = value
    return record


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\n"
        "# a comment\n"
        "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
        "app:x:1000:1000:App:/home/app:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
    (root / "etc" / "group").write_text(
        "root:x:0:\n"
        "wheel:x:10:root,app\n"
        "staff:x:50:app\n"
        "app:x:1000:\n"
        "video:x:44:\n"
        "nogroup:x:65534:\n")
    return root


def spec_for(record: dict[str, Any], rootfs: Path, **kwargs: Any) -> dict[str, Any]:
    return build_spec(record, rootfs=str(rootfs), host=kwargs.pop("host", HOST), **kwargs)


def mount(spec: dict[str, Any], destination: str) -> dict[str, Any]:
    matches = [m for m in spec["mounts"] if m["destination"] == destination]
    assert len(matches) == 1, destination
    return matches[0]


# ── defaults ──────────────────────────────────────────────────────────────────────────

def test_defaults_match_docker(rootfs: Path) -> None:
    record = ctr()
    spec = spec_for(record, rootfs)
    process = spec["process"]
    assert process["args"] == ["/bin/sh", "-c", "echo hi"]
    assert process["env"] == ["PATH=/usr/bin:/bin", "HOSTNAME=c0ffeec0ffee", "FOO=bar"]
    assert process["cwd"] == "/"
    assert process["terminal"] is False
    assert process["user"] == {"uid": 0, "gid": 0, "additionalGids": [0, 10]}
    assert "noNewPrivileges" not in process
    caps = process["capabilities"]
    assert caps["bounding"] == list(DEFAULT_CAPABILITIES) == caps["effective"] == caps["permitted"]
    assert "inheritable" not in caps
    assert process["rlimits"] == [{"type": "RLIMIT_NOFILE", "soft": 1048576, "hard": 1048576}]
    assert spec["root"] == {"path": str(rootfs), "readonly": False}
    assert spec["hostname"] == "c0ffeec0ffee"

    assert [(m["destination"], m["type"]) for m in spec["mounts"]] == [
        ("/proc", "proc"), ("/dev", "tmpfs"), ("/dev/pts", "devpts"), ("/sys", "sysfs"),
        ("/sys/fs/cgroup", "cgroup"), ("/dev/mqueue", "mqueue"), ("/dev/shm", "tmpfs"),
    ]
    assert mount(spec, "/dev")["options"] == ["nosuid", "strictatime", "mode=755", "size=65536k"]
    assert mount(spec, "/dev/pts")["options"] == [
        "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]
    assert "ro" in mount(spec, "/sys")["options"]
    assert "ro" in mount(spec, "/sys/fs/cgroup")["options"]
    assert "size=67108864" in mount(spec, "/dev/shm")["options"]

    linux = spec["linux"]
    assert [ns["type"] for ns in linux["namespaces"]] == ["pid", "ipc", "uts", "mount", "network"]
    assert all("path" not in ns for ns in linux["namespaces"])
    assert linux["cgroupsPath"] == f"/dockyard/{record['Id']}"
    assert "/proc/kcore" in linux["maskedPaths"] and "/sys/firmware" in linux["maskedPaths"]
    assert len(linux["maskedPaths"]) == 11
    assert linux["readonlyPaths"] == ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
    assert linux["seccomp"]["defaultAction"] == "SCMP_ACT_ERRNO"
    assert "sysctl" not in linux

    rules = linux["resources"]["devices"]
    assert rules[0] == {"allow": False, "access": "rwm"}
    allowed = {(r.get("type"), r.get("major"), r.get("minor")) for r in rules if r["allow"]}
    for major_minor in ((1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 2)):
        assert ("c", *major_minor) in allowed
    assert ("c", 136, None) in allowed  # /dev/pts/*
    assert {d["path"] for d in linux["devices"]} == {
        "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"}
    assert set(linux["resources"]) == {"devices"}  # no limits unless asked


def test_tty_env_and_console(rootfs: Path) -> None:
    spec = spec_for(ctr(Config={"Tty": True, "Domainname": "example.com", "WorkingDir": "/srv/app"},
                        HostConfig={"ConsoleSize": [40, 120]}), rootfs)
    process = spec["process"]
    assert process["terminal"] is True
    assert "TERM=xterm" in process["env"]
    assert "HOSTNAME=c0ffeec0ffee.example.com" in process["env"]
    assert process["consoleSize"] == {"height": 40, "width": 120}
    assert process["cwd"] == "/srv/app"
    assert spec["domainname"] == "example.com"


def test_env_merging() -> None:
    assert merge_env(["PATH=/a", "HOSTNAME=h"], ["PATH=/b", "X=1", "HOSTNAME"]) == ["PATH=/b", "X=1"]
    assert merge_env(["TERM=xterm"], ["TERM=vt100", "A=b=c"]) == ["TERM=vt100", "A=b=c"]


def test_missing_command_is_rejected(rootfs: Path) -> None:
    with pytest.raises(InvalidParameter):
        spec_for(ctr(Path="", Args=[]), rootfs)


# ── capabilities ──────────────────────────────────────────────────────────────────────

def caps_of(rootfs: Path, **host_config: Any) -> list[str]:
    return spec_for(ctr(HostConfig=host_config), rootfs)["process"]["capabilities"]["bounding"]


def test_cap_add_and_drop(rootfs: Path) -> None:
    caps = caps_of(rootfs, CapAdd=["NET_ADMIN", "cap_sys_time"], CapDrop=["chown", "CAP_KILL"])
    assert "CAP_NET_ADMIN" in caps and "CAP_SYS_TIME" in caps
    assert "CAP_CHOWN" not in caps and "CAP_KILL" not in caps
    assert len(caps) == len(DEFAULT_CAPABILITIES) - 2 + 2


def test_cap_all(rootfs: Path) -> None:
    everything = caps_of(rootfs, CapAdd=["ALL"])
    assert len(everything) == 41 and everything[-1] == "CAP_CHECKPOINT_RESTORE"
    assert caps_of(rootfs, CapAdd=["all"], CapDrop=["SYS_ADMIN"]) == [c for c in everything if c != "CAP_SYS_ADMIN"]
    assert caps_of(rootfs, CapDrop=["ALL"], CapAdd=["NET_BIND_SERVICE"]) == ["CAP_NET_BIND_SERVICE"]
    assert caps_of(rootfs, CapDrop=["ALL"]) == []
    # An older kernel has fewer capabilities.
    old = HostInfo(**{**HOST.__dict__, "cap_last": 37})
    caps = spec_for(ctr(HostConfig={"CapAdd": ["ALL"]}), rootfs, host=old)["process"]["capabilities"]["bounding"]
    assert len(caps) == 38 and "CAP_BPF" not in caps


def test_unknown_capability(rootfs: Path) -> None:
    with pytest.raises(InvalidParameter, match='unknown capability: "CAP_BOGUS"'):
        caps_of(rootfs, CapAdd=["bogus"])


def test_privileged(rootfs: Path) -> None:
    spec = spec_for(ctr(HostConfig={"Privileged": True, "CapDrop": ["ALL"]}), rootfs)
    assert len(spec["process"]["capabilities"]["bounding"]) == 41
    linux = spec["linux"]
    assert "seccomp" not in linux
    assert linux["maskedPaths"] == [] and linux["readonlyPaths"] == []
    assert linux["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    host_nodes = {d["path"] for d in linux["devices"]}
    if os.path.exists("/dev/null"):
        assert "/dev/null" in host_nodes
    assert not any(p.startswith("/dev/pts/") for p in host_nodes)
    assert "ro" not in mount(spec, "/sys")["options"]
    assert "ro" not in mount(spec, "/sys/fs/cgroup")["options"]


# ── users ─────────────────────────────────────────────────────────────────────────────

def user_of(rootfs: Path, user: str, group_add: list[str] | None = None) -> dict[str, Any]:
    record = ctr(Config={"User": user}, HostConfig={"GroupAdd": group_add} if group_add else {})
    return spec_for(record, rootfs)["process"]["user"]


def test_user_resolution(rootfs: Path) -> None:
    assert user_of(rootfs, "app") == {"uid": 1000, "gid": 1000, "additionalGids": [1000, 10, 50]}
    assert user_of(rootfs, "1000") == {"uid": 1000, "gid": 1000, "additionalGids": [1000, 10, 50]}
    assert user_of(rootfs, "app:staff") == {"uid": 1000, "gid": 50, "additionalGids": [50]}
    assert user_of(rootfs, "app:44") == {"uid": 1000, "gid": 44, "additionalGids": [44]}
    assert user_of(rootfs, "4242") == {"uid": 4242, "gid": 0, "additionalGids": [0]}  # numeric, not in passwd
    assert user_of(rootfs, "4242:4343") == {"uid": 4242, "gid": 4343, "additionalGids": [4343]}
    assert user_of(rootfs, "nobody") == {"uid": 65534, "gid": 65534, "additionalGids": [65534]}
    assert user_of(rootfs, "daemon", ["video", "4000"]) == {"uid": 1, "gid": 1, "additionalGids": [1, 44, 4000]}


def test_unknown_user_and_group(rootfs: Path) -> None:
    with pytest.raises(InvalidParameter) as info:
        user_of(rootfs, "x")
    assert info.value.message == "unable to find user x: no matching entries in passwd file"
    with pytest.raises(InvalidParameter, match="unable to find group nosuch: no matching entries in group file"):
        user_of(rootfs, "app:nosuch")
    with pytest.raises(InvalidParameter, match="unable to find group ghosts"):
        user_of(rootfs, "app", ["ghosts"])


def test_user_files_cannot_escape_the_rootfs(rootfs: Path, tmp_path: Path) -> None:
    # An image whose /etc/passwd points at an absolute path must be read inside the
    # rootfs, never at the host's own file.
    (tmp_path / "outside").write_text("evil:x:0:0::/:/bin/sh\n")
    (rootfs / "etc" / "passwd").unlink()
    (rootfs / "etc" / "passwd").symlink_to("../../../../../../outside")
    with pytest.raises(InvalidParameter, match="unable to find user evil"):
        user_of(rootfs, "evil")
    (rootfs / "etc" / "real").mkdir()
    (rootfs / "etc" / "real" / "passwd").write_text("inside:x:7:7::/:/bin/sh\n")
    (rootfs / "etc" / "passwd").unlink()
    (rootfs / "etc" / "passwd").symlink_to("/etc/real/passwd")
    assert user_of(rootfs, "inside")["uid"] == 7


def test_no_passwd_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert spec_for(ctr(), empty)["process"]["user"] == {"uid": 0, "gid": 0, "additionalGids": [0]}
    assert spec_for(ctr(Config={"User": "33:33"}), empty)["process"]["user"] == {"uid": 33, "gid": 33, "additionalGids": [33]}


# ── security options ──────────────────────────────────────────────────────────────────

def test_security_options(rootfs: Path) -> None:
    spec = spec_for(ctr(HostConfig={"SecurityOpt": ["no-new-privileges", "seccomp=unconfined",
                                                    "systempaths=unconfined"]}), rootfs)
    assert spec["process"]["noNewPrivileges"] is True
    assert "seccomp" not in spec["linux"]
    assert spec["linux"]["maskedPaths"] == []
    spec = spec_for(ctr(HostConfig={"SecurityOpt": ["no-new-privileges:false"]}), rootfs)
    assert "noNewPrivileges" not in spec["process"]
    with pytest.raises(InvalidParameter):
        spec_for(ctr(HostConfig={"SecurityOpt": ["bogus"]}), rootfs)


# ── mounts and namespaces ─────────────────────────────────────────────────────────────

def test_network_files_tmpfs_and_extra_mounts(rootfs: Path) -> None:
    spec = spec_for(
        ctr(HostConfig={"Tmpfs": {"/run": "exec,size=1m", "/dev/shm": "size=1g"}, "ShmSize": 1 << 20}),
        rootfs, hostname_path="/x/hostname", hosts_path="/x/hosts", resolv_path="/x/resolv.conf",
        mounts=[{"destination": "/data/sub", "type": "bind", "source": "/srv/a", "options": ["rbind"]},
                {"destination": "/data", "type": "bind", "source": "/srv", "options": ["rbind"]}])
    hosts = mount(spec, "/etc/hosts")
    assert hosts == {"destination": "/etc/hosts", "type": "bind", "source": "/x/hosts",
                     "options": ["rbind", "rprivate"]}
    assert mount(spec, "/etc/hostname")["source"] == "/x/hostname"
    assert mount(spec, "/etc/resolv.conf")["source"] == "/x/resolv.conf"
    run = mount(spec, "/run")
    assert run["type"] == "tmpfs"
    assert "exec" in run["options"] and "noexec" not in run["options"]
    assert "nosuid" in run["options"] and "size=1m" in run["options"]
    # The user's /dev/shm replaces Docker's.
    assert "size=1g" in mount(spec, "/dev/shm")["options"]
    dests = [m["destination"] for m in spec["mounts"]]
    assert dests.index("/data") < dests.index("/data/sub")


def test_readonly_rootfs(rootfs: Path) -> None:
    spec = spec_for(ctr(HostConfig={"ReadonlyRootfs": True}), rootfs, hosts_path="/x/hosts")
    assert spec["root"]["readonly"] is True
    assert "ro" in mount(spec, "/etc/hosts")["options"]


def test_network_namespace_hook_and_host_modes(rootfs: Path) -> None:
    spec = spec_for(ctr(), rootfs, netns_path="/run/dockyard/netns/abc")
    network = [ns for ns in spec["linux"]["namespaces"] if ns["type"] == "network"]
    assert network == [{"type": "network", "path": "/run/dockyard/netns/abc"}]
    apply(spec, with_network_namespace("/run/other"))
    assert [ns.get("path") for ns in spec["linux"]["namespaces"] if ns["type"] == "network"] == ["/run/other"]

    spec = spec_for(ctr(HostConfig={"NetworkMode": "host", "PidMode": "host", "IpcMode": "host"}), rootfs)
    assert [ns["type"] for ns in spec["linux"]["namespaces"]] == ["mount"]
    assert spec["hostname"] == ""
    assert mount(spec, "/dev/shm")["type"] == "bind"

    spec = spec_for(ctr(HostConfig={"IpcMode": "none"}), rootfs)
    assert "/dev/shm" not in [m["destination"] for m in spec["mounts"]]


def test_cgroup_namespace_only_on_v2(rootfs: Path) -> None:
    v2 = HostInfo(**{**HOST.__dict__, "cgroup2": True})
    assert "cgroup" in [ns["type"] for ns in spec_for(ctr(), rootfs, host=v2)["linux"]["namespaces"]]
    assert "cgroup" not in [ns["type"] for ns in spec_for(ctr(), rootfs)["linux"]["namespaces"]]
    private_on_v1 = spec_for(ctr(HostConfig={"CgroupnsMode": "private"}), rootfs)
    assert "cgroup" not in [ns["type"] for ns in private_on_v1["linux"]["namespaces"]]


@pytest.mark.skipif(find_init_binary() is None, reason="no docker-init or tini-static")
def test_init(rootfs: Path) -> None:
    spec = spec_for(ctr(HostConfig={"Init": True}), rootfs)
    assert spec["process"]["args"] == ["/sbin/docker-init", "--", "/bin/sh", "-c", "echo hi"]
    init = mount(spec, "/sbin/docker-init")
    assert init["type"] == "bind" and "ro" in init["options"]


# ── resources, rlimits, sysctls, devices ──────────────────────────────────────────────

def test_resources(rootfs: Path) -> None:
    spec = spec_for(ctr(HostConfig={
        "Memory": 64 << 20, "MemoryReservation": 32 << 20, "OomKillDisable": True,
        "MemorySwappiness": 10, "CpuShares": 512, "NanoCpus": 1_500_000_000,
        "CpusetCpus": "0-1", "CpusetMems": "0", "PidsLimit": 100, "BlkioWeight": 300,
    }), rootfs)
    resources = spec["linux"]["resources"]
    assert resources["memory"] == {"limit": 64 << 20, "reservation": 32 << 20, "swap": 128 << 20,
                                   "swappiness": 10, "disableOOMKiller": True}
    assert resources["cpu"] == {"shares": 512, "period": 100000, "quota": 150000,
                                "cpus": "0-1", "mems": "0"}
    assert resources["pids"] == {"limit": 100}
    assert resources["blockIO"] == {"weight": 300}

    spec = spec_for(ctr(HostConfig={"Memory": 1 << 30, "MemorySwap": -1, "CpuQuota": 50000,
                                    "CpuPeriod": 200000, "PidsLimit": -1}), rootfs)
    resources = spec["linux"]["resources"]
    assert resources["memory"] == {"limit": 1 << 30, "swap": -1}
    assert resources["cpu"] == {"quota": 50000, "period": 200000}
    assert resources["pids"] == {"limit": -1}

    no_swap = HostInfo(**{**HOST.__dict__, "swap_accounting": False})
    spec = spec_for(ctr(HostConfig={"Memory": 1 << 30}), rootfs, host=no_swap)
    assert spec["linux"]["resources"]["memory"] == {"limit": 1 << 30}


def test_rlimits(rootfs: Path) -> None:
    low = HostInfo(**{**HOST.__dict__, "nofile_hard": 4096})
    assert spec_for(ctr(), rootfs, host=low)["process"]["rlimits"] == [
        {"type": "RLIMIT_NOFILE", "soft": 4096, "hard": 4096}]
    spec = spec_for(ctr(HostConfig={"Ulimits": [{"Name": "nofile", "Soft": 100, "Hard": 200},
                                                {"Name": "core", "Soft": -1, "Hard": -1}]}), rootfs)
    assert spec["process"]["rlimits"] == [
        {"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200},
        {"type": "RLIMIT_CORE", "soft": 2**64 - 1, "hard": 2**64 - 1}]
    with pytest.raises(InvalidParameter):
        spec_for(ctr(HostConfig={"Ulimits": [{"Name": "bogus", "Soft": 1, "Hard": 1}]}), rootfs)
    with pytest.raises(InvalidParameter):
        spec_for(ctr(HostConfig={"Ulimits": [{"Name": "nproc", "Soft": 2, "Hard": 1}]}), rootfs)


def test_rlimit_defaults_to_the_real_host_limit(rootfs: Path) -> None:
    import resource
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    expected = 1048576 if hard == resource.RLIM_INFINITY else min(1048576, hard)
    spec = build_spec(ctr(), rootfs=str(rootfs))
    assert spec["process"]["rlimits"][0] == {"type": "RLIMIT_NOFILE", "soft": expected, "hard": expected}


def test_sysctls_devices_and_cgroup_parent(rootfs: Path) -> None:
    spec = spec_for(ctr(HostConfig={
        "Sysctls": {"net.ipv4.ip_forward": "1"},
        "Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/mynull", "CgroupPermissions": "rw"}],
        "DeviceCgroupRules": ["c 42:* rmw"],
        "CgroupParent": "/custom",
    }), rootfs)
    linux = spec["linux"]
    assert linux["sysctl"] == {"net.ipv4.ip_forward": "1"}
    mynull = [d for d in linux["devices"] if d["path"] == "/dev/mynull"]
    assert mynull and mynull[0]["major"] == 1 and mynull[0]["minor"] == 3 and mynull[0]["type"] == "c"
    assert {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"} in linux["resources"]["devices"]
    assert {"allow": True, "type": "c", "major": 42, "access": "rmw"} in linux["resources"]["devices"]
    assert linux["cgroupsPath"].startswith("/custom/")
    with pytest.raises(InvalidParameter):
        spec_for(ctr(HostConfig={"DeviceCgroupRules": ["x 1:2 r"]}), rootfs)
    with pytest.raises(InvalidParameter):
        spec_for(ctr(HostConfig={"Devices": [{"PathOnHost": "/dev/nonexistent-dev"}]}), rootfs)


def test_build_does_not_modify_the_record(rootfs: Path) -> None:
    record = ctr(HostConfig={"Tmpfs": {"/run": ""}, "CapAdd": ["NET_ADMIN"]})
    before = copy.deepcopy(record)
    spec_for(record, rootfs)
    assert record == before


def test_all_means_what_the_daemon_holds(rootfs: Path) -> None:
    without_sys_resource = HostInfo(**{**HOST.__dict__, "cap_bounding": ((1 << 41) - 1) & ~(1 << 24)})
    caps = spec_for(ctr(HostConfig={"Privileged": True}), rootfs,
                    host=without_sys_resource)["process"]["capabilities"]["bounding"]
    assert len(caps) == 40 and "CAP_SYS_RESOURCE" not in caps
    # Named explicitly it stays, so that the runtime says it cannot be granted.
    caps = spec_for(ctr(HostConfig={"CapAdd": ["SYS_RESOURCE"]}), rootfs,
                    host=without_sys_resource)["process"]["capabilities"]["bounding"]
    assert "CAP_SYS_RESOURCE" in caps


def test_exec_process(rootfs: Path) -> None:
    from dockyard.oci import build_exec_process

    record = ctr(Config={"Env": ["PATH=/usr/bin:/bin", "FOO=bar"], "User": "app", "WorkingDir": "/srv"},
                 HostConfig={"Ulimits": [{"Name": "nproc", "Soft": 10, "Hard": 20}],
                             "SecurityOpt": ["no-new-privileges"]})
    base = spec_for(record, rootfs)["process"]
    process = build_exec_process(base, record, {"Cmd": ["ls", "-l"], "Env": ["FOO=baz", "NEW=1"],
                                                "Tty": True, "ConsoleSize": [10, 20]},
                                 rootfs=str(rootfs), host=HOST)
    assert process["args"] == ["ls", "-l"]
    assert process["terminal"] is True and process["consoleSize"] == {"height": 10, "width": 20}
    assert process["env"] == ["PATH=/usr/bin:/bin", "HOSTNAME=c0ffeec0ffee", "TERM=xterm", "FOO=baz", "NEW=1"]
    # Inherited from the container's process.
    assert process["cwd"] == "/srv"
    assert process["user"] == base["user"] == {"uid": 1000, "gid": 1000, "additionalGids": [1000, 10, 50]}
    assert process["rlimits"] == base["rlimits"] and process["noNewPrivileges"] is True
    assert process["capabilities"] == base["capabilities"]

    process = build_exec_process(base, record, {"Cmd": ["id"], "User": "nobody:44", "WorkingDir": "/tmp",
                                                "Privileged": True}, rootfs=str(rootfs), host=HOST)
    assert process["user"] == {"uid": 65534, "gid": 44, "additionalGids": [44]}
    assert process["cwd"] == "/tmp" and process["terminal"] is False
    assert "TERM=xterm" not in process["env"]
    assert len(process["capabilities"]["effective"]) == 41
    assert base["args"] == ["/bin/sh", "-c", "echo hi"]  # the base is left alone
    with pytest.raises(InvalidParameter):
        build_exec_process(base, record, {"Cmd": []}, rootfs=str(rootfs), host=HOST)

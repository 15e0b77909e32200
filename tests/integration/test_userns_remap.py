# SPDX-License-Identifier: Apache-2.0
"""`dockyardd --userns-remap default`: container root is an unprivileged host user (the
start of dockremap's /etc/subuid range), layers, rw layers and volumes are owned by the
shifted IDs, and files leaving a container show the container's IDs again.

The daemon makes the `dockremap` user and its subuid/subgid ranges when missing, as
dockerd does; the module fixture takes away what it made, so the machine is left as found.
"""

from __future__ import annotations

import io
import json
import os
import pwd
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.support.daemon import restart_daemon, running_daemon

pytestmark = pytest.mark.requires_root

SUBID_FILES = (Path("/etc/subuid"), Path("/etc/subgid"))


@pytest.fixture(scope="module")
def remapped():
    """(daemon, host uid of the containers' root, host gid of it)."""
    had_user = _exists("passwd", "dockremap")
    had_group = _exists("group", "dockremap")
    before = {path: path.read_text() if path.exists() else None for path in SUBID_FILES}
    try:
        with running_daemon(["--userns-remap", "default"]) as daemon:
            root_dir = Path(json.loads(daemon.cli("info", "--format", "{{json .}}").stdout)["DockerRootDir"])
            uid, gid = (int(part) for part in root_dir.name.split("."))
            yield daemon, uid, gid
    finally:
        for path, text in before.items():
            if text is None:
                path.unlink(missing_ok=True)
            elif path.read_text() != text:
                # Only the lines the daemon added go: others may have been added meanwhile.
                added = set(path.read_text().splitlines()) - set(text.splitlines())
                kept = [line for line in path.read_text().splitlines()
                        if line not in added or not line.startswith("dockremap:")]
                path.write_text("".join(line + "\n" for line in kept))
        if not had_user and _exists("passwd", "dockremap"):
            subprocess.run(["userdel", "dockremap"], capture_output=True)
        if not had_group and _exists("group", "dockremap"):
            subprocess.run(["groupdel", "dockremap"], capture_output=True)


def _exists(database: str, name: str) -> bool:
    return subprocess.run(["getent", database, name], capture_output=True).returncode == 0


def _owner(path: Path | str) -> tuple[int, int]:
    st = os.lstat(path)
    return st.st_uid, st.st_gid


def _inspect(daemon, ref: str) -> dict:
    return json.loads(daemon.cli("inspect", ref).stdout)[0]


def _tar_owners(data: bytes) -> dict[str, tuple[int, int]]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return {m.name: (m.uid, m.gid) for m in tf}


def test_the_range_comes_from_subuid_and_the_store_moves(remapped):
    daemon, uid, gid = remapped
    user = pwd.getpwnam("dockremap")
    assert user.pw_shell == "/bin/false"
    subuid = [line.split(":") for line in Path("/etc/subuid").read_text().splitlines()]
    assert ["dockremap", str(uid), "65536"] in subuid and uid >= 100000
    subgid = [line.split(":") for line in Path("/etc/subgid").read_text().splitlines()]
    assert ["dockremap", str(gid), "65536"] in subgid
    info = json.loads(daemon.cli("info", "--format", "{{json .}}").stdout)
    assert info["DockerRootDir"] == str(daemon.data_root / f"{uid}.{gid}")
    assert "name=userns" in info["SecurityOptions"]
    assert _owner(daemon.data_root / f"{uid}.{gid}") == (0, gid)
    assert (daemon.data_root / f"{uid}.{gid}" / "dockyard.db").exists()
    assert not (daemon.data_root / "dockyard.db").exists()


def test_container_root_is_the_range_base_on_the_host(remapped):
    daemon, uid, gid = remapped
    cid = daemon.cli("run", "-d", "busybox", "sleep", "300").stdout.decode().strip()
    try:
        assert daemon.cli("exec", cid, "id", "-u").stdout.decode().strip() == "0"
        assert daemon.cli("exec", cid, "cat", "/proc/self/uid_map").stdout.decode().split() == \
            ["0", str(uid), "65536"]
        pid = _inspect(daemon, cid)["State"]["Pid"]
        status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
        assert status["Uid"].split() == [str(uid)] * 4
        assert status["Gid"].split() == [str(gid)] * 4
        # Its own network namespace is its user namespace's: sysfs shows its interfaces.
        nets = daemon.cli("exec", cid, "ls", "/sys/class/net").stdout.decode().split()
        assert sorted(nets) == ["eth0", "lo"]
        # `top` finds the processes though ps shows only the daemon's user's by default.
        top = daemon.cli("top", cid, "-o", "pid,user,comm").stdout.decode().splitlines()
        assert top[1].split() == [str(pid), str(uid), "sleep"]
    finally:
        daemon.cli("rm", "-f", cid)


def test_image_layers_rw_layer_and_volume_belong_to_the_range(remapped):
    daemon, uid, gid = remapped
    layer = Path(json.loads(daemon.cli("image", "inspect", "busybox").stdout)[0]["GraphDriver"]["Data"]["UpperDir"])
    assert _owner(layer) == (uid, gid)
    assert _owner(layer / "bin" / "busybox") == (uid, gid)
    daemon.cli("run", "--name", "owner-check", "-v", "remapvol:/data", "busybox", "sh", "-c",
               "echo x > /made && mkdir /dir && echo y > /data/f && chown 1000:1000 /data/f")
    try:
        upper = daemon.data_root / f"{uid}.{gid}" / "containers" / _inspect(daemon, "owner-check")["Id"] / "diff"
        assert _owner(upper) == (uid, gid)
        assert _owner(upper / "made") == (uid, gid)
        assert _owner(upper / "dir") == (uid, gid)
        data = Path(json.loads(daemon.cli("volume", "inspect", "remapvol").stdout)[0]["Mountpoint"])
        assert _owner(data) == (uid, gid)
        assert _owner(data / "f") == (uid + 1000, gid + 1000)
        assert "A /made" in daemon.cli("diff", "owner-check").stdout.decode()
    finally:
        daemon.cli("rm", "-v", "owner-check")
        daemon.cli("volume", "rm", "remapvol")


def test_copy_up_keeps_the_image_owners(remapped):
    daemon, uid, gid = remapped
    out = daemon.cli("run", "--rm", "-v", "etcvol:/etc", "busybox", "stat", "-c", "%u:%g", "/etc/passwd")
    try:
        assert out.stdout.decode().strip() == "0:0"
        data = Path(json.loads(daemon.cli("volume", "inspect", "etcvol").stdout)[0]["Mountpoint"])
        assert _owner(data / "passwd") == (uid, gid)
    finally:
        daemon.cli("volume", "rm", "etcvol")


def test_files_leaving_and_entering_show_container_ids(remapped, tmp_path):
    daemon, uid, gid = remapped
    daemon.cli("run", "--name", "crossing", "busybox", "sh", "-c",
               "echo x > /made && mkdir -p /home/app && echo z > /home/app/z && chown 1234:1234 /home/app/z")
    try:
        assert _tar_owners(daemon.cli("cp", "crossing:/made", "-").stdout) == {"made": (0, 0)}
        assert _tar_owners(daemon.cli("cp", "crossing:/home/app/z", "-").stdout)["z"][0] == 1234
        exported = _tar_owners(daemon.cli("export", "crossing").stdout)
        assert exported["made"] == (0, 0) and exported["bin/busybox"] == (0, 0)
        # Into the container: the archive's IDs (here 0 and 4321) are the container's.
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tf:
            for name, owner in (("in-root", 0), ("in-user", 4321)):
                info = tarfile.TarInfo(name)
                info.uid = info.gid = owner
                info.size = 3
                tf.addfile(info, io.BytesIO(b"ok\n"))
        daemon.cli("cp", "-", "crossing:/", input=archive.getvalue())
        upper = daemon.data_root / f"{uid}.{gid}" / "containers" / _inspect(daemon, "crossing")["Id"] / "diff"
        assert _owner(upper / "in-root") == (uid, gid)
        assert _owner(upper / "in-user") == (uid + 4321, gid + 4321)
        image = daemon.cli("commit", "crossing", "remapped-commit").stdout.decode().strip()
        assert image.startswith("sha256:")
        out = daemon.cli("run", "--rm", "remapped-commit", "sh", "-c",
                         "cat /made /in-root; stat -c %u /in-user /home/app/z").stdout.decode().split()
        assert out == ["x", "ok", "4321", "1234"]
        saved = tmp_path / "saved.tar"
        daemon.cli("save", "-o", str(saved), "remapped-commit")
        with tarfile.open(saved) as outer:
            manifest = json.load(outer.extractfile("manifest.json"))
            top = outer.extractfile(manifest[0]["Layers"][-1]).read()
        owners = _tar_owners(top)
        assert owners["made"] == (0, 0) and owners["in-user"] == (4321, 4321)
    finally:
        daemon.cli("rm", "-f", "crossing", check=False)
        daemon.cli("rmi", "remapped-commit", check=False)


def test_shared_network_namespace_and_embedded_dns(remapped):
    daemon, _, _ = remapped
    daemon.cli("network", "create", "remapnet")
    try:
        daemon.cli("run", "-d", "--name", "dns-target", "--network", "remapnet", "busybox", "sleep", "300")
        found = daemon.cli("run", "--rm", "--network", "remapnet", "busybox", "nslookup", "dns-target")
        address = _inspect(daemon, "dns-target")["NetworkSettings"]["Networks"]["remapnet"]["IPAddress"]
        assert address and address in found.stdout.decode()
        # Joining its network namespace means joining the user namespace that owns it.
        joined = daemon.cli("run", "--rm", "--network", "container:dns-target", "busybox", "sh", "-c",
                            "ls /sys/class/net; ip -o -4 addr show eth0").stdout.decode()
        assert joined.split()[:2] == ["eth0", "lo"] and address in joined
    finally:
        daemon.cli("rm", "-f", "dns-target", check=False)
        daemon.cli("network", "rm", "remapnet", check=False)


def test_bind_mounts_keep_host_owners_and_new_sources_belong_to_the_range(remapped):
    daemon, uid, gid = remapped
    import shutil
    import tempfile

    top = Path(tempfile.mkdtemp(prefix="dockyard-remap-bind-", dir="/var/tmp"))
    try:
        os.chmod(top, 0o755)
        (top / "hostfile").write_text("host\n")
        # As with dockerd: a bind mount is not remapped; the host's root is nobody inside.
        out = daemon.cli("run", "--rm", "-v", f"{top}:/b", "busybox", "sh", "-c",
                         "cat /b/hostfile; stat -c %u /b/hostfile; touch /b/new", check=False)
        assert out.stdout.decode().split() == ["host", "65534"] and b"Permission denied" in out.stderr
        # A missing source is made for the container's root (dockerd's MkdirAllAndChownNew).
        daemon.cli("run", "--rm", "-v", f"{top}/made/here:/m", "busybox", "touch", "/m/f")
        assert _owner(top / "made") == (uid, gid) and _owner(top / "made" / "here") == (uid, gid)
        assert _owner(top / "made" / "here" / "f") == (uid, gid)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_what_stays_refused(remapped):
    daemon, _, _ = remapped
    mount = daemon.cli("run", "--rm", "busybox", "mount", "-t", "tmpfs", "none", "/mnt", check=False)
    assert mount.returncode != 0
    caps = daemon.cli("run", "--rm", "busybox", "grep", "CapEff", "/proc/self/status").stdout.decode().split()[1]
    assert not int(caps, 16) & (1 << 21)  # no CAP_SYS_ADMIN
    for flags, message in ((["--privileged"], b"privileged mode is incompatible with user namespaces"),
                           (["--network", "host"], b"cannot share the host's network namespace"),
                           (["--pid", "host"], b"cannot share the host PID namespace")):
        refused = daemon.cli("run", "--rm", *flags, "busybox", "true", check=False)
        assert refused.returncode == 125 and message in refused.stderr


def test_userns_host_opts_out(remapped):
    daemon, uid, _ = remapped
    out = daemon.cli("run", "--rm", "--userns", "host", "busybox", "cat", "/proc/self/uid_map")
    assert out.stdout.decode().split() == ["0", "0", "4294967295"]
    privileged = daemon.cli("run", "--rm", "--userns", "host", "--privileged", "busybox", "true")
    assert privileged.returncode == 0


def test_running_containers_survive_a_daemon_restart(remapped):
    daemon, uid, _ = remapped
    daemon.cli("run", "-d", "--name", "survivor", "busybox", "sleep", "300")
    try:
        restart_daemon(daemon, extra_flags=["--userns-remap", "default"])
        state = _inspect(daemon, "survivor")["State"]
        assert state["Running"]
        assert Path(f"/proc/{state['Pid']}/status").read_text().count(f"\t{uid}\t") >= 1
        assert daemon.cli("exec", "survivor", "id", "-u").stdout.decode().strip() == "0"
        daemon.cli("restart", "-t", "1", "survivor")
        assert daemon.cli("exec", "survivor", "ls", "/sys/class/net").stdout.decode().split() == ["eth0", "lo"]
    finally:
        daemon.cli("rm", "-f", "survivor", check=False)

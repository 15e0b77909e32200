# SPDX-License-Identifier: Apache-2.0
"""Volumes, binds and tmpfs mounts in real containers: every mount syntax, copy-up from
the image, read-only mounts, anonymous volume lifetimes, the seed scenarios, and bad
input refused without leftovers. `--mount` and `--volumes-from` are driven with the
official docker CLI (and the API), whose create bodies are the reference."""

from __future__ import annotations

import json
import os
import stat
import subprocess

import pytest

from tests.integration.volumes.conftest import inspect
from tests.support.daemon import BIN

pytestmark = pytest.mark.requires_root

HEX64 = set("0123456789abcdef")


def _volume_path(daemon, name: str) -> str:
    return inspect(daemon, "volume", name)["Mountpoint"]


# ── seed scenarios ────────────────────────────────────────────────────────────────────

def test_database_data_on_a_named_volume_survives_container_removal(daemon, unique):
    vol = f"{unique}-db-data"
    db = ("mkdir -p /var/lib/mysql && cd /var/lib/mysql && "
          "n=$(cat counter 2>/dev/null || echo 0); n=$((n+1)); echo $n > counter; "
          "echo row-$n >> table.ibd; cat table.ibd")
    assert daemon.cli("run", "--name", f"{unique}-db1", "-v", f"{vol}:/var/lib/mysql", "busybox", "sh", "-c", db).stdout == b"row-1\n"
    daemon.cli("rm", "-v", f"{unique}-db1")  # -v never takes a named volume
    out = daemon.cli("run", "--rm", "-v", f"{vol}:/var/lib/mysql", "busybox", "sh", "-c", db).stdout
    assert out == b"row-1\nrow-2\n"
    daemon.cli("volume", "rm", vol)


def test_relative_bind_mount_reflects_live_edits_both_ways(daemon, tmp_path):
    html = tmp_path / "html"
    html.mkdir()
    (html / "index.html").write_text("<h1>v1</h1>\n")
    script = ("while [ ! -e /usr/share/nginx/html/go ]; do sleep 0.05; done; "
              "cat /usr/share/nginx/html/index.html; echo from-container > /usr/share/nginx/html/out.txt")
    # `./html` is resolved by the client against its working directory, as Docker's is.
    run = subprocess.run([str(BIN / "dockyard"), "-H", daemon.host, "run", "-d", "-v", "./html:/usr/share/nginx/html",
                          "busybox", "sh", "-c", script], cwd=tmp_path, capture_output=True, check=True)
    cid = run.stdout.decode().strip()
    (html / "index.html").write_text("<h1>v2, edited live</h1>\n")
    (html / "go").touch()
    assert daemon.cli("wait", cid).stdout.strip() == b"0"
    assert daemon.cli("logs", cid).stdout == b"<h1>v2, edited live</h1>\n"
    assert (html / "out.txt").read_text() == "from-container\n"
    mount = inspect(daemon, "container", cid)["Mounts"][0]
    assert mount["Type"] == "bind" and mount["Source"] == str(html) and mount["RW"] is True
    daemon.cli("rm", cid)
    ro = daemon.cli("run", "--rm", "-v", f"{html}:/usr/share/nginx/html:ro", "busybox", "sh", "-c",
                    "cat /usr/share/nginx/html/index.html; echo x > /usr/share/nginx/html/index.html", check=False)
    assert ro.returncode == 1 and b"Read-only file system" in ro.stderr
    assert (html / "index.html").read_text() == "<h1>v2, edited live</h1>\n"


def test_two_containers_share_one_volume(daemon, unique):
    vol = f"{unique}-shared-data"
    daemon.cli("run", "--rm", "--name", f"{unique}-app1", "-v", f"{vol}:/data", "busybox", "sh", "-c", "echo Hello > /data/message")
    assert daemon.cli("run", "--rm", "--name", f"{unique}-app2", "-v", f"{vol}:/data", "busybox", "cat", "/data/message").stdout == b"Hello\n"
    # And at the same time: a running reader sees a running writer's file.
    reader = daemon.cli("run", "-d", "-v", f"{vol}:/data", "busybox", "sh", "-c",
                        "while [ ! -e /data/live ]; do sleep 0.05; done; cat /data/live").stdout.decode().strip()
    daemon.cli("run", "--rm", "-v", f"{vol}:/data", "busybox", "sh", "-c", "echo live > /data/live.tmp && mv /data/live.tmp /data/live")
    assert daemon.cli("wait", reader).stdout.strip() == b"0"
    assert daemon.cli("logs", reader).stdout == b"live\n"
    daemon.cli("rm", reader)
    daemon.cli("volume", "rm", vol)


def test_read_only_mounts_refuse_writes(daemon, unique, tmp_path):
    vol = f"{unique}-ro"
    daemon.cli("volume", "create", vol)
    for flags in (["-v", f"{vol}:/d:ro"], ["-v", f"{tmp_path}:/d:ro"]):
        result = daemon.cli("run", "--rm", *flags, "busybox", "sh", "-c", "touch /d/x", check=False)
        assert result.returncode == 1 and b"Read-only file system" in result.stderr
    result = daemon.docker("run", "--rm", "--mount", f"type=volume,source={vol},target=/d,readonly",
                           "busybox", "sh", "-c", "grep ' /d ' /proc/mounts; touch /d/x", check=False)
    assert result.returncode == 1 and b" ro," in result.stdout and b"Read-only file system" in result.stderr
    assert os.listdir(_volume_path(daemon, vol)) == [] and os.listdir(tmp_path) == []
    daemon.cli("volume", "rm", vol)


# ── copy-up and anonymous volumes ─────────────────────────────────────────────────────

def test_image_volume_is_anonymous_and_copied_up_with_owners_modes_xattrs(daemon, volume_image):
    cid = daemon.cli("create", volume_image, "true").stdout.decode().strip()
    [mount] = inspect(daemon, "container", cid)["Mounts"]
    assert set(mount["Name"]) <= HEX64 and len(mount["Name"]) == 64
    assert (mount["Type"], mount["Destination"], mount["Driver"], mount["Mode"], mount["RW"]) == (
        "volume", "/data", "local", "", True)
    volume = inspect(daemon, "volume", mount["Name"])
    assert volume["Labels"] == {"com.docker.volume.anonymous": ""}
    data = mount["Source"]
    assert data == volume["Mountpoint"]
    root = os.lstat(data)
    assert (root.st_uid, root.st_gid, stat.S_IMODE(root.st_mode)) == (1000, 1000, 0o750)
    seed = os.lstat(os.path.join(data, "seed.txt"))
    assert (seed.st_uid, seed.st_gid, stat.S_IMODE(seed.st_mode)) == (1000, 1001, 0o640)
    assert seed.st_mtime == 1_600_000_000
    assert os.getxattr(os.path.join(data, "seed.txt"), "user.origin") == b"image"
    assert os.lstat(os.path.join(data, "seed-link")).st_ino == seed.st_ino
    assert os.path.isdir(os.path.join(data, "sub"))
    daemon.cli("rm", "-v", cid)
    assert daemon.api("GET", f"/volumes/{mount['Name']}")[0] == 404  # rm -v took it


def test_copy_up_only_into_empty_volumes_and_never_with_nocopy(daemon, unique, volume_image):
    filled = f"{unique}-filled"
    out = daemon.cli("run", "--rm", "-v", f"{filled}:/etc", volume_image, "cat", "/etc/app.conf").stdout
    assert out == b"from-image\n"
    # (The /etc/hosts, hostname and resolv.conf mount points land in it too, as with Docker.)
    assert "app.conf" in os.listdir(_volume_path(daemon, filled))
    # Not empty any more: a second container sees the volume, not the image.
    daemon.cli("run", "--rm", "-v", f"{filled}:/etc", volume_image, "sh", "-c", "echo mine > /etc/app.conf")
    assert daemon.cli("run", "--rm", "-v", f"{filled}:/etc", volume_image, "cat", "/etc/app.conf").stdout == b"mine\n"
    # nocopy, in both syntaxes: the volume stays empty.
    assert daemon.cli("run", "--rm", "-v", f"{unique}-nc1:/data:nocopy", volume_image, "ls", "-A", "/data").stdout == b""
    assert daemon.docker("run", "--rm", "--mount", f"type=volume,src={unique}-nc2,dst=/data,volume-nocopy",
                         volume_image, "ls", "-A", "/data").stdout == b""
    # Binds are never filled from the image.
    assert daemon.cli("run", "--rm", "-v", f"{unique}-anon-check:/data", volume_image, "cat", "/data/seed.txt").stdout == b"seeded by the image\n"
    for name in (filled, f"{unique}-nc1", f"{unique}-nc2", f"{unique}-anon-check"):
        daemon.cli("volume", "rm", name)


def test_anonymous_volumes_go_with_rm_v_and_run_rm_named_never(daemon, unique, volume_image):
    before = set(daemon.cli("volume", "ls", "-q").stdout.decode().split())
    daemon.cli("run", "--rm", "-v", "/scratch", "-v", f"{unique}-kept:/kept", volume_image, "true")
    after = set(daemon.cli("volume", "ls", "-q").stdout.decode().split())
    assert after - before == {f"{unique}-kept"}
    cid = daemon.cli("create", "-v", "/scratch", volume_image, "true").stdout.decode().strip()
    anonymous = {m["Name"] for m in inspect(daemon, "container", cid)["Mounts"]}
    assert len(anonymous) == 2  # /scratch and the image's /data
    daemon.cli("rm", cid)  # without -v they stay
    assert anonymous <= set(daemon.cli("volume", "ls", "-q").stdout.decode().split())
    for name in anonymous:
        daemon.cli("volume", "rm", name)
    daemon.cli("volume", "rm", f"{unique}-kept")


# ── every syntax ──────────────────────────────────────────────────────────────────────

def test_bind_sources_missing_are_created_by_v_and_refused_by_mount(daemon, tmp_path):
    made = tmp_path / "made" / "by" / "v"
    daemon.cli("run", "--rm", "-v", f"{made}:/x", "busybox", "touch", "/x/file")
    assert (made / "file").exists()
    missing = tmp_path / "absent"
    result = daemon.docker("run", "--rm", "--mount", f"type=bind,source={missing},target=/x", "busybox", "true", check=False)
    assert result.returncode == 125
    assert f'invalid mount config for type "bind": bind source path does not exist: {missing}' in result.stderr.decode()
    assert not missing.exists()


def test_mount_flag_volume_bind_tmpfs(daemon, unique, tmp_path):
    (tmp_path / "hostfile").write_text("host\n")
    (tmp_path / "sub").mkdir()
    vol = f"{unique}-m"
    daemon.cli("run", "--rm", "-v", f"{vol}:/v", "busybox", "sh", "-c", "mkdir -p /v/inner && echo deep > /v/inner/f")
    script = ("cat /b/hostfile /sv/f; grep -E ' /(t|b) ' /proc/mounts | cut -d' ' -f2-4; "
              "stat -c '%a' /t; touch /sv/new")
    out = daemon.docker(
        "run", "--rm",
        "--mount", f"type=bind,source={tmp_path},target=/b,bind-propagation=rslave",
        "--mount", f"type=volume,source={vol},target=/sv,volume-subpath=inner",
        "--mount", "type=tmpfs,target=/t,tmpfs-size=1048576,tmpfs-mode=1770",
        "busybox", "sh", "-c", script).stdout.decode().splitlines()
    assert out[:2] == ["host", "deep"]
    assert "/t tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k,mode=1770" in out
    assert any(line.startswith("/b ") for line in out)
    assert out[-1] == "1770"
    assert os.path.exists(os.path.join(_volume_path(daemon, vol), "inner", "new"))
    bad = daemon.docker("run", "--rm", "--mount", f"type=volume,source={vol},target=/sv,volume-subpath=nothere",
                        "busybox", "true", check=False)
    assert bad.returncode != 0 and b"nothere" in bad.stderr
    daemon.cli("volume", "rm", vol)


def test_mounts_in_inspect_look_like_dockers(daemon, unique, tmp_path):
    cid = daemon.docker(
        "create", "-v", f"{unique}-n1:/data", "-v", f"{tmp_path}:/h:ro", "-v", "/anon",
        "--tmpfs", "/t:size=1m",
        "--mount", "type=tmpfs,target=/mt,tmpfs-size=1000000",
        "--mount", f"type=volume,source={unique}-n2,target=/n2,readonly,volume-nocopy",
        "--mount", f"type=bind,source={tmp_path},target=/mb,bind-propagation=rslave",
        "busybox", "true").stdout.decode().strip()
    mounts = {m["Destination"]: m for m in inspect(daemon, "container", cid)["Mounts"]}
    assert set(mounts) == {"/data", "/h", "/anon", "/mt", "/n2", "/mb"}  # --tmpfs is not listed
    root = str(daemon.data_root / "volumes")
    assert mounts["/data"] == {"Type": "volume", "Name": f"{unique}-n1", "Source": f"{root}/{unique}-n1/_data",
                               "Destination": "/data", "Driver": "local", "Mode": "z", "RW": True, "Propagation": ""}
    assert mounts["/h"] == {"Type": "bind", "Source": str(tmp_path), "Destination": "/h", "Mode": "ro",
                            "RW": False, "Propagation": "rprivate"}
    assert mounts["/anon"]["Mode"] == "" and len(mounts["/anon"]["Name"]) == 64
    assert mounts["/mt"] == {"Type": "tmpfs", "Source": "", "Destination": "/mt", "Mode": "", "RW": True, "Propagation": ""}
    assert mounts["/n2"]["RW"] is False and mounts["/n2"]["Mode"] == "z"
    assert mounts["/mb"]["Propagation"] == "rslave" and mounts["/mb"]["Mode"] == ""
    ps = json.loads(daemon.cli("ps", "-a", "--filter", f"id={cid}", "--format", "json").stdout)
    assert f"{unique}-n1" in ps["Mounts"]
    daemon.cli("rm", "-v", cid)
    assert daemon.api("GET", f"/volumes/{mounts['/anon']['Name']}")[0] == 404
    for name in (f"{unique}-n1", f"{unique}-n2"):
        daemon.cli("volume", "rm", name)


def test_volumes_from(daemon, unique, tmp_path):
    (tmp_path / "f").write_text("bound\n")
    src = daemon.cli("create", "--name", f"{unique}-src", "-v", f"{unique}-vf:/a", "-v", f"{tmp_path}:/hb",
                     "-v", "/anon", "busybox", "true").stdout.decode().strip()
    daemon.cli("run", "--rm", "-v", f"{unique}-vf:/a", "busybox", "sh", "-c", "echo shared > /a/f")
    result = daemon.docker("run", "--rm", "--volumes-from", f"{unique}-src:ro", "busybox", "sh", "-c",
                           "cat /a/f /hb/f; touch /a/x", check=False)
    assert result.stdout == b"shared\nbound\n" and b"Read-only file system" in result.stderr
    dst = daemon.docker("create", "--volumes-from", f"{unique}-src", "busybox", "true").stdout.decode().strip()
    src_mounts = {m["Destination"]: m for m in inspect(daemon, "container", src)["Mounts"]}
    dst_mounts = {m["Destination"]: m for m in inspect(daemon, "container", dst)["Mounts"]}
    assert set(dst_mounts) == {"/a", "/hb", "/anon"}
    assert dst_mounts["/anon"]["Name"] == src_mounts["/anon"]["Name"]
    assert all(m["Mode"] == "" and m["RW"] for m in dst_mounts.values())
    in_use = daemon.cli("volume", "rm", f"{unique}-vf", check=False).stderr.decode()
    assert f"volume is in use - [{src} {dst}]" in in_use
    daemon.cli("rm", "-v", src)  # the anonymous volume is still used by dst
    assert daemon.api("GET", f"/volumes/{src_mounts['/anon']['Name']}")[0] == 200
    daemon.cli("rm", "-v", dst)
    assert daemon.api("GET", f"/volumes/{src_mounts['/anon']['Name']}")[0] == 404
    daemon.cli("volume", "rm", f"{unique}-vf")


def test_local_driver_options_tmpfs_and_bind(daemon, unique, tmp_path):
    fast = f"{unique}-tmpfs"
    daemon.cli("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=2m", fast)
    out = daemon.cli("run", "--rm", "-v", f"{fast}:/x", "busybox", "sh", "-c",
                     "grep ' /x ' /proc/mounts | cut -d' ' -f3; echo hi > /x/f; cat /x/f").stdout
    assert out == b"tmpfs\nhi\n"
    mountpoint = _volume_path(daemon, fast)
    assert not _mounted(mountpoint)  # unmounted when its last container ended
    (tmp_path / "already").write_text("there\n")
    bound = f"{unique}-bind"
    daemon.cli("volume", "create", "-o", "type=none", "-o", "o=bind", "-o", f"device={tmp_path}", bound)
    assert daemon.cli("run", "--rm", "-v", f"{bound}:/x", "busybox", "cat", "/x/already").stdout == b"there\n"
    daemon.cli("volume", "rm", bound)
    assert (tmp_path / "already").read_text() == "there\n"  # rm never deletes the device's files
    broken = f"{unique}-broken"
    daemon.cli("volume", "create", "-o", "type=none", "-o", "o=bind", "-o", f"device={tmp_path}/absent", broken)
    result = daemon.cli("run", "--rm", "-v", f"{broken}:/x", "busybox", "true", check=False)
    assert result.returncode != 0 and b"failed to mount local volume" in result.stderr
    for name in (fast, broken):
        daemon.cli("volume", "rm", name)


@pytest.mark.parametrize("body, message", [
    ({"HostConfig": {"Binds": ["/tmp:/"]}}, "destination can't be '/'"),
    ({"HostConfig": {"Binds": ["vol-x:relative"]}}, "mount path must be absolute"),
    ({"HostConfig": {"Binds": ["vol-x:/x:bogus"]}}, "invalid mode: bogus"),
    ({"HostConfig": {"Binds": ["./rel:/x"]}}, "includes invalid characters for a local volume name"),
    ({"HostConfig": {"Binds": ["vol-x:/x", "vol-y:/x"]}}, "Duplicate mount point: /x"),
    ({"HostConfig": {"Binds": ["vol-x:/x"], "VolumeDriver": "nope"}}, 'plugin "nope" not found'),
    ({"HostConfig": {"Mounts": [{"Type": "bind", "Source": "/nonexistent-src", "Target": "/x"}]}}, "bind source path does not exist: /nonexistent-src"),
    ({"HostConfig": {"Mounts": [{"Type": "volume", "Source": "vol-x", "Target": "/x"}, {"Type": "bogus", "Target": "/y"}]}}, "mount type unknown"),
    ({"HostConfig": {"VolumesFrom": ["no-such-container"]}}, "No such container: no-such-container"),
    ({"Volumes": {"relative": {}}}, "mount path must be absolute"),
])
def test_bad_mounts_are_refused_without_leftovers(daemon, body, message):
    volumes_before = set(os.listdir(daemon.data_root / "volumes"))
    containers_before = daemon.api("GET", "/containers/json?all=1")[1]
    status, answer = daemon.api("POST", "/containers/create", {"Image": "busybox", "Cmd": ["true"], **body})
    assert status in (400, 404) and message in answer["message"]
    assert set(os.listdir(daemon.data_root / "volumes")) == volumes_before
    assert daemon.api("GET", "/containers/json?all=1")[1] == containers_before


def test_docker_cli_bind_onto_root_is_refused(daemon, tmp_path):
    result = daemon.docker("run", "--rm", "-v", f"{tmp_path}:/", "busybox", "true", check=False)
    assert result.returncode == 125
    assert 'invalid mount config for type "bind": invalid specification: destination can\'t be \'/\'' in result.stderr.decode()


def _mounted(path: str) -> bool:
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == path for line in f)



def test_dockyard_cli_mount_volumes_from_and_tmpfs_flags(daemon, unique):
    vol = f"{unique}-cli"
    out = daemon.cli("run", "--rm", "--mount", f"type=volume,source={vol},target=/v", "--tmpfs", "/t:size=512k",
                     "busybox", "sh", "-c", "echo via-mount > /v/f; df -k /t | tail -1").stdout.decode()
    assert out.split()[1] == "512"
    src = daemon.cli("create", "--name", f"{unique}-src", "-v", f"{vol}:/v", "busybox", "true").stdout.decode().strip()
    result = daemon.cli("run", "--rm", "--volumes-from", f"{unique}-src:ro", "busybox", "sh", "-c",
                        "cat /v/f; touch /v/g", check=False)
    assert result.stdout == b"via-mount\n" and b"Read-only file system" in result.stderr
    daemon.cli("rm", src)
    daemon.cli("volume", "rm", vol)

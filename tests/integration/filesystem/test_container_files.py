# SPDX-License-Identifier: Apache-2.0
"""Issue 3's filesystem verbs with real containers, through the official docker CLI and the
raw API: cp in and out of running and stopped containers, `-a` ownership, symlink escapes
(planted before and raced during the copy), export, diff, commit and running the result."""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import socket
import subprocess
import tarfile
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.requires_root

# A container whose root is full of traps pointing at the host's root.
TRAPS = ("mkdir -p /data/sub && echo hello > /data/f && echo x > /data/sub/g && "
         "ln -s /etc /data/etclink && ln -s / /etc/evil && ln -s ../../../../ /tmp/up")


def _raw(daemon, method: str, path: str, body: bytes | None = None,
         headers: dict | None = None) -> tuple[int, dict, bytes]:
    class Conn(http.client.HTTPConnection):
        def connect(inner):  # noqa: N805
            inner.sock = socket.socket(socket.AF_UNIX)
            inner.sock.connect(str(daemon.socket))

    conn = Conn("localhost", timeout=30)
    conn.request(method, path, body, headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, dict(response.getheaders()), data


def _stat(headers: dict) -> dict:
    return json.loads(base64.b64decode(headers["X-Docker-Container-Path-Stat"]))


def _tar(*entries: tuple[str, str, str | bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tf:
        for name, kind, extra in entries:
            info = tarfile.TarInfo(name)
            if kind == "file":
                data = extra.encode() if isinstance(extra, str) else extra
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            else:
                info.type = tarfile.SYMTYPE if kind == "symlink" else tarfile.LNKTYPE
                info.linkname = str(extra)
                tf.addfile(info)
    return out.getvalue()


@pytest.fixture
def box(daemon):
    """A running container with the traps in place; removed afterwards."""
    name = "fs-" + uuid.uuid4().hex[:8]
    daemon.docker("run", "-d", "--name", name, "busybox", "sh", "-c", TRAPS + " && sleep 300")
    _wait_for(daemon, name, "/tmp/up")
    yield name
    daemon.docker("rm", "-f", name, check=False)


def _wait_for(daemon, name: str, path: str) -> None:
    deadline = time.monotonic() + 10
    while _raw(daemon, "HEAD", f"/containers/{name}/archive?path={path}")[0] != 200:
        assert time.monotonic() < deadline, f"{path} never appeared in {name}"
        time.sleep(0.05)


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_cp_out_of_a_running_container(daemon, box, tmp_path):
    daemon.docker("cp", f"{box}:/data", str(tmp_path / "dir"))
    daemon.docker("cp", f"{box}:/data/.", str(tmp_path / "contents"))
    daemon.docker("cp", f"{box}:/data/f", str(tmp_path / "file"))
    daemon.docker("cp", f"{box}:/data/etclink", str(tmp_path / "link"))
    daemon.docker("cp", "-L", f"{box}:/data/etclink", str(tmp_path / "followed"))
    assert _tree(tmp_path / "dir") == ["etclink", "f", "sub", "sub/g"]
    assert _tree(tmp_path / "contents") == ["etclink", "f", "sub", "sub/g"]
    assert (tmp_path / "file").read_text() == "hello\n"
    assert os.readlink(tmp_path / "link") == "/etc"
    assert "passwd" in os.listdir(tmp_path / "followed")
    streamed = daemon.docker("cp", f"{box}:/data/sub", "-").stdout
    with tarfile.open(fileobj=io.BytesIO(streamed)) as tf:
        assert tf.getnames() == ["sub", "sub/g"]


def test_cp_into_a_running_container_is_seen_at_once(daemon, tmp_path):
    name = "fs-watch-" + uuid.uuid4().hex[:8]
    daemon.docker("run", "-d", "--name", name, "busybox", "sh", "-c",
                  "while [ ! -f /drop/x ]; do sleep 0.05; done; cat /drop/x")
    try:
        (tmp_path / "in").mkdir()
        (tmp_path / "in" / "x").write_text("delivered\n")
        daemon.docker("cp", str(tmp_path / "in"), f"{name}:/drop")  # /drop is new: "in" becomes it
        assert daemon.docker("wait", name, timeout=20).stdout.strip() == b"0"
        assert daemon.docker("logs", name).stdout == b"delivered\n"
    finally:
        daemon.docker("rm", "-f", name, check=False)


def test_cp_with_a_stopped_container(daemon, tmp_path):
    name = "fs-stopped-" + uuid.uuid4().hex[:8]
    daemon.docker("create", "--name", name, "busybox", "cat", "/in")
    try:
        (tmp_path / "note").write_text("before start\n")
        missing = daemon.docker("cp", str(tmp_path / "note"), f"{name}:/no/such/dir/note", check=False)
        assert missing.returncode == 1 and b"Could not find the file /no/such/dir" in missing.stderr
        daemon.docker("cp", str(tmp_path / "note"), f"{name}:/in")  # a new name: the file becomes /in
        assert daemon.docker("start", "-a", name).stdout == b"before start\n"
        daemon.docker("cp", f"{name}:/in", str(tmp_path / "back"))
        assert (tmp_path / "back").read_text() == "before start\n"
        # No mount is left behind by the temporary view of the stopped container.
        assert f"{name}" not in Path("/proc/mounts").read_text()
    finally:
        daemon.docker("rm", "-f", name, check=False)


def test_cp_ownership_plain_and_archive_mode(daemon, tmp_path):
    src = tmp_path / "owned"
    src.mkdir()
    (src / "x").write_text("x")
    for path in (src, src / "x"):
        os.chown(path, 1234, 4321)
    name = "fs-owner-" + uuid.uuid4().hex[:8]
    daemon.docker("run", "-d", "--name", name, "-u", "nobody", "busybox", "sleep", "300")
    try:
        daemon.docker("cp", str(src), f"{name}:/tmp/plain")
        daemon.docker("cp", "-a", str(src), f"{name}:/tmp/archive")
        out = tmp_path / "out"
        out.mkdir()
        for which in ("plain", "archive"):
            tar = daemon.docker("cp", f"{name}:/tmp/{which}", "-").stdout
            with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
                owners = {m.name: (m.uid, m.gid) for m in tf}
            expected = (1234, 4321) if which == "plain" else (65534, 65534)
            assert owners == {which: expected, f"{which}/x": expected}, which
    finally:
        daemon.docker("rm", "-f", name, check=False)


def test_symlinks_in_the_container_never_reach_the_host(daemon, box, tmp_path):
    marker = Path("/tmp") / f"dockyard-escape-{uuid.uuid4().hex}"
    try:
        # Reading through /etc/evil -> / and /tmp/up -> ../../../../ reads the container's.
        daemon.docker("cp", f"{box}:/etc/evil/etc/passwd", str(tmp_path / "via-evil"))
        daemon.docker("cp", f"{box}:/tmp/up/etc/passwd", str(tmp_path / "via-up"))
        theirs = daemon.docker("cp", f"{box}:/etc/passwd", "-").stdout
        with tarfile.open(fileobj=io.BytesIO(theirs)) as tf:
            container_passwd = tf.extractfile("passwd").read()
        assert (tmp_path / "via-evil").read_bytes() == container_passwd
        assert (tmp_path / "via-up").read_bytes() == container_passwd
        # Writing through them lands in the container's /tmp, never the host's.
        (tmp_path / marker.name).write_text("in the container")
        daemon.docker("cp", str(tmp_path / marker.name), f"{box}:/etc/evil/tmp/")
        daemon.docker("cp", str(tmp_path / marker.name), f"{box}:/tmp/up/tmp/")
        assert not marker.exists()
        status, _, _ = _raw(daemon, "HEAD", f"/containers/{box}/archive?path=/tmp/{marker.name}")
        assert status == 200
        # Archives that try to leave the destination are refused, and nothing is written.
        for bad in (_tar((f"../../../..{marker}", "file", "x")),
                    _tar(("up", "symlink", "../../../../"), (f"up{marker}", "file", "x")),
                    _tar(("hl", "hardlink", "../../etc/shadow"))):
            status, _, body = _raw(daemon, "PUT", f"/containers/{box}/archive?path=/data", bad)
            assert status == 400, body
            assert b"Error processing tar file" in body
        assert not marker.exists()
        # A symlink at the destination name is replaced, not written through.
        daemon.docker("exec", box, "ln", "-s", str(marker), "/data/trap", check=False)
        _wait_for(daemon, box, "/data/trap")
        status, _, _ = _raw(daemon, "PUT", f"/containers/{box}/archive?path=/data",
                            _tar(("trap", "file", "replaced")))
        assert status == 200 and not marker.exists()
    finally:
        marker.unlink(missing_ok=True)


def test_export_and_cp_while_the_container_swaps_dirs_and_symlinks(daemon):
    """The container swaps a directory for a symlink to / as fast as it can while we walk
    its files: every archive must still be complete, and a walker that followed the link
    would list the host's /tmp (where a marker file waits)."""
    marker = Path("/tmp") / f"dockyard-race-{uuid.uuid4().hex}"
    marker.write_text("host secret")
    name = "fs-race-" + uuid.uuid4().hex[:8]
    daemon.docker("run", "-d", "--name", name, "busybox", "sh", "-c",
                  "mkdir -p /race/tmp; while true; do mv /race /race.d; ln -s / /race; "
                  "rm /race; mv /race.d /race; done")
    try:
        deadline = time.monotonic() + 2
        rounds = 0
        while time.monotonic() < deadline:
            exported = daemon.docker("export", name).stdout
            status, _, copied = _raw(daemon, "GET", f"/containers/{name}/archive?path=/race/tmp")
            assert status in (200, 404)  # /race/tmp may be missing mid-swap
            for blob in (exported, copied) if status == 200 else (exported,):
                with tarfile.open(fileobj=io.BytesIO(blob)) as tf:
                    names = tf.getnames()  # reads to the end: a cut stream raises here
                assert not any(marker.name in n for n in names)
                assert marker.name.encode() not in blob
            rounds += 1
        assert rounds >= 2
    finally:
        daemon.docker("rm", "-f", name, check=False)
        marker.unlink(missing_ok=True)


def test_archive_api_answers_like_docker(daemon, box):
    status, headers, _ = _raw(daemon, "HEAD", f"/containers/{box}/archive?path=/data")
    info = _stat(headers)
    assert status == 200 and info["name"] == "data" and info["mode"] == (1 << 31) | 0o755
    assert info["linkTarget"] == "" and info["mtime"].endswith("Z")
    _, headers, _ = _raw(daemon, "HEAD", f"/containers/{box}/archive?path=/etc/evil")
    assert _stat(headers)["linkTarget"] == "/" and _stat(headers)["mode"] == (1 << 27) | 0o777
    _, headers, _ = _raw(daemon, "HEAD", f"/containers/{box}/archive?path=/data/.")
    assert _stat(headers)["name"] == "."
    status, headers, body = _raw(daemon, "GET", f"/containers/{box}/archive?path=/data/f")
    assert status == 200 and headers["Content-Type"] == "application/x-tar" and _stat(headers)["size"] == 6
    status, _, body = _raw(daemon, "GET", f"/containers/{box}/archive?path=/nope")
    assert status == 404 and json.loads(body)["message"] == f"Could not find the file /nope in container {box}"
    status, _, body = _raw(daemon, "PUT", f"/containers/{box}/archive?path=/data/f", _tar(("x", "file", "x")))
    assert status == 400 and json.loads(body)["message"] == "extraction point is not a directory"
    status, _, body = _raw(daemon, "PUT", f"/containers/{box}/archive?path=/data&noOverwriteDirNonDir=1",
                           _tar(("sub", "file", "x")))
    assert status == 400 and b"cannot overwrite directory" in body
    status, _, _ = _raw(daemon, "GET", "/containers/no-such-container/archive?path=/")
    assert status == 404


def test_export_is_the_whole_filesystem(daemon, box, tmp_path):
    out = tmp_path / "export.tar"
    daemon.docker("export", "-o", str(out), box)
    with tarfile.open(out) as tf:
        names = tf.getnames()
        assert tf.extractfile("data/f").read() == b"hello\n"
        assert tf.getmember("etc/evil").issym()
    assert "bin/busybox" in names and "." not in names
    assert not any(n.startswith("proc/") for n in names)  # /proc is a mount, not a file


def test_diff_after_add_modify_delete(daemon):
    name = "fs-diff-" + uuid.uuid4().hex[:8]
    daemon.docker("run", "--name", name, "busybox", "sh", "-c",
                  "echo hi > /tmp/new; echo x >> /etc/passwd; rm /bin/vi; mkdir -p /a/b; "
                  "rm -rf /usr; mkdir /usr; touch /usr/z; chmod 700 /home; mkdir /var/spool/t; rmdir /var/spool/t")
    try:
        lines = daemon.docker("diff", name).stdout.decode().splitlines()
        assert sorted(lines) == sorted([
            "A /a", "A /a/b", "C /bin", "D /bin/vi", "C /etc", "C /etc/passwd", "C /home",
            "C /tmp", "A /tmp/new", "C /usr", "D /usr/bin", "D /usr/sbin", "A /usr/z",
        ])
        # Parents come before what changed inside them.
        assert lines.index("C /etc") < lines.index("C /etc/passwd")
        status, changes = daemon.api("GET", f"/containers/{name}/changes")
        assert status == 200 and {"Path": "/bin/vi", "Kind": 2} in changes
        unchanged = "fs-nodiff-" + uuid.uuid4().hex[:8]
        daemon.docker("run", "--name", unchanged, "busybox", "true")
        assert daemon.api("GET", f"/containers/{unchanged}/changes") == (200, None)
        daemon.docker("rm", unchanged)
    finally:
        daemon.docker("rm", "-f", name, check=False)


def test_commit_then_run_the_new_image(daemon):
    name = "fs-commit-" + uuid.uuid4().hex[:8]
    repo = "fs-committed-" + uuid.uuid4().hex[:8]
    daemon.docker("run", "--name", name, "-e", "FOO=bar", "-w", "/tmp", "-l", "a=b", "busybox", "sh", "-c",
                  "echo made > /f; rm /bin/vi")
    try:
        image_id = daemon.docker("commit", "-a", "Me <me@x>", "-m", "msg here", "-c", "ENV X=1",
                                 "-c", 'CMD ["cat", "/f"]', name, f"{repo}:1").stdout.decode().strip()
        assert image_id.startswith("sha256:")
        assert daemon.docker("run", "--rm", f"{repo}:1").stdout == b"made\n"
        gone = daemon.docker("run", "--rm", f"{repo}:1", "ls", "/bin/vi", check=False)
        assert gone.returncode == 1
        env = daemon.docker("run", "--rm", f"{repo}:1", "sh", "-c", "echo $FOO $X $(pwd)").stdout
        assert env == b"bar 1 /tmp\n"
        status, image = daemon.api("GET", f"/images/{repo}:1/json")
        _, parent = daemon.api("GET", "/images/busybox/json")
        assert status == 200 and image["Id"] == image_id
        assert image["Parent"] == parent["Id"] and image["Author"] == "Me <me@x>" and image["Comment"] == "msg here"
        assert image["Config"]["Cmd"] == ["cat", "/f"] and image["Config"]["Labels"] == {"a": "b"}
        assert len(image["RootFS"]["Layers"]) == len(parent["RootFS"]["Layers"]) + 1
        # The layer holds the container's changes only, not runc's mount points.
        layer_tar = subprocess.run(["tar", "-tf", "-"], input=_layer_of(daemon, image_id),
                                   capture_output=True, check=True).stdout.decode().split()
        assert sorted(layer_tar) == ["bin/", "bin/.wh.vi", "f"]
        # Nothing changed: no new layer, as Docker.
        clean = "fs-clean-" + uuid.uuid4().hex[:8]
        daemon.docker("run", "--name", clean, "busybox", "true")
        status, body = daemon.api("POST", f"/commit?container={clean}&repo={repo}&tag=empty")
        assert status == 201 and body["Id"].startswith("sha256:")
        _, empty = daemon.api("GET", f"/images/{repo}:empty/json")
        assert empty["RootFS"]["Layers"] == parent["RootFS"]["Layers"]
        daemon.docker("rm", clean)
        bad = daemon.api("POST", f"/commit?container={name}&changes=FROM%20x")
        assert bad == (400, {"message": "from is not a valid change command"})
        assert daemon.api("POST", "/commit?container=no-such-container")[0] == 404
    finally:
        daemon.docker("rm", "-f", name, check=False)
        daemon.docker("rmi", f"{repo}:1", f"{repo}:empty", check=False)


def test_commit_pauses_a_running_container(daemon):
    name = "fs-live-" + uuid.uuid4().hex[:8]
    repo = "fs-live-" + uuid.uuid4().hex[:8]
    daemon.docker("run", "-d", "--name", name, "busybox", "sh", "-c", "echo live > /live; sleep 300")
    try:
        _wait_for(daemon, name, "/live")
        daemon.docker("commit", name, repo)
        assert daemon.docker("run", "--rm", repo, "cat", "/live").stdout == b"live\n"
        state = daemon.api("GET", f"/containers/{name}/json")[1]["State"]
        assert state["Running"] and not state["Paused"]
        events = daemon.docker("events", "--since", "60s", "--until", "0s", "--filter", f"container={name}",
                               "--format", "{{.Action}}").stdout.decode().split()
        assert events[-3:] == ["pause", "commit", "unpause"]
        # pause=0: committed while it runs, no pause around it.
        status, body = daemon.api("POST", f"/commit?container={name}&pause=0")
        assert status == 201
        daemon.docker("rmi", body["Id"])
        events = daemon.docker("events", "--since", "60s", "--until", "0s", "--filter", f"container={name}",
                               "--format", "{{.Action}}").stdout.decode().split()
        assert events[-2:] == ["unpause", "commit"]
    finally:
        daemon.docker("rm", "-f", name, check=False)
        daemon.docker("rmi", repo, check=False)


def _layer_of(daemon, image_id: str) -> bytes:
    """The top layer's tar of an image, from `docker save`."""
    saved = daemon.docker("save", image_id).stdout
    with tarfile.open(fileobj=io.BytesIO(saved)) as tf:
        manifest = json.loads(tf.extractfile("manifest.json").read())
        return tf.extractfile(manifest[0]["Layers"][-1]).read()

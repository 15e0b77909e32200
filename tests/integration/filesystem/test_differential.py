# SPDX-License-Identifier: Apache-2.0
"""Differential tests against a real Docker engine: the same steps in a container of each
must give the same `docker diff`, the same committed image config and history, and the same
archive stat headers and entry names."""

from __future__ import annotations

import base64
import http.client
import io
import json
import socket
import tarfile
import time
import uuid
from urllib.parse import urlencode

import pytest

from tests.support.dockerd import running_dockerd

pytestmark = [pytest.mark.requires_root, pytest.mark.compat]

# Adds, modifies (content, mode, owner, mtime), deletes (a file, a tree), replaces a
# directory (opaque), makes traps; and things Docker does not count as changes.
SCRIPT = (
    "echo hi > /tmp/new; echo x >> /etc/passwd; rm /bin/vi; mkdir -p /a/b/c; touch /a/b/c/f; "
    "rm -rf /usr; mkdir /usr; touch /usr/z; chmod 700 /home; chown 5 /tmp; touch -d 2001-01-01 /bin/sh; "
    "mkdir /var/spool/t; rmdir /var/spool/t; touch /root; ln -s / /etc/evil; ln -s ../../../../ /tmp/up; "
    "mkdir /made; rm -rf /made; rm -rf /var"
)
# Names of Docker's init layer entries (/.dockerenv, /etc/mtab, /dev/…), which dockyard
# does not make.
INIT_LAYER = {".dockerenv", "mtab", "console", "pts", "shm"}


@pytest.fixture(scope="module")
def engine(daemon):
    with running_dockerd() as handle:
        daemon.cli("run", "--rm", "busybox", "true")  # dockyard builds busybox on first use
        handle.docker("load", input=daemon.cli("save", "busybox").stdout)
        yield handle


def _both(daemon, engine, *args: str) -> tuple[str, str]:
    name = "diff-" + uuid.uuid4().hex[:8]
    daemon.docker("run", "--name", name, *args)
    engine.docker("run", "--name", name, "--network", "none", *args)
    return name, name


def _raw(sock: str, method: str, path: str, body: bytes | None = None) -> tuple[int, dict, bytes]:
    class Conn(http.client.HTTPConnection):
        def connect(inner):  # noqa: N805
            inner.sock = socket.socket(socket.AF_UNIX)
            inner.sock.connect(sock)

    conn = Conn("localhost", timeout=30)
    conn.request(method, path, body, {"Content-Type": "application/json"} if body else {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, dict(response.getheaders()), data


def _sock(handle) -> str:
    return handle.host[len("unix://"):]


def test_diff_matches_docker(daemon, engine):
    ours, theirs = _both(daemon, engine, "busybox", "sh", "-c", SCRIPT)
    try:
        mine = sorted(daemon.docker("diff", ours).stdout.decode().splitlines())
        docker = sorted(engine.docker("diff", theirs).stdout.decode().splitlines())
        assert mine == docker
        assert "D /var" in mine and "C /usr" in mine and "D /usr/bin" in mine  # the script ran
    finally:
        daemon.docker("rm", ours)
        engine.docker("rm", theirs)


def _config(sock: str, ref: str) -> dict:
    status, _, body = _raw(sock, "GET", f"/images/{ref}/json")
    assert status == 200, body
    image = json.loads(body)
    config = image["Config"]
    keys = ("Cmd", "Entrypoint", "WorkingDir", "User", "Labels", "ExposedPorts", "Volumes",
            "StopSignal", "OnBuild", "Healthcheck")
    # Env's order follows the create merge (not commit's business); the set must match.
    picked = {k: config.get(k) or None for k in keys}
    picked["Env"] = sorted(config.get("Env") or [])
    return {"config": picked, "author": image["Author"], "comment": image["Comment"],
            "layers": len(image["RootFS"]["Layers"])}


def _history(handle, ref: str) -> list[tuple[str, str]]:
    # Read from the saved image config, the same way for both engines.
    saved = handle.docker("save", ref).stdout
    with tarfile.open(fileobj=io.BytesIO(saved)) as tf:
        manifest = json.loads(tf.extractfile("manifest.json").read())
        config = json.loads(tf.extractfile(manifest[0]["Config"]).read())
    return [(h.get("created_by", ""), h.get("comment", ""), h.get("author", ""), bool(h.get("empty_layer")))
            for h in config["history"]]


@pytest.mark.parametrize("changes, body", [
    (["ENV X=1", 'CMD ["cat", "/f"]', "LABEL c=d", "EXPOSE 8080", "WORKDIR sub"], None),
    (['ENTRYPOINT ["top"]', "USER nobody", "HEALTHCHECK --interval=5s CMD true", "VOLUME /v",
      "ONBUILD RUN x"], None),
    ([], {"Env": ["ONLY=body"], "Cmd": ["echo", "from-body"], "Labels": {"e": "f"}}),
])
def test_commit_config_and_history_match_docker(daemon, engine, changes, body):
    ours, theirs = _both(daemon, engine, "-e", "FOO=bar", "-w", "/tmp", "-l", "a=b", "--expose", "80",
                         "busybox", "sh", "-c", "echo hi > /f")
    repo = "diffcommit-" + uuid.uuid4().hex[:8]
    query = urlencode([("container", ours), ("repo", repo), ("tag", "1"), ("author", "Me <me@x>"),
                       ("comment", "msg")] + [("changes", c) for c in changes])
    payload = json.dumps(body).encode() if body else None
    try:
        for sock in (_sock(daemon), _sock(engine)):
            status, _, answer = _raw(sock, "POST", "/commit?" + query, payload)
            assert status == 201, answer
            assert json.loads(answer)["Id"].startswith("sha256:")
        assert _config(_sock(daemon), f"{repo}:1") == _config(_sock(engine), f"{repo}:1")
        assert _history(daemon, f"{repo}:1") == _history(engine, f"{repo}:1")
    finally:
        for handle in (daemon, engine):
            handle.docker("rm", ours, check=False)
            handle.docker("rmi", f"{repo}:1", check=False)


def test_empty_commit_matches_docker(daemon, engine):
    ours, theirs = _both(daemon, engine, "busybox", "true")
    repo = "diffempty-" + uuid.uuid4().hex[:8]
    try:
        daemon.docker("commit", ours, repo)
        engine.docker("commit", theirs, repo)
        assert _config(_sock(daemon), repo) == _config(_sock(engine), repo)
        assert _history(daemon, repo) == _history(engine, repo)
        assert _history(daemon, repo)[-1][3] is True  # empty_layer
    finally:
        for handle in (daemon, engine):
            handle.docker("rm", ours, check=False)
            handle.docker("rmi", repo, check=False)


PATHS = ["/etc", "/etc/", "/etc/.", "/etc/passwd", "/etc/evil", "/etc/evil/", "/tmp/up", "/tmp/up/etc/group",
         "/bin/sh", "/etc/passwd/", "/nope", "/etc/../bin/..", "/"]


def test_archive_stat_and_names_match_docker(daemon, engine):
    name = "diffcp-" + uuid.uuid4().hex[:8]
    script = "ln -s / /etc/evil; ln -s ../../../../ /tmp/up; mkdir -p /etc/deep/er; sleep 300"
    daemon.docker("run", "-d", "--name", name, "busybox", "sh", "-c", script)
    engine.docker("run", "-d", "--name", name, "--network", "none", "busybox", "sh", "-c", script)
    try:
        time.sleep(0.5)  # the traps are made by the containers' first commands
        for path in PATHS:
            answers = []
            for sock in (_sock(daemon), _sock(engine)):
                status, headers, _ = _raw(sock, "HEAD", f"/containers/{name}/archive?path={path}")
                stat = None
                if status == 200:
                    stat = json.loads(base64.b64decode(headers["X-Docker-Container-Path-Stat"]))
                    stat.pop("mtime")
                    if stat["mode"] & (1 << 31):
                        stat.pop("size")  # a directory's size is the filesystem's business
                names = None
                if status == 200 and path != "/":
                    status_get, _, data = _raw(sock, "GET", f"/containers/{name}/archive?path={path}")
                    assert status_get == 200
                    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
                        names = sorted(n for n in tf.getnames() if n.rsplit("/", 1)[-1] not in INIT_LAYER)
                answers.append((status >= 400, status == 404, stat, names))
            assert answers[0] == answers[1], path
    finally:
        daemon.docker("rm", "-f", name, check=False)
        engine.docker("rm", "-f", name, check=False)

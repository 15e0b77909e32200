# SPDX-License-Identifier: Apache-2.0
"""The same Dockerfile and context built by dockyard and by Docker 20.10's classic
builder give the same image config, history and file tree."""

import io
import json
import os
import re
import tarfile

import pytest

from tests.support.dockerd import running_dockerd

pytestmark = pytest.mark.requires_root

DOCKERFILE = """FROM busybox
ARG V=1
ENV A=b C="d e"
LABEL x=y "z w"=q
WORKDIR /app
COPY a.txt .
COPY d /dir/
COPY a.txt d /multi/
COPY --chown=1000:1000 a.txt /owned/
RUN echo $V > /v && mkdir -p /made && ln -s /v /made/link && chmod 700 /made
RUN ["sh", "-c", "echo exec"]
EXPOSE 80/tcp 53/udp
USER nobody
VOLUME /data
CMD echo hi
ENTRYPOINT ["/bin/sh", "-c"]
HEALTHCHECK --interval=5s --retries=3 CMD true
STOPSIGNAL SIGINT
SHELL ["/bin/sh", "-xc"]
ONBUILD RUN echo child
"""


@pytest.fixture(scope="module")
def engine():
    with running_dockerd() as handle:
        yield handle


def _tree(data: bytes) -> dict:
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        for m in tf:
            # The mount points Docker keeps in a container's init layer are not the image's.
            if m.name.startswith(("dev", "proc", "sys", "etc/hosts", "etc/hostname", "etc/resolv.conf", ".dockerenv", "etc/mtab")):
                continue
            out[m.name.rstrip("/")] = (m.type, oct(m.mode & 0o7777), m.uid, m.gid, m.size if m.isreg() else 0, m.linkname)
    return out


def test_same_config_history_and_files(daemon, engine, tmp_path, monkeypatch):
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    (tmp_path / "a.txt").write_text("hello\n")
    os.makedirs(tmp_path / "d/sub")
    (tmp_path / "d/sub/f").write_text("x\n")
    os.chmod(tmp_path / "d/sub/f", 0o750)
    daemon.cli("run", "--rm", "busybox", "true")
    engine.docker("load", input=daemon.cli("save", "busybox").stdout)
    monkeypatch.setenv("DOCKER_BUILDKIT", "0")
    # A --build-arg shows in the RUN steps' history, not in the ARG line's.
    engine.docker("build", "--network", "none", "--build-arg", "V=2", "-t", "diff:1", str(tmp_path))
    daemon.cli("build", "--network", "none", "--build-arg", "V=2", "-t", "diff:1", str(tmp_path))
    theirs = json.loads(engine.docker("image", "inspect", "diff:1").stdout)[0]
    ours = json.loads(daemon.cli("image", "inspect", "diff:1").stdout)[0]
    for doc in (theirs, ours):
        doc["Config"].pop("Image")
    assert ours["Config"] == theirs["Config"]
    assert ours["Author"] == theirs["Author"] == ""

    def history(out: bytes) -> list:
        rows = [json.loads(line) for line in out.decode().splitlines()]
        # (Sizes are compared through the exported trees below; the CLIs print them differently.)
        return [re.sub(r"(file|dir|multi):[0-9a-f]{64}", r"\1:H", r["CreatedBy"]) for r in rows]

    fmt = ("history", "--no-trunc", "--format", "{{json .}}", "diff:1")
    assert history(daemon.cli(*fmt).stdout) == history(engine.docker(*fmt).stdout)
    their_id = engine.docker("create", "diff:1").stdout.decode().strip()
    our_id = daemon.cli("create", "diff:1").stdout.decode().strip()
    theirs_tree = _tree(engine.docker("export", their_id).stdout)
    ours_tree = _tree(daemon.cli("export", our_id).stdout)
    assert ours_tree == theirs_tree

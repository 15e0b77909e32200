# SPDX-License-Identifier: Apache-2.0
"""`dockyard build` end to end against a real daemon: instructions, cache, multi-stage,
.dockerignore, failures, and the docker CLI / docker-py speaking POST /build."""

import io
import json
import os
import tarfile
import time

import pytest

from tests.integration.builder.helpers import container_ids
from tests.integration.builder.helpers import inspect as _inspect
from tests.integration.builder.helpers import write_context as _write
from tests.support.daemon import restart_daemon
from tests.unit.builder.tarutil import tar_bytes

pytestmark = pytest.mark.requires_root


def test_instructions_config_and_files(daemon, tmp_path):
    ctx = _write(tmp_path, {
        "Dockerfile": """ARG BASE=busybox
FROM $BASE
ARG V=1
ENV A=b C="d e"
LABEL x=y "z w"=q
WORKDIR /app
COPY a.txt .
COPY d /dir/
RUN echo $V-$A > /v && test -f /app/a.txt
EXPOSE 80/tcp 53/udp
USER nobody
VOLUME /data
CMD echo hi
ENTRYPOINT ["/bin/sh", "-c"]
STOPSIGNAL SIGINT
COPY <<HEREDOC_END /here.txt
from a heredoc
HEREDOC_END
""", "a.txt": "hello\n", "d/sub/f": "x\n"})
    out = daemon.cli("build", "-t", "bt-inst", "--build-arg", "V=7", str(ctx)).stdout.decode()
    assert "Step 1/16 : ARG BASE=busybox" in out and "Successfully tagged bt-inst:latest" in out
    cfg = _inspect(daemon, "bt-inst")["Config"]
    assert cfg["Env"][-2:] == ["A=b", "C=d e"] and cfg["Labels"] == {"x": "y", "z w": "q"}
    assert cfg["WorkingDir"] == "/app" and cfg["User"] == "nobody" and cfg["Volumes"] == {"/data": {}}
    assert set(cfg["ExposedPorts"]) == {"80/tcp", "53/udp"} and cfg["StopSignal"] == "SIGINT"
    assert cfg["Entrypoint"] == ["/bin/sh", "-c"] and cfg["Cmd"] == ["/bin/sh", "-c", "echo hi"]
    files = daemon.cli("run", "--rm", "--entrypoint", "sh", "bt-inst", "-c",
                       "cat /v /app/a.txt /dir/sub/f /here.txt").stdout.decode()
    assert files == "7-b\nhello\nx\nfrom a heredoc\n"
    created = [json.loads(line)["CreatedBy"] for line in daemon.cli(
        "history", "--no-trunc", "--format", "{{json .}}", "bt-inst").stdout.decode().splitlines()]
    assert "|1 V=7 /bin/sh -c echo $V-$A > /v && test -f /app/a.txt" in created


def test_cache_is_used_survives_restart_and_starts_no_container(fresh_daemon, tmp_path):
    ctx = _write(tmp_path, {"Dockerfile": "FROM busybox\nCOPY f /f\nRUN cat /f > /g\nCMD cat /g\n", "f": "one\n"})
    first = fresh_daemon.cli("build", "-q", str(ctx)).stdout.decode().strip()
    restart_daemon(fresh_daemon)
    out = fresh_daemon.cli("build", str(ctx)).stdout.decode()
    assert out.count("Using cache") == 3 and "Running in" not in out
    assert fresh_daemon.cli("build", "-q", str(ctx)).stdout.decode().strip() == first
    # The restarted daemon has seen two fully cached builds and not one container.
    status, events = fresh_daemon.api("GET", f"/events?since=0&until={int(time.time()) + 1}")
    assert status == 200 and "container" not in str(events)
    (ctx / "f").write_text("two\n")
    out = fresh_daemon.cli("build", "-t", "bt-cache", str(ctx)).stdout.decode()
    assert out.count("Using cache") == 0 and "Running in" in out
    assert fresh_daemon.cli("run", "--rm", "bt-cache").stdout == b"two\n"
    assert "Using cache" not in fresh_daemon.cli("build", "--no-cache", str(ctx)).stdout.decode()
    pruned = fresh_daemon.cli("builder", "prune", "-a", "-f").stdout.decode()
    assert "Total reclaimed space" in pruned
    (ctx / "f").write_text("one\n")
    assert "Using cache" not in fresh_daemon.cli("build", str(ctx)).stdout.decode()


def test_multistage_target_and_dockerignore(daemon, tmp_path):
    ctx = _write(tmp_path, {
        "Dockerfile": """FROM busybox AS build
WORKDIR /src
COPY src/ ./
RUN echo built > out.txt
FROM busybox AS broken
RUN exit 1
FROM busybox AS final
COPY --from=build /src/out.txt /app/
COPY . /ctx/
""", ".dockerignore": "node_modules\n*.log\n!keep.log\n", "node_modules/x": "x", "a.log": "a",
        "keep.log": "k", "src/app.py": "print(1)\n"})
    out = daemon.cli("build", "-t", "bt-ms", str(ctx)).stdout.decode()
    assert "RUN exit 1" not in out  # the stage nobody needs is not built
    listing = daemon.cli("run", "--rm", "bt-ms", "find", "/ctx", "/app").stdout.decode().split()
    assert sorted(listing) == ["/app", "/app/out.txt", "/ctx", "/ctx/.dockerignore", "/ctx/Dockerfile",
                               "/ctx/keep.log", "/ctx/src", "/ctx/src/app.py"]
    out = daemon.cli("build", "--target", "build", "-t", "bt-ms-build", str(ctx)).stdout.decode()
    assert "Step 7/" not in out
    assert daemon.cli("run", "--rm", "bt-ms-build", "cat", "/src/out.txt").stdout == b"built\n"


def test_bad_input_errors(daemon, tmp_path):
    cases = {
        "FROM busybox\nFOO bar\n": "dockerfile parse error line 2: unknown instruction: FOO",
        "FROM busybox\nCOPY nope /x\n": "file not found in build context",
        "FROM busybox\nRUN echo last words; exit 3\n": "returned a non-zero code: 3",
        "FROM 127.0.0.1:1/no-such-image\n": "127.0.0.1:1",
    }
    before = container_ids(daemon)
    for text, message in cases.items():
        (tmp_path / "Dockerfile").write_text(text)
        result = daemon.cli("build", str(tmp_path), check=False)
        assert result.returncode != 0, text
        assert message in result.stderr.decode(), (text, result.stderr)
        if "exit 3" in text:
            assert "last words" in result.stdout.decode()
    assert container_ids(daemon) == before  # no intermediate left


def test_docker_cli_and_docker_py(daemon, tmp_path):
    ctx = _write(tmp_path, {"Dockerfile": "FROM busybox\nARG MSG\nRUN echo $MSG > /m\nCMD [\"cat\", \"/m\"]\n"})
    os.environ["DOCKER_BUILDKIT"] = "0"
    try:
        result = daemon.docker("build", "--build-arg", "MSG=from-docker", "-t", "bt-docker", str(ctx))
    finally:
        del os.environ["DOCKER_BUILDKIT"]
    assert b"Successfully tagged bt-docker:latest" in result.stdout
    assert daemon.cli("run", "--rm", "bt-docker").stdout == b"from-docker\n"
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=daemon.host)
    image, logs = client.images.build(path=str(ctx), tag="bt-py", buildargs={"MSG": "from-py"})
    assert "bt-py:latest" in image.tags
    assert any("Step 3/4" in entry.get("stream", "") for entry in logs)
    assert client.containers.run("bt-py", remove=True) == b"from-py\n"
    failing = tar_bytes({"Dockerfile": b"FROM busybox\nRUN exit 5\n"}, "w:gz")
    with pytest.raises(docker.errors.BuildError, match="non-zero code: 5"):
        client.images.build(fileobj=io.BytesIO(failing), custom_context=True, encoding="gzip")


def test_add_archives_chown_chmod_onbuild_and_output_options(daemon, tmp_path):
    src = _write(tmp_path / "src", {"a.txt": "a\n", "sub/b.txt": "b\n"})
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    with tarfile.open(ctx / "files.tar.gz", "w:gz") as tar:
        tar.add(src, arcname=".")
    _write(ctx, {"a.txt": "a\n", "Dockerfile": """FROM busybox AS base
ARG GREETING=hi
ADD files.tar.gz /extracted/
COPY --chown=nobody:nogroup --chmod=640 a.txt /owned.txt
RUN echo "$GREETING" > /greeting
ONBUILD RUN echo triggered > /onbuild
FROM base
COPY --from=base /greeting /copied
CMD ["cat", "/copied"]
"""})
    iid = tmp_path / "iid"
    out = daemon.cli("build", "-q", "--iidfile", str(iid), "--build-arg", "GREETING=hello",
                     "-t", "bt-opts:1", str(ctx)).stdout.decode().strip()
    assert out.startswith("sha256:") and iid.read_text().strip() == out
    assert daemon.cli("run", "--rm", "bt-opts:1").stdout == b"hello\n"
    listing = daemon.cli("run", "--rm", "bt-opts:1", "sh", "-c",
                         "ls /extracted /extracted/sub; stat -c '%u:%g %a' /owned.txt; cat /onbuild").stdout.decode()
    assert "a.txt" in listing and "b.txt" in listing  # the archive was unpacked
    assert "65534:65534 640" in listing and "triggered" in listing
    daemon.cli("rmi", "bt-opts:1")


def test_stdin_dockerfile_and_stdin_context(daemon, tmp_path):
    dockerfile = b'FROM busybox\nRUN echo from-stdin > /x\nCMD ["cat", "/x"]\n'
    daemon.cli("build", "-t", "bt-stdin:1", "-", input=dockerfile)
    assert daemon.cli("run", "--rm", "bt-stdin:1").stdout == b"from-stdin\n"
    context = tar_bytes({"Dockerfile": b'FROM busybox\nCOPY f /f\nCMD ["cat", "/f"]\n', "f": b"in-tar\n"}, "w:gz")
    daemon.cli("build", "-t", "bt-stdin:2", "-", input=context)
    assert daemon.cli("run", "--rm", "bt-stdin:2").stdout == b"in-tar\n"
    daemon.cli("rmi", "bt-stdin:1", "bt-stdin:2")

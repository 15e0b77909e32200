# SPDX-License-Identifier: Apache-2.0
"""docker-py's high-level client (`docker.DockerClient`) against dockyard's socket:
containers.run/create/get/list, exec_run, logs(stream=True), stats, wait, archives,
commit and events."""

from __future__ import annotations

import io
import tarfile
import threading
import time

import pytest

docker = pytest.importorskip("docker")

pytestmark = [pytest.mark.requires_root, pytest.mark.compat]


@pytest.fixture(scope="module")
def client(daemon):
    c = docker.DockerClient(base_url=daemon.host, version="1.45", timeout=60)
    c.images.pull("busybox", tag="latest")
    yield c
    c.close()


def test_run_returns_output_and_raises_on_failure(client):
    assert client.containers.run("busybox", ["echo", "hi"], remove=True) == b"hi\n"
    with pytest.raises(docker.errors.ContainerError) as failure:
        client.containers.run("busybox", ["sh", "-c", "echo bad >&2; exit 3"], remove=True, stderr=True)
    assert failure.value.exit_status == 3
    # ImageNotFound where a registry answers; offline, the failed lookup of Docker Hub.
    with pytest.raises(docker.errors.APIError):
        client.containers.run("no-such-image-here:v1", "true", remove=True)


def test_detached_lifecycle(client):
    container = client.containers.run("busybox", ["sh", "-c", "echo ready; sleep 300"], detach=True,
                                      name="dpy-sleeper", labels={"suite": "docker-py"},
                                      environment={"A": "1"})
    try:
        container.reload()
        assert container.status == "running" and container.name == "dpy-sleeper"
        assert client.containers.get("dpy-sleeper").id == container.id
        listed = client.containers.list(filters={"label": "suite=docker-py"})
        assert [c.id for c in listed] == [container.id]
        deadline = time.time() + 5
        while b"ready" not in container.logs() and time.time() < deadline:
            time.sleep(0.05)
        assert container.logs() == b"ready\n"
        code, output = container.exec_run(["sh", "-c", "echo $A; exit 0"])
        assert (code, output) == (0, b"1\n")
        code, _ = container.exec_run(["sh", "-c", "exit 4"])
        assert code == 4
        stats = container.stats(stream=False)
        assert stats["id"] == container.id and "cpu_stats" in stats and "memory_stats" in stats
        container.stop(timeout=1)
        assert container.wait()["StatusCode"] == 137
    finally:
        container.remove(force=True)
    with pytest.raises(docker.errors.NotFound):
        client.containers.get("dpy-sleeper")


def test_streamed_logs_follow(client):
    container = client.containers.run("busybox", ["sh", "-c", "for i in 1 2 3; do echo l$i; sleep 0.1; done"],
                                      detach=True)
    try:
        lines = b"".join(container.logs(stream=True, follow=True))
        assert lines == b"l1\nl2\nl3\n"
    finally:
        container.remove(force=True)


def test_create_start_attach_socket_free_wait(client):
    container = client.containers.create("busybox", ["sh", "-c", "exit 6"])
    try:
        assert container.status == "created"
        container.start()
        assert container.wait(timeout=30)["StatusCode"] == 6
    finally:
        container.remove()


def test_archives_and_commit(client):
    container = client.containers.run("busybox", ["sleep", "300"], detach=True)
    try:
        data = io.BytesIO()
        with tarfile.open(fileobj=data, mode="w") as tar:
            info = tarfile.TarInfo("greeting.txt")
            payload = b"hello from docker-py\n"
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
        assert container.put_archive("/tmp", data.getvalue())
        stream, stat = container.get_archive("/tmp/greeting.txt")
        assert stat["name"] == "greeting.txt" and stat["size"] == len(payload)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            assert tar.extractfile("greeting.txt").read() == payload
        image = container.commit(repository="dpy-committed", tag="v1", changes=['CMD ["cat", "/tmp/greeting.txt"]'])
        assert client.containers.run(image.id, remove=True) == payload
        client.images.remove("dpy-committed:v1")
    finally:
        container.remove(force=True)


def test_events_stream(client):
    seen: list[dict] = []
    since = int(time.time()) - 1
    events = client.events(decode=True, since=since, filters={"type": "container", "label": "ev=1"})

    def consume():
        for event in events:
            seen.append(event)
            if event["Action"] == "destroy":
                return

    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    client.containers.run("busybox", "true", remove=True, labels={"ev": "1"})
    reader.join(10)
    events.close()
    actions = [e["Action"] for e in seen]
    for action in ("create", "start", "die", "destroy"):
        assert action in actions
    assert actions.index("create") < actions.index("start") < actions.index("die") < actions.index("destroy")

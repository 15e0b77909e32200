# SPDX-License-Identifier: Apache-2.0
"""Helpers of tests that run containers in a test daemon (tests/support/daemon.py): names
no other test uses, HTTP on a published port, waiting for a container to be ready (a page,
a line in its logs, a command that succeeds in it), and containers, images built for the
test, volumes and networks that are removed however the test ends."""

from __future__ import annotations

import contextlib
import json
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TypeVar

from tests.support.daemon import DaemonHandle
from tests.support.tls import free_port

__all__ = ["assert_quick_stop", "built", "free_port", "http_get", "image_config", "logs", "output",
           "process_one", "remove", "removing", "run_fails", "run_once", "running", "serving", "unique",
           "wait_command", "wait_http", "wait_logs"]

# `build` of a small app on a Debian-based image: package installs may take minutes.
BUILD_TIMEOUT = 600

T = TypeVar("T")


def unique(prefix: str) -> str:
    """`prefix-<random>`: a name no other test (or earlier run) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def output(result) -> str:
    """The stripped, decoded stdout of a finished `daemon.cli(...)`."""
    return result.stdout.decode().strip()


def logs(daemon: DaemonHandle, container: str) -> str:
    """Everything `container` wrote so far, stdout then stderr."""
    result = daemon.cli("logs", container, check=False)
    return result.stdout.decode(errors="replace") + result.stderr.decode(errors="replace")


def image_config(daemon: DaemonHandle, image: str) -> dict:
    """The `Config` of `image inspect` (Cmd, Env, ExposedPorts, ...)."""
    return json.loads(daemon.cli("image", "inspect", image).stdout)[0]["Config"]


def http_get(url: str, timeout: float = 3) -> str:
    """The body at `url`; HTTP errors raise (urllib.error.HTTPError). No proxy, whatever
    the environment says: tests talk to 127.0.0.1 only."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=timeout) as response:
        return response.read().decode()


def _poll(probe: Callable[[], T | None], timeout: float, interval: float, failure: Callable[[], str]) -> T:
    """What `probe` returns once it is not None; after `timeout` seconds, AssertionError
    with the message `failure` makes (built then, so that it can show the latest logs)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(failure())
        time.sleep(interval)


def wait_http(daemon: DaemonHandle, container: str, url: str, timeout: float = 30) -> str:
    """The body at `url` once something answers there (a server in `container` starting)."""
    def probe() -> str | None:
        try:
            return http_get(url)
        except OSError:  # refused, reset, HTTP error: not up yet
            return None
    return _poll(probe, timeout, 0.1, lambda: f"{url} did not answer:\n{logs(daemon, container)}")


def wait_logs(daemon: DaemonHandle, container: str, needle: bytes, timeout: float = 10) -> bytes:
    """The stdout of `container` once it holds `needle`."""
    def probe() -> bytes | None:
        out = daemon.cli("logs", container).stdout
        return out if needle in out else None
    return _poll(probe, timeout, 0.1,
                 lambda: f"{needle!r} not in the logs of {container}:\n{logs(daemon, container)}")


def wait_command(daemon: DaemonHandle, container: str, *command: str, expect: bytes | None = None,
                 timeout: float = 90, interval: float = 0.5) -> None:
    """Until `command` run in `container` succeeds (and prints `expect`, if given): a
    readiness check such as `mysqladmin ping`. Fails at once if the container stops."""
    def probe() -> bool | None:
        result = daemon.cli("exec", container, *command, check=False)
        if result.returncode == 0 and (expect is None or result.stdout.strip() == expect):
            return True
        running = daemon.cli("inspect", "-f", "{{.State.Running}}", container, check=False)
        if running.stdout.strip() == b"false":
            raise AssertionError(f"{container} stopped before {command[0]} succeeded:\n"
                                 f"{logs(daemon, container)}")
        return None
    _poll(probe, timeout, interval,
          lambda: f"{' '.join(command)} did not succeed in {container}:\n{logs(daemon, container)}")


def remove(daemon: DaemonHandle, *, containers: Iterable[str] = (), images: Iterable[str] = (),
           volumes: Iterable[str] = (), networks: Iterable[str] = ()) -> None:
    """Removes what is named, whether it exists or not: containers first (with their
    anonymous volumes), as the rest may be in use by them."""
    for container in containers:
        daemon.cli("rm", "-f", "-v", container, check=False)
    for image in images:
        daemon.cli("rmi", "-f", image, check=False)
    for volume in volumes:
        daemon.cli("volume", "rm", volume, check=False)
    for network in networks:
        daemon.cli("network", "rm", network, check=False)


@contextlib.contextmanager
def removing(daemon: DaemonHandle, **names: Iterable[str]) -> Iterator[None]:
    """remove(daemon, **names) when the block ends, however it ends."""
    try:
        yield
    finally:
        remove(daemon, **names)


@contextlib.contextmanager
def running(daemon: DaemonHandle, *args: str, prefix: str = "test") -> Iterator[str]:
    """`run -d --name NAME ARGS` (options, image, command), NAME being unique(prefix);
    yields NAME and removes the container when the block ends."""
    name = unique(prefix)
    with removing(daemon, containers=[name]):
        daemon.cli("run", "-d", "--name", name, *args)
        yield name


@contextlib.contextmanager
def serving(daemon: DaemonHandle, port: int, *args: str, prefix: str = "test") -> Iterator[tuple[str, str]]:
    """`running` with the container's `port` published on a free port of 127.0.0.1;
    yields the name and the URL of that port, `http://127.0.0.1:<host port>`."""
    host_port = free_port()
    with running(daemon, "-p", f"127.0.0.1:{host_port}:{port}", *args, prefix=prefix) as name:
        yield name, f"http://127.0.0.1:{host_port}"


@contextlib.contextmanager
def built(daemon: DaemonHandle, context: Path, dockerfile: str, prefix: str = "test") -> Iterator[str]:
    """The image built from `context` with `dockerfile` as its Dockerfile, tagged
    `unique(prefix):test`; yields the tag and removes the image when the block ends."""
    (context / "Dockerfile").write_text(dockerfile)
    tag = f"{unique(prefix)}:test"
    with removing(daemon, images=[tag]):
        daemon.cli("build", "-t", tag, str(context), timeout=BUILD_TIMEOUT)
        yield tag


def run_once(daemon: DaemonHandle, *args: str, input: bytes | None = None) -> str:
    """`run --rm ARGS` (options, image, command), which must succeed: its stripped stdout."""
    return output(daemon.cli("run", "--rm", *args, input=input))


def run_fails(daemon: DaemonHandle, *args: str, timeout: float = 60) -> str:
    """The output (stdout then stderr) of `run ARGS`, which must fail."""
    result = daemon.cli("run", *args, check=False, timeout=timeout)
    text = (result.stdout + result.stderr).decode(errors="replace")
    assert result.returncode != 0, f"run {' '.join(args)} succeeded:\n{text}"
    return text


def assert_quick_stop(daemon: DaemonHandle, container: str, within: float, exit_code: int | None = 0) -> None:
    """`stop` returns within `within` seconds (the stop signal reached the server: no wait
    for the kill), and the container exited with `exit_code` (None: any)."""
    started = time.monotonic()
    daemon.cli("stop", container)
    assert time.monotonic() - started < within
    if exit_code is not None:
        state = daemon.cli("inspect", "-f", "{{.State.ExitCode}}", container)
        assert output(state) == str(exit_code)


def process_one(daemon: DaemonHandle, container: str) -> tuple[str, str]:
    """The command name and the user of PID 1 in `container`."""
    comm = output(daemon.cli("exec", container, "cat", "/proc/1/comm"))
    user = output(daemon.cli("exec", container, "stat", "-c", "%U", "/proc/1"))
    return comm, user


@contextlib.contextmanager
def http_server(handler: type) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 answering with `handler` (a BaseHTTPRequestHandler
    class) in a thread; yields its base URL."""
    import http.server
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()

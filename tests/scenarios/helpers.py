# SPDX-License-Identifier: Apache-2.0
"""Helpers of the acceptance scenarios (../../../shared/SCENARIOS.md): the two CLIs and
the two compose tools driven against one daemon, the resources a test made (removed
afterwards), and waiting for a service to answer."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.containers import free_port, http_get, http_server, unique  # noqa: F401 (re-exported)
from tests.support.daemon import DaemonHandle

BIN = Path(sys.executable).parent
DOCKYARD = str(BIN / "dockyard")

# Readiness waits: generous, because the first run of a mysql image initialises its
# data directory; polling returns as soon as the service answers.
SERVICE_TIMEOUT = 180


def wait_for(probe: Callable[[], Any], timeout: float = SERVICE_TIMEOUT, interval: float = 0.3,
             what: str = "condition") -> Any:
    """Call `probe` until it returns something truthy (exceptions count as "not yet");
    return that value, or fail with the last exception or value seen."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            value = probe()
            if value:
                return value
            last = value
        except Exception as exc:  # noqa: BLE001 - anything means "not ready yet"
            last = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        time.sleep(interval)


def wait_http(url: str, contains: str = "", timeout: float = SERVICE_TIMEOUT) -> str:
    """The body served at `url` once it answers (and contains `contains`)."""
    def probe():
        body = http_get(url)
        return body if contains in body else None
    return wait_for(probe, timeout, what=f"{url} to serve {contains!r}")


def curl(url: str, timeout: float = 10) -> str:
    """What `curl URL` prints, as the seeds check their services."""
    result = subprocess.run(["curl", "-sS", "--max-time", str(timeout), url], capture_output=True, timeout=timeout + 5)
    assert result.returncode == 0, f"curl {url}: {result.stderr.decode(errors='replace')}"
    return result.stdout.decode(errors="replace")


@dataclass
class Result:
    argv: list[str]
    rc: int
    out: str
    err: str

    @property
    def both(self) -> str:
        return self.out + self.err


def _run(argv: list[str], *, env: dict, input: bytes | str | None, timeout: float, check: bool,
         cwd: Path | str | None) -> Result:
    if isinstance(input, str):
        input = input.encode()
    try:
        proc = subprocess.run(argv, input=input if input is not None else b"", capture_output=True, timeout=timeout,
                              env=env, cwd=cwd)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"{' '.join(argv)} did not finish within {timeout}s\n"
                             f"stdout: {(exc.stdout or b'').decode(errors='replace')[-4000:]}\n"
                             f"stderr: {(exc.stderr or b'').decode(errors='replace')[-4000:]}") from None
    result = Result(argv, proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"))
    if check and result.rc != 0:
        raise AssertionError(f"{' '.join(argv)} exited {result.rc}\nstdout: {result.out[-6000:]}\n"
                             f"stderr: {result.err[-6000:]}")
    return result


class Client:
    """`dockyard …` or the official `docker …`, both against the scenario daemon.

    Each test gets a client config directory of its own (DOCKER_CONFIG: logins), and the
    docker CLI uses the classic builder (DOCKER_BUILDKIT=0), which is what dockyard serves."""

    def __init__(self, kind: str, daemon: DaemonHandle, config_dir: Path):
        self.kind = kind
        self.daemon = daemon
        self.config_dir = config_dir
        config_dir.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"Client({self.kind})"

    def argv(self, *args: str) -> list[str]:
        if self.kind == "docker":
            return [shutil.which("docker") or "docker", "-H", self.daemon.host, *args]
        return [DOCKYARD, "-H", self.daemon.host, *args]

    def env(self, extra: dict | None = None) -> dict:
        env = {**os.environ, "DOCKER_CONFIG": str(self.config_dir), "DOCKER_BUILDKIT": "0"}
        for name in ("DOCKER_HOST", "DOCKYARD_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY"):
            env.pop(name, None)
        env.update(extra or {})
        return env

    def __call__(self, *args: str, input: bytes | str | None = None, timeout: float = 120, check: bool = True,
                 cwd: Path | str | None = None, env: dict | None = None) -> Result:
        return _run(self.argv(*args), env=self.env(env), input=input, timeout=timeout, check=check, cwd=cwd)

    def out(self, *args: str, **kw) -> str:
        return self(*args, **kw).out

    def popen(self, *args: str, cwd: Path | str | None = None) -> subprocess.Popen:
        return subprocess.Popen(self.argv(*args), env=self.env(), cwd=cwd, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)

    def pty_argv(self, *args: str) -> list[str]:
        """argv for tests.support.ptyrun (which inherits this process's environment)."""
        return ["env", f"DOCKER_CONFIG={self.config_dir}", "DOCKER_BUILDKIT=0", *self.argv(*args)]

    def inspect(self, name: str, kind: str = "container") -> dict:
        return json.loads(self.out(kind, "inspect", name))[0]


class Compose:
    """`dockyard compose` or docker-compose 1.29 on one project directory."""

    def __init__(self, kind: str, daemon: DaemonHandle, directory: Path, project: str, config_dir: Path):
        self.kind = kind
        self.daemon = daemon
        self.directory = directory
        self.project = project
        self.config_dir = config_dir
        config_dir.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"Compose({self.kind})"

    def argv(self, *args: str) -> list[str]:
        if self.kind == "docker-compose":
            return [shutil.which("docker-compose") or "docker-compose", "-p", self.project, *args]
        return [DOCKYARD, "-H", self.daemon.host, "compose", "-p", self.project, *args]

    def env(self) -> dict:
        env = {**os.environ, "DOCKER_CONFIG": str(self.config_dir), "DOCKER_BUILDKIT": "0",
               "COMPOSE_DOCKER_CLI_BUILD": "0", "COMPOSE_INTERACTIVE_NO_CLI": "1"}
        for name in ("DOCKYARD_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "COMPOSE_PROJECT_NAME"):
            env.pop(name, None)
        env["DOCKER_HOST"] = self.daemon.host
        return env

    def write(self, text: str, name: str = "docker-compose.yml") -> Path:
        import textwrap
        path = self.directory / name
        path.write_text(textwrap.dedent(text))
        return path

    def __call__(self, *args: str, timeout: float = 600, check: bool = True, input: bytes | str | None = None) -> Result:
        return _run(self.argv(*args), env=self.env(), input=input, timeout=timeout, check=check, cwd=self.directory)

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(self.argv(*args), env=self.env(), cwd=self.directory, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)

    # The daemon's view, the same for both tools: Compose's labels.
    def ids(self, service: str | None = None, running_only: bool = False) -> list[str]:
        args = ["ps", "-q", "--no-trunc", "--filter", f"label=com.docker.compose.project={self.project}"]
        if not running_only:
            args.insert(1, "-a")
        if service:
            args += ["--filter", f"label=com.docker.compose.service={service}"]
        return _run([DOCKYARD, "-H", self.daemon.host, *args], env=dict(os.environ), input=None, timeout=60,
                    check=True, cwd=None).out.split()

    def id(self, service: str) -> str:
        ids = self.ids(service)
        assert len(ids) == 1, f"expected one container of service {service}, found {ids}"
        return ids[0]

    def state(self, service: str) -> dict:
        out = _run([DOCKYARD, "-H", self.daemon.host, "inspect", self.id(service)], env=dict(os.environ),
                   input=None, timeout=60, check=True, cwd=None).out
        return json.loads(out)[0]["State"]

    def down_quietly(self) -> None:
        self("down", "-v", "--remove-orphans", "-t", "1", check=False, timeout=180)


@dataclass
class Tracker:
    """What a test made, removed afterwards (whatever the test's outcome)."""
    daemon: DaemonHandle
    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    processes: list[subprocess.Popen] = field(default_factory=list)
    composes: list[Compose] = field(default_factory=list)

    def container(self, name: str) -> str:
        self.containers.append(name)
        return name

    def network(self, name: str) -> str:
        self.networks.append(name)
        return name

    def volume(self, name: str) -> str:
        self.volumes.append(name)
        return name

    def image(self, name: str) -> str:
        self.images.append(name)
        return name

    def cleanup(self) -> None:
        def cli(*args: str) -> None:
            with contextlib.suppress(Exception):
                subprocess.run([DOCKYARD, "-H", self.daemon.host, *args], capture_output=True, timeout=120)

        for proc in self.processes:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, 9)
                proc.wait()
        for compose in self.composes:
            compose.down_quietly()
            ids = subprocess.run([DOCKYARD, "-H", self.daemon.host, "ps", "-aq", "--filter",
                                  f"label=com.docker.compose.project={compose.project}"],
                                 capture_output=True, text=True).stdout.split()
            if ids:
                cli("rm", "-f", "-v", *ids)
            vols = subprocess.run([DOCKYARD, "-H", self.daemon.host, "volume", "ls", "-q", "--filter",
                                   f"label=com.docker.compose.project={compose.project}"],
                                  capture_output=True, text=True).stdout.split()
            if vols:
                cli("volume", "rm", "-f", *vols)
            nets = subprocess.run([DOCKYARD, "-H", self.daemon.host, "network", "ls", "-q", "--filter",
                                   f"label=com.docker.compose.project={compose.project}"],
                                  capture_output=True, text=True).stdout.split()
            if nets:
                cli("network", "rm", *nets)
        if self.containers:
            cli("rm", "-f", "-v", *self.containers)
        for network in self.networks:
            cli("network", "rm", network)
        if self.volumes:
            cli("volume", "rm", "-f", *self.volumes)
        for image in self.images:
            cli("rmi", "-f", image)


@contextlib.contextmanager
def file_server(directory: Path) -> Iterator[str]:
    """A plain HTTP server on 127.0.0.1 serving `directory`; yields its base URL."""
    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(directory), **kwargs)

        def log_message(self, *args):  # keep pytest's output clean
            pass

    with http_server(Handler) as url:
        yield url


def read_until(proc: subprocess.Popen, marker: str, timeout: float = 30) -> str:
    """Read a streaming command's output (`logs -f`) until `marker` shows up."""
    import selectors

    text = ""
    deadline = time.monotonic() + timeout
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    try:
        while marker not in text:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{marker!r} did not show up within {timeout}s; got:\n{text[-3000:]}")
            if sel.select(min(remaining, 0.5)):
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    if marker in text:
                        break
                    raise AssertionError(f"stream ended (rc={proc.poll()}) before {marker!r}; got:\n{text[-3000:]}")
                text += chunk.decode(errors="replace")
    finally:
        sel.close()
    return text


def stop_stream(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()

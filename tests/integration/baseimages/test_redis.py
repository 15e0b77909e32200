# SPDX-License-Identifier: Apache-2.0
"""The redis stand-in (Debian's Redis 7): `redis-cli ping` through exec, the server
reachable from another container by IP (listening on all addresses, protected mode off),
running as the redis user in /data, and the entrypoint putting redis-server in front of
options."""

from __future__ import annotations

import json
import time
import uuid

import pytest

pytestmark = pytest.mark.requires_root


def _unique(kind: str) -> str:
    return f"test-redis-{kind}-{uuid.uuid4().hex[:10]}"


def _wait_ping(daemon, container: str, *cli_args: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = daemon.cli("exec", container, "redis-cli", *cli_args, "ping", check=False)
        if result.returncode == 0 and result.stdout.strip() == b"PONG":
            return
        if time.monotonic() > deadline:
            logs = daemon.cli("logs", container, check=False)
            raise AssertionError(f"{container} does not answer PING:\n{logs.stdout.decode(errors='replace')}"
                                 f"{logs.stderr.decode(errors='replace')}")
        time.sleep(0.1)


def _cli(daemon, container: str, *args: str) -> str:
    return daemon.cli("exec", container, "redis-cli", *args).stdout.decode().strip()


def test_ping_and_reach_from_another_container(daemon, base_image):
    image = base_image("redis")
    config = json.loads(daemon.cli("image", "inspect", image).stdout)[0]["Config"]
    assert config["Cmd"] == ["redis-server"]
    assert config["WorkingDir"] == "/data"
    assert "/data" in config["Volumes"]
    assert "6379/tcp" in config["ExposedPorts"]
    name = _unique("server")
    try:
        daemon.cli("run", "-d", "--name", name, image)
        _wait_ping(daemon, name)
        assert _cli(daemon, name, "config", "get", "protected-mode").splitlines() == ["protected-mode", "no"]
        assert _cli(daemon, name, "config", "get", "dir").splitlines() == ["dir", "/data"]
        assert _cli(daemon, name, "set", "greeting", "hello") == "OK"
        # The server runs as redis (uid 999), not root.
        owner = daemon.cli("exec", name, "stat", "-c", "%u", "/proc/1").stdout.strip()
        assert owner == b"999"

        ip = daemon.cli("inspect", "-f", "{{.NetworkSettings.IPAddress}}", name).stdout.decode().strip()
        assert ip
        other = daemon.cli("run", "--rm", image, "redis-cli", "-h", ip, "get", "greeting")
        assert other.stdout.strip() == b"hello"

        # SAVE writes the dump into /data.
        assert _cli(daemon, name, "save") == "OK"
        listing = daemon.cli("exec", name, "ls", "/data").stdout.split()
        assert b"dump.rdb" in listing

        started = time.monotonic()
        daemon.cli("stop", name)
        assert time.monotonic() - started < 5
    finally:
        daemon.cli("rm", "-f", "-v", name, check=False)


def test_options_go_to_redis_server(daemon, base_image):
    image = base_image("redis")
    name = _unique("opts")
    try:
        daemon.cli("run", "-d", "--name", name, image, "--port", "7001", "--appendonly", "yes")
        _wait_ping(daemon, name, "-p", "7001")
        assert _cli(daemon, name, "-p", "7001", "config", "get", "appendonly").splitlines() == ["appendonly", "yes"]
        assert _cli(daemon, name, "-p", "7001", "config", "get", "protected-mode").splitlines() == [
            "protected-mode", "no"]
    finally:
        daemon.cli("rm", "-f", "-v", name, check=False)

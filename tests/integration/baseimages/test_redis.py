# SPDX-License-Identifier: Apache-2.0
"""The redis stand-in (Debian's Redis 7): `redis-cli ping` through exec, the server
reachable from another container by IP (listening on all addresses, protected mode off),
running as the redis user in /data, and the entrypoint putting redis-server in front of
options."""

from __future__ import annotations

import pytest

from tests.support import containers

pytestmark = pytest.mark.requires_root


def _wait_ping(daemon, container: str, *cli_args: str) -> None:
    containers.wait_command(daemon, container, "redis-cli", *cli_args, "ping", expect=b"PONG",
                            timeout=20, interval=0.1)


def _cli(daemon, container: str, *args: str) -> str:
    return containers.output(daemon.cli("exec", container, "redis-cli", *args))


def test_ping_and_reach_from_another_container(daemon, base_image):
    image = base_image("redis")
    config = containers.image_config(daemon, image)
    assert config["Cmd"] == ["redis-server"]
    assert config["WorkingDir"] == "/data"
    assert "/data" in config["Volumes"]
    assert "6379/tcp" in config["ExposedPorts"]
    with containers.running(daemon, image, prefix="test-redis-server") as name:
        _wait_ping(daemon, name)
        assert _cli(daemon, name, "config", "get", "protected-mode").splitlines() == ["protected-mode", "no"]
        assert _cli(daemon, name, "config", "get", "dir").splitlines() == ["dir", "/data"]
        assert _cli(daemon, name, "set", "greeting", "hello") == "OK"
        # The server runs as redis (uid 999), not root.
        owner = daemon.cli("exec", name, "stat", "-c", "%u", "/proc/1").stdout.strip()
        assert owner == b"999"

        ip = containers.output(daemon.cli("inspect", "-f", "{{.NetworkSettings.IPAddress}}", name))
        assert ip
        assert containers.run_once(daemon, image, "redis-cli", "-h", ip, "get", "greeting") == "hello"

        # SAVE writes the dump into /data.
        assert _cli(daemon, name, "save") == "OK"
        listing = daemon.cli("exec", name, "ls", "/data").stdout.split()
        assert b"dump.rdb" in listing

        containers.assert_quick_stop(daemon, name, 5, exit_code=None)


def test_options_go_to_redis_server(daemon, base_image):
    image = base_image("redis")
    options = ("--port", "7001", "--appendonly", "yes")
    with containers.running(daemon, image, *options, prefix="test-redis-opts") as name:
        _wait_ping(daemon, name, "-p", "7001")
        assert _cli(daemon, name, "-p", "7001", "config", "get", "appendonly").splitlines() == ["appendonly", "yes"]
        assert _cli(daemon, name, "-p", "7001", "config", "get", "protected-mode").splitlines() == [
            "protected-mode", "no"]

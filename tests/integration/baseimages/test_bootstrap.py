# SPDX-License-Identifier: Apache-2.0
"""Offline base images end to end: a pull that finds no registry offers the build, builds
it when allowed, and every later daemon on the machine loads it from the shared cache.
Uses a cache directory of its own, so the debian-slim bootstrap really runs here."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.support.daemon import running_daemon
from tests.support.ptyrun import run_on_pty

pytestmark = pytest.mark.requires_root

BIN = Path(__file__).resolve().parents[3] / ".venv" / "bin"


@pytest.fixture
def cache_dir(tmp_path):
    return tmp_path / "base-image-cache"


def test_pull_offers_then_bootstraps_then_caches(cache_dir):
    with running_daemon(["--base-image-cache", str(cache_dir)]) as daemon:
        refused = daemon.cli("pull", "debian:12-slim", check=False)
        assert refused.returncode == 1
        message = refused.stderr.decode()
        assert "dockyard image bootstrap debian-slim" in message and "dockyard pull --bootstrap" in message
        assert message.count("\n") == 1  # one line
        assert daemon.cli("images", "-q").stdout == b""

        # On a terminal the offer is a question; "n" keeps things as they were.
        status, shown = run_on_pty([str(BIN / "dockyard"), "-H", daemon.host, "pull", "debian:12-slim"],
                                   [(1.0, b"n\n")], timeout=30)
        assert status == 1 and b"Build it from Debian packages now" in shown
        assert daemon.cli("images", "-q").stdout == b""

        started = time.monotonic()
        out = daemon.cli("pull", "--bootstrap", "debian:12-slim", timeout=600).stdout.decode()
        assert "Building debian:bookworm-slim" in out and "Status: Built newer image" in out
        assert out.rstrip().endswith("docker.io/library/debian:12-slim")
        first = time.monotonic() - started
        tags = daemon.cli("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.decode().split()
        assert sorted(tags) == ["debian:12-slim", "debian:bookworm-slim", "debian:stable-slim"]
        inspect = json.loads(daemon.cli("image", "inspect", "debian:bookworm-slim").stdout)[0]
        assert inspect["Config"]["Cmd"] == ["bash"]
        assert inspect["Config"]["Labels"]["org.dockyard.base-image"].startswith("debian-slim@")
        assert inspect["Size"] < 100_000_000
        # The image as the official one: Debian 12, no host name or resolver baked in, no
        # device nodes, docs left out, services kept from starting by package installs.
        check = daemon.cli("run", "--rm", "debian:bookworm-slim", "sh", "-c",
                           ". /etc/os-release; echo $VERSION_ID; ls /usr/share/man | wc -l; "
                           "/usr/sbin/policy-rc.d; echo policy=$?; ls /usr/share/doc/bash").stdout.decode()
        assert check.split() == ["12", "0", "policy=101", "copyright"]
        listing = daemon.cli("image", "bootstrap", "--list", "--format", "{{.Name}} {{.Status}}").stdout.decode()
        assert "debian-slim here" in listing.splitlines()

    assert [p.name.startswith("debian-slim-") for p in cache_dir.iterdir()] == [True]
    with running_daemon(["--base-image-cache", str(cache_dir)]) as other:
        started = time.monotonic()
        out = other.cli("pull", "debian:bookworm-slim").stdout.decode()  # no --bootstrap needed
        assert "from the base-image cache" in out
        assert time.monotonic() - started < max(10.0, first / 2)
        assert other.cli("run", "--rm", "debian:stable-slim", "true").returncode == 0


def test_unknown_names_and_tags_are_plain_pull_errors(daemon):
    for name in ("debian:sid", "python:2.7", "no-such-thing"):
        result = daemon.cli("pull", "--bootstrap", name, check=False)
        assert result.returncode == 1
        assert b"bootstrap" not in result.stderr, name
    result = daemon.cli("image", "bootstrap", "no-such-thing", check=False)
    assert result.returncode == 1 and b"no offline base image 'no-such-thing'" in result.stderr

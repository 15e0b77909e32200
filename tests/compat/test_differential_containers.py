# SPDX-License-Identifier: Apache-2.0
"""The same docker CLI commands against dockyard and against a real Docker engine:
inspect shapes and values, `ps --format json`, event sequences and exit codes agree."""

from __future__ import annotations

import json
import time

import pytest

from tests.support.dockerd import running_dockerd

pytestmark = [pytest.mark.requires_root, pytest.mark.compat]


@pytest.fixture(scope="module")
def engines(daemon, tmp_path_factory):
    with running_dockerd() as engine:
        daemon.cli("run", "--rm", "busybox", "true")
        archive = tmp_path_factory.mktemp("img") / "busybox.tar"
        daemon.cli("save", "-o", str(archive), "busybox")
        engine.docker("load", "-i", str(archive))
        yield {"dockyard": daemon.docker, "docker": engine.docker}


def _both(engines, *args, **kwargs):
    return {name: run(*args, **kwargs) for name, run in engines.items()}


@pytest.mark.parametrize("command, code", [
    (["true"], 0),
    (["sh", "-c", "exit 3"], 3),
    (["no-such-command"], 127),
    (["/etc/passwd"], 126),
    (["sh", "-c", "sleep 10 & kill -9 $!; wait $!"], 137),
])
def test_exit_codes_agree(engines, command, code):
    results = _both(engines, "run", "--rm", "--network", "none", "busybox", *command, check=False)
    assert {name: r.returncode for name, r in results.items()} == {"dockyard": code, "docker": code}


def test_inspect_shape_and_values_agree(engines):
    args = ["create", "--network", "none", "--name", "diff-inspect", "-e", "A=1", "-w", "/tmp",
            "--label", "x=y", "-u", "nobody", "--restart", "on-failure:2", "--stop-signal", "SIGINT",
            "busybox", "sh", "-c", "echo hi"]
    _both(engines, *args)
    try:
        docs = {name: json.loads(run("inspect", "diff-inspect").stdout)[0] for name, run in engines.items()}
        ours, theirs = docs["dockyard"], docs["docker"]
        assert set(theirs) - set(ours) <= {"Node"}
        assert set(theirs["State"]) <= set(ours["State"])
        assert set(theirs["Config"]) <= set(ours["Config"])
        missing_hc = set(theirs["HostConfig"]) - set(ours["HostConfig"])
        assert not missing_hc, missing_hc
        for key in ("Path", "Args", "Name", "RestartCount", "Driver", "Platform"):
            assert ours[key] == theirs[key], key
        for key in ("Cmd", "Entrypoint", "WorkingDir", "User", "Labels", "StopSignal", "Tty",
                    "OpenStdin", "AttachStdout", "Image"):
            assert ours["Config"][key] == theirs["Config"][key], key
        assert sorted(ours["Config"]["Env"]) == sorted(theirs["Config"]["Env"])
        for key in ("RestartPolicy", "NetworkMode", "AutoRemove", "Privileged", "ShmSize", "LogConfig"):
            assert ours["HostConfig"][key] == theirs["HostConfig"][key], key
        assert ours["State"]["Status"] == theirs["State"]["Status"] == "created"
        assert ours["Image"] == theirs["Image"]
    finally:
        _both(engines, "rm", "diff-inspect")


def test_ps_json_agrees(engines):
    _both(engines, "run", "-d", "--network", "none", "--name", "diff-ps", "--label", "k=v",
          "busybox", "sleep", "300")
    try:
        rows = {name: json.loads(run("ps", "--filter", "name=diff-ps", "--format", "{{json .}}").stdout)
                for name, run in engines.items()}
        ours, theirs = rows["dockyard"], rows["docker"]
        assert set(ours) == set(theirs)
        for key in ("Command", "Image", "Labels", "Names", "State", "Networks", "Ports", "Mounts"):
            assert ours[key] == theirs[key], key
        assert ours["Status"].startswith("Up ") and theirs["Status"].startswith("Up ")
    finally:
        _both(engines, "rm", "-f", "diff-ps")


def test_event_sequences_agree(engines):
    since = str(int(time.time()) - 1)
    _both(engines, "run", "--rm", "--network", "none", "--label", "diffev=1", "busybox", "true")
    _both(engines, "run", "-d", "--network", "none", "--name", "diff-ev", "--label", "diffev=1", "busybox", "sleep", "30")
    _both(engines, "stop", "-t", "1", "diff-ev")
    _both(engines, "rm", "diff-ev")
    until = str(int(time.time()) + 1)
    sequences = {}
    for name, run in engines.items():
        out = run("events", "--since", since, "--until", until, "--filter", "label=diffev=1",
                  "--format", "{{.Type}} {{.Action}}").stdout.decode().splitlines()
        sequences[name] = [line for line in out if line.startswith("container ")]
    assert sequences["dockyard"] == sequences["docker"], "\n".join(f"{k}: {v}" for k, v in sequences.items())

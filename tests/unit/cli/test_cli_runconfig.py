# SPDX-License-Identifier: Apache-2.0
"""run/create flags → create body, checked against what Docker's CLI sends for the same flags.

`docker_create_bodies.json` was recorded from docker 28.2.2 (API 1.45) pointed at a
socket that logged each `POST /containers/create`. Every key we send must equal
Docker's; Docker also sends zero values for fields we leave out, which mean the same.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlencode

import pytest

from dockyard.cli.run import CREATE, RUN
from dockyard.cli.runconfig import FlagError, build_create_body, parse_bytes, parse_restart

FIXTURE = json.loads((Path(__file__).parent / "docker_create_bodies.json").read_text())


def _mismatches(ours, docker, path=""):
    if isinstance(ours, dict) and isinstance(docker, dict):
        out = []
        for key, value in ours.items():
            if key not in docker:
                out.append(f"{path}.{key} not sent by docker")
            else:
                out += _mismatches(value, docker[key], f"{path}.{key}")
        return out
    if path.endswith(".Binds") and ours and docker:
        # Docker builds Binds from a map, so its order is not the flags' order.
        ours, docker = sorted(ours), sorted(docker)
    return [] if ours == docker else [f"{path}: ours {ours!r} docker {docker!r}"]


def _build(args, envfile):
    command, argv = args[0], [a.replace("{ENVFILE}", envfile) for a in args[1:]]
    spec = RUN if command == "run" else CREATE
    opts, rest = spec.parse(argv)
    body = build_create_body(
        opts, rest, detach=getattr(opts, "detach", False), environ=FIXTURE["env"]
    )
    query = urlencode([(k, v) for k, v in (("name", opts.name), ("platform", opts.platform)) if v])
    return body, query


@pytest.fixture(scope="module")
def envfile(tmp_path_factory):
    path = tmp_path_factory.mktemp("env") / "envf"
    path.write_text(FIXTURE["envfile"])
    return str(path)


@pytest.mark.parametrize("case", FIXTURE["cases"], ids=lambda c: " ".join(c["args"]))
def test_body_matches_docker(case, envfile):
    body, query = _build(case["args"], envfile)
    assert _mismatches(body, case["body"]) == []
    assert query == case["query"]


def test_command_stops_flag_parsing_at_the_image():
    opts, args = RUN.parse(["-d", "busybox", "ls", "-l", "--rm"])
    assert opts.detach and not opts.rm
    assert args == ["busybox", "ls", "-l", "--rm"]


def test_env_without_value_is_taken_from_our_environment():
    opts, args = RUN.parse(["-e", "HOME", "-e", "UNSET_X", "-e", "A=b=c", "busybox"])
    body = build_create_body(opts, args, environ={"HOME": "/root"})
    assert body["Env"] == ["HOME=/root", "UNSET_X", "A=b=c"]


def test_rm_and_restart_conflict():
    opts, args = RUN.parse(["--rm", "--restart", "always", "busybox"])
    with pytest.raises(FlagError, match="cannot specify both --restart and --rm"):
        build_create_body(opts, args, environ={})


def test_console_size_only_with_tty():
    opts, args = RUN.parse(["-it", "busybox"])
    assert build_create_body(opts, args, environ={}, console_size=(40, 120))["HostConfig"][
        "ConsoleSize"
    ] == [40, 120]
    opts, args = RUN.parse(["-i", "busybox"])
    assert build_create_body(opts, args, environ={}, console_size=(40, 120))["HostConfig"][
        "ConsoleSize"
    ] == [0, 0]


@pytest.mark.parametrize(
    "flags, message",
    [
        (["-p", "80:90:100:110"], "invalid port format"),
        (["-p", "1000-1002:80-81"], "invalid ranges"),
        (["-p", "80/xyz"], "invalid proto"),
        (["-m", "lots"], "invalid size"),
        (["--restart", "sometimes"], "invalid restart policy"),
        (["--restart", "always:3"], "maximum retry count"),
        (["--network-alias", "a"], "only supported for user-defined networks"),
        (["--ulimit", "nofile=10:5"], "soft limit"),
        (["-a", "stdio"], "valid streams"),
    ],
)
def test_values_docker_rejects(flags, message):
    opts, args = RUN.parse([*flags, "busybox"])
    with pytest.raises(FlagError, match=message):
        build_create_body(opts, args, environ={})


def test_detach_with_attach_conflicts():
    opts, args = RUN.parse(["-d", "-a", "stdout", "busybox"])
    with pytest.raises(FlagError, match="conflicting options"):
        build_create_body(opts, args, detach=True, environ={})


def test_sizes_and_restart_values():
    assert parse_bytes("64m") == 64 * 1024**2
    assert parse_bytes("1g") == 1024**3
    assert parse_bytes("512") == 512
    assert parse_bytes("2kb") == 2048
    assert parse_restart("on-failure:5") == {"Name": "on-failure", "MaximumRetryCount": 5}
    assert parse_restart("unless-stopped") == {"Name": "unless-stopped", "MaximumRetryCount": 0}


def test_missing_env_file_is_reported(tmp_path):
    opts, args = RUN.parse(["--env-file", str(tmp_path / "nope"), "busybox"])
    with pytest.raises(FlagError, match="no such file or directory"):
        build_create_body(opts, args, environ={})


def test_env_file_rejects_whitespace_in_names(tmp_path):
    path = tmp_path / "env"
    path.write_text("BAD NAME=1\n")
    opts, args = RUN.parse(["--env-file", str(path), "busybox"])
    with pytest.raises(FlagError, match="contains whitespaces"):
        build_create_body(opts, args, environ=dict(os.environ))

# SPDX-License-Identifier: Apache-2.0
"""Differential checks against a real Docker engine: the same docker CLI commands against
both, then `volume inspect`, container `Mounts` and the errors for bad mount specs are
compared (paths under each engine's data root and generated names aside)."""

from __future__ import annotations

import json
import re

import pytest

from tests.support.dockerd import running_dockerd

pytestmark = [pytest.mark.requires_root, pytest.mark.compat]


@pytest.fixture(scope="module")
def engine(daemon):
    with running_dockerd() as handle:
        daemon.cli("run", "--rm", "busybox", "true")
        handle.docker("load", input=daemon.cli("save", "busybox").stdout)
        yield handle


def _both(daemon, engine, *args, check=True):
    return daemon.docker(*args, check=check), engine.docker(*args, check=check)


def _normal(value, roots: list[str], names: dict[str, str]):
    """`value` with each engine's volumes directory written as <root> and generated
    (64-hex) volume names numbered in order of appearance."""
    text = json.dumps(value, sort_keys=True)
    for root in roots:
        text = text.replace(root, "<root>")

    def number(match: re.Match) -> str:
        return names.setdefault(match.group(0), f"<anon{len(names)}>")

    return json.loads(re.sub(r"\b[0-9a-f]{64}\b", number, text))


def test_volume_inspect_matches_docker(daemon, engine, unique):
    ours_root = str(daemon.data_root / "volumes")
    theirs_root = json.loads(engine.docker("info", "--format", "{{json .DockerRootDir}}").stdout) + "/volumes"
    for args in (["--label", "app=db", "--label", "tier", f"{unique}-a"],
                 ["-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m", f"{unique}-b"],
                 [f"{unique}-c"]):
        _both(daemon, engine, "volume", "create", *args)
        name = args[-1]
        ours, theirs = (json.loads(r.stdout)[0] for r in _both(daemon, engine, "volume", "inspect", name))
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)", ours.pop("CreatedAt"))
        theirs.pop("CreatedAt")
        assert _normal(ours, [ours_root], {}) == _normal(theirs, [theirs_root], {})
        ours_ls, theirs_ls = (r.stdout.decode().split() for r in _both(
            daemon, engine, "volume", "ls", "--format", "{{.Driver}} {{.Name}} {{.Scope}} {{.Labels}}", "-f", f"name={name}"))
        assert ours_ls[:3] == theirs_ls[:3]
        # Docker joins the labels in Go's random map order.
        assert sorted("".join(ours_ls[3:]).split(",")) == sorted("".join(theirs_ls[3:]).split(","))
    _both(daemon, engine, "volume", "rm", f"{unique}-a", f"{unique}-b", f"{unique}-c")


def test_container_mounts_match_docker(daemon, engine, unique, tmp_path):
    ours_root = str(daemon.data_root / "volumes")
    theirs_root = json.loads(engine.docker("info", "--format", "{{json .DockerRootDir}}").stdout) + "/volumes"
    host = str(tmp_path)
    args = ["create", "--name", f"{unique}-src",
            "-v", f"{unique}-n1:/data", "-v", f"{host}:/h:ro", "-v", "/anon", "-v", f"{unique}-n3:/d3:ro,nocopy",
            "-v", f"{host}:/h2:rw,rslave", "-v", f"{unique}-n4:/d4:Z",
            "--tmpfs", "/t:size=1m",
            "--mount", "type=tmpfs,target=/mt,tmpfs-size=1000000,tmpfs-mode=1700",
            "--mount", f"type=volume,source={unique}-n2,target=/n2,readonly,volume-nocopy",
            "--mount", f"type=bind,source={host},target=/mb,bind-propagation=rslave",
            "busybox", "true"]
    _both(daemon, engine, *args)
    ours, theirs = (json.loads(r.stdout)[0] for r in _both(daemon, engine, "inspect", f"{unique}-src"))
    ours_mounts = sorted(ours["Mounts"], key=lambda m: m["Destination"])
    theirs_mounts = sorted(theirs["Mounts"], key=lambda m: m["Destination"])
    assert _normal(ours_mounts, [ours_root], {}) == _normal(theirs_mounts, [theirs_root], {})
    assert sorted(ours["HostConfig"]["Binds"]) == sorted(theirs["HostConfig"]["Binds"])
    for key in ("Mounts", "Tmpfs"):
        assert ours["HostConfig"][key] == theirs["HostConfig"][key]
    assert ours["Config"]["Volumes"] == theirs["Config"]["Volumes"]
    # (Docker 20.10 cannot take volumes from a container with a --mount tmpfs: its
    # VolumesFrom looks a volume up by the tmpfs' empty name.)
    _both(daemon, engine, "create", "--name", f"{unique}-vsrc", "-v", f"{unique}-n1:/data", "-v", f"{host}:/h:ro",
          "-v", "/anon", "--mount", f"type=volume,source={unique}-n2,target=/n2,readonly",
          "--mount", f"type=bind,source={host},target=/mb,bind-propagation=rslave", "busybox", "true")
    for mode in ("", ":ro", ":rw"):
        dst = f"{unique}-dst{mode.replace(':', '-')}"
        _both(daemon, engine, "create", "--name", dst, "--volumes-from", f"{unique}-vsrc{mode}", "busybox", "true")
        ours, theirs = (json.loads(r.stdout)[0] for r in _both(daemon, engine, "inspect", dst))
        key = lambda m: m["Destination"]  # noqa: E731
        assert _normal(sorted(ours["Mounts"], key=key), [ours_root], {}) == \
            _normal(sorted(theirs["Mounts"], key=key), [theirs_root], {})
        _both(daemon, engine, "rm", dst)
    in_use = _both(daemon, engine, "volume", "rm", f"{unique}-n1", check=False)
    assert [r.returncode for r in in_use] == [1, 1]
    assert in_use[0].stderr.decode().split(" - [")[0] == in_use[1].stderr.decode().split(" - [")[0]
    _both(daemon, engine, "rm", "-v", f"{unique}-src", f"{unique}-vsrc")
    _both(daemon, engine, "volume", "rm", *(f"{unique}-n{i}" for i in (1, 2, 3, 4)))


@pytest.mark.parametrize("args", [
    ["-v", "/tmp:/"],
    ["-v", "vol-x:/"],
    ["-v", "vol-x:relative"],
    ["-v", "vol-x:/x:bogus"],
    ["-v", "vol-x:/x:ro,rw"],
    ["-v", "/tmp:/x:nocopy"],
    ["-v", "vol-x:/x:rshared"],
    ["-v", "vol-x:/x", "-v", "vol-y:/x"],
    ["-v", "vol-x:/x", "--tmpfs", "/x"],
    ["--mount", "type=bind,source=/nonexistent-dir,target=/x"],
    ["--mount", "type=bind,source=/tmp,target=/"],
    ["--mount", "type=volume,target=/x,readonly"],
    ["--mount", "type=tmpfs,target=/x,source=abc"],
    ["--volumes-from", "no-such-container:bogus"],
])
def test_mount_errors_match_docker(daemon, engine, args):
    ours, theirs = _both(daemon, engine, "create", *args, "busybox", "true", check=False)
    assert ours.returncode == theirs.returncode != 0
    assert ours.stderr.decode().splitlines()[0] == theirs.stderr.decode().splitlines()[0]

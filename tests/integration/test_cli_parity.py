# SPDX-License-Identifier: Apache-2.0
"""`dockyard X` against `docker X` on the same daemon, for what a comparison of the two
CLIs found different: system prune, prune prompts, help, history's human form, contexts
and bad hosts (a one-line error, never a traceback), tabs in --format strings, system df."""

import json
import os

import pytest

pytestmark = pytest.mark.requires_root


def test_system_prune_and_prune_prompts(fresh_daemon):
    # Its own daemon: a system prune on the shared one would take other tests' state.
    daemon = fresh_daemon
    stopped = daemon.cli("create", "--network", "none", "--label", "sp=1", "busybox", "true").stdout.decode().strip()
    daemon.cli("network", "create", "cliparity-unused")
    # No answer on stdin is "no": nothing goes, exit 0, Docker's warning shown.
    asked = daemon.cli("system", "prune")
    assert asked.returncode == 0 and b"WARNING! This will remove:\n  - all stopped containers\n" in asked.stdout
    assert daemon.cli("inspect", stopped, check=False).returncode == 0
    asked = daemon.cli("builder", "prune")
    assert asked.stdout.startswith(b"WARNING! This will remove all dangling build cache. Are you sure you want to continue? [y/N] ")
    assert daemon.cli("image", "prune").returncode == 0  # answered no: not an error
    out = daemon.cli("system", "prune", "-f").stdout.decode()
    assert out.startswith("Deleted Containers:\n") and stopped in out.split("\n\n")[0]
    assert "cliparity-unused" in out
    assert out.rstrip().splitlines()[-1].startswith("Total reclaimed space: ")
    assert daemon.cli("inspect", stopped, check=False).returncode == 1
    result = daemon.cli("system", "prune", "-f", "--volumes", "--filter", "until=1h", check=False)
    assert result.returncode == 1 and b'The "until" filter is not supported with "--volumes"' in result.stderr


def test_help_history_and_templates(daemon):
    daemon.cli("pull", "busybox")
    assert daemon.cli("help", "ps").stdout.decode().lstrip().startswith("Usage:  dockyard ps [OPTIONS]")
    assert b"Common Commands:" in daemon.cli("help").stdout
    table = daemon.cli("history", "busybox").stdout.decode().splitlines()
    assert table[0].split()[:2] == ["IMAGE", "CREATED"] and "ago" in table[1]
    raw = daemon.cli("history", "-H=false", "busybox").stdout.decode().splitlines()
    assert "CREATED AT" in raw[0] and "T00:00:00Z" in raw[1]
    row = json.loads(daemon.cli("history", "--format", "json", "busybox").stdout.decode().splitlines()[0])
    assert list(row) == sorted(row) and row["Size"].endswith("B")
    cid = daemon.cli("create", "--network", "none", "--name", "cliparity-tab", "busybox", "true").stdout.decode().strip()
    try:
        for fmt in ('{{.Names}}{{"\\t"}}{{.Image}}', '{{printf "%s\\t%s" .Names .Image}}'):
            out = daemon.cli("ps", "-a", "--filter", "id=" + cid, "--format", fmt).stdout
            assert out == b"cliparity-tab\tbusybox\n", fmt
    finally:
        daemon.cli("rm", "-f", cid)
    df = [json.loads(line) for line in daemon.cli("system", "df", "--format", "{{json .}}").stdout.decode().splitlines()]
    assert [r["Type"] for r in df] == ["Images", "Containers", "Local Volumes", "Build Cache"]
    assert all(isinstance(r["TotalCount"], str) and list(r) == sorted(r) for r in df)
    for row in df[:3]:
        if "(" in row["Reclaimable"]:
            assert int(row["Reclaimable"].rpartition("(")[2].rstrip("%)")) <= 100, row


def test_contexts_and_bad_hosts_fail_in_one_line(daemon, tmp_path):
    import subprocess

    from tests.support.daemon import BIN

    def dockyard(*args, env=None):
        base = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKYARD_HOST", "DOCKER_CONTEXT")}
        return subprocess.run([str(BIN / "dockyard"), *args], capture_output=True, timeout=30,
                              env={**base, "DOCKER_CONFIG": str(tmp_path), **(env or {})})

    for result in (dockyard("-H", "bogus", "ps"), dockyard("ps", env={"DOCKER_HOST": "bogus"})):
        assert result.returncode == 1 and result.stderr == b"error during connect: invalid bind address format: bogus\n"
    for result in (dockyard("--context", "nosuch", "ps"), dockyard("ps", env={"DOCKER_CONTEXT": "nosuch"})):
        assert result.returncode == 1 and b'context "nosuch": context not found' in result.stderr
        assert b"Traceback" not in result.stderr
    # DOCKER_HOST wins over DOCKER_CONTEXT, as with docker.
    overridden = dockyard("version", "--format", "{{.Server.Version}}",
                          env={"DOCKER_CONTEXT": "nosuch", "DOCKER_HOST": daemon.host})
    assert overridden.returncode == 0, overridden.stderr
    # A context made by the docker CLI's context store points dockyard at its daemon.
    meta = tmp_path / "contexts" / "meta"
    import hashlib

    folder = meta / hashlib.sha256(b"cliparity").hexdigest()
    folder.mkdir(parents=True)
    (folder / "meta.json").write_text(json.dumps(
        {"Name": "cliparity", "Metadata": {}, "Endpoints": {"docker": {"Host": daemon.host}}}))
    result = dockyard("--context", "cliparity", "version", "--format", "{{.Server.Version}}")
    assert result.returncode == 0 and result.stdout.strip()

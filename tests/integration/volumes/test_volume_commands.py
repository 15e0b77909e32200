# SPDX-License-Identifier: Apache-2.0
"""`dockyard volume create|ls|inspect|rm|prune` against a real daemon, with Docker's
output, and the Engine API's volume endpoints."""

from __future__ import annotations

import json
import os

import pytest

from tests.integration.volumes.conftest import inspect

pytestmark = pytest.mark.requires_root


def test_create_inspect_ls_rm(daemon, unique):
    name = f"{unique}-db"
    assert daemon.cli("volume", "create", "--label", "app=db", "--label", "tier", name).stdout == f"{name}\n".encode()
    doc = inspect(daemon, "volume", name)
    assert doc["Name"] == name and doc["Driver"] == "local" and doc["Scope"] == "local"
    assert doc["Labels"] == {"app": "db", "tier": ""} and doc["Options"] is None
    assert doc["Mountpoint"] == str(daemon.data_root / "volumes" / name / "_data")
    assert os.path.isdir(doc["Mountpoint"])
    # Creating it again answers with the same volume.
    assert daemon.cli("volume", "create", name).stdout.strip() == name.encode()

    table = daemon.cli("volume", "ls").stdout.decode().splitlines()
    assert table[0] == "DRIVER    VOLUME NAME"
    assert f"local     {name}" in table
    assert daemon.cli("volume", "ls", "-q", "-f", f"name={unique}").stdout.decode().split() == [name]
    assert daemon.cli("volume", "ls", "-q", "-f", "label=app=db", "-f", f"name={unique}").stdout.strip() == name.encode()
    assert daemon.cli("volume", "ls", "-q", "-f", "label=app=web", "-f", f"name={unique}").stdout == b""
    assert daemon.cli("volume", "ls", "-q", "-f", "driver=local", "-f", f"name=^{unique}").stdout.strip() == name.encode()
    row = json.loads(daemon.cli("volume", "ls", "--format", "json", "-f", f"name={unique}").stdout)
    assert row == {"Availability": "N/A", "Driver": "local", "Group": "N/A", "Labels": "app=db,tier=",
                   "Links": "N/A", "Mountpoint": doc["Mountpoint"], "Name": name, "Scope": "local",
                   "Size": "N/A", "Status": "N/A"}
    assert daemon.cli("volume", "ls", "--format", '{{.Name}} {{.Label "app"}}', "-f", f"name={unique}").stdout == f"{name} db\n".encode()
    assert daemon.cli("volume", "inspect", "-f", "{{.Name}}:{{.Driver}}", name).stdout == f"{name}:local\n".encode()

    assert daemon.cli("volume", "rm", name).stdout == f"{name}\n".encode()
    assert not os.path.exists(os.path.dirname(doc["Mountpoint"]))
    gone = daemon.cli("volume", "inspect", name, check=False)
    assert gone.returncode == 1 and gone.stdout == b"[]\n"
    assert gone.stderr.decode().strip() == f"Error response from daemon: get {name}: no such volume"
    assert daemon.cli("volume", "rm", "-f", name).returncode == 0


def test_generated_names_and_bad_input(daemon, unique):
    generated = daemon.cli("volume", "create").stdout.decode().strip()
    assert len(generated) == 64 and all(c in "0123456789abcdef" for c in generated)
    daemon.cli("volume", "rm", generated)
    cases = [
        (["-d", "nope", f"{unique}x"], f'create {unique}x: error looking up volume plugin nope: plugin "nope" not found'),
        (["-o", "foo=bar", f"{unique}y"], f'create {unique}y: invalid option: "foo"'),
        (["-o", "type=tmpfs", f"{unique}z"], f'create {unique}z: missing required option: "device"'),
        (["a"], "create a: volume name is too short, names should be at least two alphanumeric characters"),
        (["bad/name"], 'create bad/name: "bad/name" includes invalid characters for a local volume name'),
    ]
    for args, message in cases:
        result = daemon.cli("volume", "create", *args, check=False)
        assert result.returncode == 1
        assert result.stderr.decode().startswith(f"Error response from daemon: {message}")
    assert daemon.cli("volume", "ls", "-q", "-f", f"name={unique}").stdout == b""
    bad = daemon.cli("volume", "ls", "-f", "bogus=1", check=False)
    assert bad.returncode == 1 and b"Invalid filter 'bogus'" in bad.stderr


def test_rm_refuses_a_volume_in_use(daemon, unique):
    name = f"{unique}-used"
    cid = daemon.cli("create", "-v", f"{name}:/data", "busybox", "true").stdout.decode().strip()
    result = daemon.cli("volume", "rm", name, check=False)
    assert result.returncode == 1
    assert result.stderr.decode().strip() == f"Error response from daemon: remove {name}: volume is in use - [{cid}]"
    assert daemon.cli("volume", "rm", "-f", name, check=False).returncode == 1  # -f does not override it
    assert daemon.cli("volume", "ls", "-q", "-f", "dangling=false", "-f", f"name={unique}").stdout.strip() == name.encode()
    daemon.cli("rm", cid)
    assert daemon.cli("volume", "ls", "-q", "-f", "dangling=true", "-f", f"name={unique}").stdout.strip() == name.encode()
    daemon.cli("volume", "rm", name)


def test_prune_anonymous_by_default_all_with_a_and_label_filters(daemon, unique):
    label = f"suite={unique}"
    named = f"{unique}-named"
    kept = f"{unique}-kept"
    daemon.cli("volume", "create", "--label", label, named)
    daemon.cli("volume", "create", "--label", label, "--label", "keep", kept)
    cid = daemon.cli("create", "-v", "/anon", "busybox", "true").stdout.decode().strip()
    anonymous = inspect(daemon, "container", cid)["Mounts"][0]["Name"]
    daemon.cli("rm", cid)  # without -v: the anonymous volume stays, dangling
    assert anonymous in daemon.cli("volume", "ls", "-q", "-f", "dangling=true").stdout.decode().split()

    answer = daemon.cli("volume", "prune", input=b"n\n")
    assert answer.stdout.decode() == ("WARNING! This will remove anonymous local volumes not used by at least one container.\n"
                                      "Are you sure you want to continue? [y/N] ")
    pruned = daemon.cli("volume", "prune", "-f").stdout.decode()
    assert pruned.startswith("Deleted Volumes:\n") and f"\n{anonymous}\n" in pruned
    assert pruned.endswith("\nTotal reclaimed space: 0B\n")
    names = daemon.cli("volume", "ls", "-q").stdout.decode().split()
    assert named in names and kept in names and anonymous not in names  # named ones stay

    pruned = daemon.cli("volume", "prune", "-a", "-f", "--filter", f"label={label}", "--filter", "label!=keep").stdout.decode()
    assert pruned == f"Deleted Volumes:\n{named}\n\nTotal reclaimed space: 0B\n"
    assert daemon.cli("volume", "ls", "-q", "-f", f"name={unique}").stdout.decode().split() == [kept]
    daemon.cli("volume", "rm", kept)


def test_prune_reports_reclaimed_space(daemon, unique):
    name = f"{unique}-big"
    daemon.cli("run", "--rm", "-v", f"{name}:/d", "busybox", "sh", "-c", "head -c 2000000 /dev/zero > /d/blob")
    daemon.cli("volume", "create", "--label", f"suite={unique}", f"{name}-other")
    out = daemon.cli("volume", "prune", "-f", "-a", "--filter", f"label=suite={unique}").stdout.decode()
    assert out == f"Deleted Volumes:\n{name}-other\n\nTotal reclaimed space: 0B\n"
    status, report = daemon.api("POST", "/v1.45/volumes/prune?filters=" + json.dumps({"all": ["true"], "label!": ["none"]}).replace(" ", ""))
    assert status == 200 and name in report["VolumesDeleted"]
    assert report["SpaceReclaimed"] == 2_000_000


def test_api_shapes_and_statuses(daemon, unique):
    status, doc = daemon.api("POST", "/v1.45/volumes/create", {"Name": f"{unique}-api", "Labels": {"k": "v"},
                                                               "DriverOpts": {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}})
    assert status == 201
    assert doc["Options"] == {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"} and doc["Labels"] == {"k": "v"}
    status, listing = daemon.api("GET", "/volumes?filters=" + json.dumps({"name": [unique]}).replace(" ", ""))
    assert status == 200 and [v["Name"] for v in listing["Volumes"]] == [f"{unique}-api"]
    assert set(listing) == {"Volumes", "Warnings"}
    assert daemon.api("GET", "/volumes/nope-nope") == (404, {"message": "get nope-nope: no such volume"})
    assert daemon.api("DELETE", "/volumes/nope-nope") == (404, {"message": "get nope-nope: no such volume"})
    assert daemon.api("DELETE", "/volumes/nope-nope?force=1")[0] == 204
    assert daemon.api("POST", "/volumes/create", {"Name": "xx", "Driver": "nope"})[0] == 404
    assert daemon.api("GET", "/volumes?filters=" + json.dumps({"dangling": ["maybe"]}).replace(" ", ""))[0] == 400
    assert daemon.api("DELETE", f"/volumes/{unique}-api")[0] == 204
    # Before API 1.42 a prune took named volumes too.
    daemon.api("POST", "/volumes/create", {"Name": f"{unique}-old", "Labels": {"old": unique}})
    status, report = daemon.api("POST", "/v1.41/volumes/prune?filters=" + json.dumps({"label": [f"old={unique}"]}).replace(" ", ""))
    assert status == 200 and report["VolumesDeleted"] == [f"{unique}-old"]


def test_volume_events(daemon, unique):
    import time

    name = f"{unique}-ev"
    start = time.time()
    daemon.cli("run", "--rm", "-v", f"{name}:/d", "busybox", "true")
    daemon.cli("volume", "rm", name)
    query = json.dumps({"type": ["volume"], "volume": [name]}).replace(" ", "")
    status, text = daemon.api("GET", f"/events?since={start - 1}&until={time.time() + 0.2}&filters={query}")
    assert status == 200
    events = [json.loads(line) for line in str(text).splitlines() if line.strip()] if isinstance(text, str) else [text]
    assert [e["Action"] for e in events] == ["create", "mount", "unmount", "destroy"]
    mount = events[1]["Actor"]["Attributes"]
    assert mount["destination"] == "/d" and mount["driver"] == "local" and mount["read/write"] == "true"

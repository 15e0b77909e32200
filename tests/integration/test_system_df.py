# SPDX-License-Identifier: Apache-2.0
"""`system df`: disk usage of images, containers and volumes, through both CLIs."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.requires_root


def test_df_counts_volumes_containers_and_images(daemon):
    daemon.cli("volume", "create", "df-vol")
    daemon.cli("run", "--rm", "-v", "df-vol:/d", "busybox", "sh", "-c", "echo 123456 > /d/f")
    cid = daemon.cli("create", "-v", "df-vol:/d", "busybox").stdout.decode().strip()
    try:
        status, usage = daemon.api("GET", "/system/df")
        assert status == 200
        volume = next(v for v in usage["Volumes"] if v["Name"] == "df-vol")
        assert volume["UsageData"] == {"Size": 7, "RefCount": 1}
        assert any(c["Id"] == cid and c["SizeRw"] == 0 for c in usage["Containers"])
        busybox = next(i for i in usage["Images"] if "busybox:latest" in i["RepoTags"])
        assert busybox["Containers"] >= 1 and usage["LayersSize"] >= busybox["Size"]
        table = daemon.cli("system", "df").stdout.decode().splitlines()
        assert table[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
        verbose = daemon.cli("system", "df", "-v").stdout.decode()
        assert "Local Volumes space usage:" in verbose
        assert any(line.split()[:3] == ["df-vol", "1", "7B"] for line in verbose.splitlines())
        rows = daemon.docker("system", "df", "--format", "{{json .}}").stdout.decode().splitlines()
        assert {json.loads(r)["Type"] for r in rows} == {"Images", "Containers", "Local Volumes", "Build Cache"}
    finally:
        daemon.cli("rm", cid)
        daemon.cli("volume", "rm", "df-vol")

# SPDX-License-Identifier: Apache-2.0
"""`dockyard system fsck`: damage a daemon's store by hand, as a crash or a disk would, and
check what fsck reports, what `--repair` fixes, and that the fixed store works."""

from __future__ import annotations

import json
import os
import re
import shutil

import pytest

pytestmark = pytest.mark.requires_root


def _fsck(daemon, *args):
    result = daemon.cli("system", "fsck", *args, check=False)
    return result.returncode, result.stdout.decode()


def test_fsck_reports_and_repairs(fresh_daemon):
    daemon = fresh_daemon
    daemon.cli("create", "--name", "keeper", "busybox", "cat", "/etc/hostname")
    daemon.cli("volume", "create", "kept")
    status, report = _fsck(daemon)
    assert status == 0 and re.fullmatch(r"checked \d+ blobs, 1 layers, 1 images, 1 containers, 1 volumes: "
                                        r"0 problem\(s\), 0 left unrepaired\n", report), report

    data = daemon.data_root
    (layer_dir,) = [p for p in (data / "layers").iterdir()]
    shutil.rmtree(layer_dir)                                     # a layer lost its files
    orphan = data / "layers" / ("ab" * 32)
    (orphan / "diff").mkdir(parents=True)                        # a crash mid-unpack
    bogus = data / "blobs" / "sha256" / ("cd" * 32)
    bogus.write_bytes(b"not what the name says")                 # a corrupt blob
    leftover = data / "tmp" / "ingest" / "half-written"
    leftover.write_bytes(b"x" * 100)                             # an interrupted pull
    stray = data / "volumes" / "stray"
    (stray / "_data").mkdir(parents=True)                        # volume data without a record
    (stray / "_data" / "precious").write_text("keep me")

    status, report = _fsck(daemon)
    assert status == 1
    assert f"layer sha256:{layer_dir.name}: its unpacked directory is missing\n" in report
    assert f"layer sha256:{orphan.name}: unpacked directory without a layer record\n" in report
    assert f"blob sha256:{bogus.name}: content does not match its digest\n" in report
    assert f"scratch {leftover}: left over from interrupted work\n" in report
    assert "volume stray: directory" in report
    assert report.endswith("5 problem(s), 5 left unrepaired\n")
    assert leftover.exists() and bogus.exists() and orphan.exists()  # a check changes nothing

    status, report = _fsck(daemon, "--repair")
    assert status == 1  # the stray volume directory is reported, never deleted
    assert "unpacked again from its blob" in report and report.count(": removed\n") == 3
    assert report.endswith("5 problem(s), 1 left unrepaired\n")
    assert not leftover.exists() and not bogus.exists() and not orphan.exists()
    assert (stray / "_data" / "precious").read_text() == "keep me"

    # The repaired layer serves the container again, and a second check finds only the stray.
    assert daemon.cli("start", "-a", "keeper").returncode == 0
    report = json.loads(daemon.cli("system", "fsck", "--format", "json", check=False).stdout)
    assert [(f["Kind"], f["Name"]) for f in report["Findings"]] == [("volume", "stray")]
    shutil.rmtree(stray)
    assert _fsck(daemon, "--quick")[0] == 0


def test_fsck_unmounts_a_stopped_containers_leftover_rootfs(fresh_daemon):
    daemon = fresh_daemon
    cid = daemon.cli("run", "-d", "busybox", "sleep", "30").stdout.decode().strip()
    rootfs = daemon.exec_root / "rootfs" / cid
    assert os.path.ismount(rootfs)
    daemon.cli("stop", "-t", "0", cid)
    assert not os.path.ismount(rootfs)
    # What a daemon killed between the container's exit and its clean-up leaves behind.
    os.makedirs(rootfs, exist_ok=True)
    os.system(f"mount -t tmpfs leftover {rootfs}")
    status, report = _fsck(daemon, "--repair")
    assert f"still mounted at {rootfs}: unmounted" in report and status == 0
    assert not os.path.ismount(rootfs)

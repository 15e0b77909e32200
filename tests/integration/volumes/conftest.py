# SPDX-License-Identifier: Apache-2.0
"""An image with a `VOLUME` for the volume tests: busybox plus a /data directory whose
files carry owners, modes, an xattr and a hard link, so copy-up has something to keep."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import uuid

import pytest

VOLUME_IMAGE = "voltest:1"
APPLETS = ("sh", "cat", "ls", "stat", "echo", "sleep", "touch", "rm", "mkdir", "df", "grep", "test", "true", "head", "cut")


def image_tar() -> bytes:
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("needs busybox-static on the host")
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        def directory(name: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, mode, uid, gid
            tar.addfile(info)

        directory("bin")
        tar.add(busybox, "bin/busybox")
        for applet in APPLETS:
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(info)
        directory("data", 0o750, 1000, 1000)
        seed = b"seeded by the image\n"
        info = tarfile.TarInfo("data/seed.txt")
        info.size, info.mode, info.uid, info.gid, info.mtime = len(seed), 0o640, 1000, 1001, 1_600_000_000
        info.pax_headers = {"SCHILY.xattr.user.origin": "image"}
        tar.addfile(info, io.BytesIO(seed))
        info = tarfile.TarInfo("data/seed-link")
        info.type, info.linkname = tarfile.LNKTYPE, "data/seed.txt"
        tar.addfile(info)
        directory("data/sub")
        directory("etc")
        conf = b"from-image\n"
        info = tarfile.TarInfo("etc/app.conf")
        info.size = len(conf)
        tar.addfile(info, io.BytesIO(conf))
    return out.getvalue()


@pytest.fixture(autouse=True)
def busybox(request):
    """busybox in whichever daemon the test uses (built offline on first pull)."""
    for name in ("daemon", "fresh_daemon"):
        if name in request.fixturenames:
            request.getfixturevalue(name).cli("pull", "-q", "busybox")


@pytest.fixture(scope="session")
def volume_image(daemon, tmp_path_factory):
    """The image's name in the session daemon."""
    path = tmp_path_factory.mktemp("volimage") / "rootfs.tar"
    path.write_bytes(image_tar())
    daemon.cli("import", "-c", "VOLUME /data", "-c", 'CMD ["/bin/sh"]', str(path), VOLUME_IMAGE)
    return VOLUME_IMAGE


@pytest.fixture
def unique():
    """A fresh name prefix, so tests sharing the session daemon never collide."""
    return "t" + uuid.uuid4().hex[:10]


def inspect(daemon, kind: str, name: str) -> dict:
    return json.loads(daemon.cli(kind, "inspect", name).stdout)[0]

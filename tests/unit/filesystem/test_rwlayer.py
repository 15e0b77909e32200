# SPDX-License-Identifier: Apache-2.0
"""The rw layer read back: Docker's change kinds from an upper directory over image layers
(whiteouts, opaque directories, copied-up but unchanged entries, parents), the mount points
of Docker's init layer left out, and what a commit stores."""

from __future__ import annotations

import io
import os
import stat
import tarfile

import pytest

from dockyard.daemon.rwlayer import (
    ADDED,
    DELETED,
    MODIFIED,
    LowerView,
    changes,
    has_changes,
    write_layer,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (whiteout devices, trusted xattrs)")


def _file(path, data=b"x", mode=0o644, mtime=1_600_000_000):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.chmod(path, mode)
    os.utime(path, (mtime, mtime))


def _dir(path, mode=0o755):
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, mode)


def _whiteout(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mknod(path, stat.S_IFCHR, os.makedev(0, 0))


def _copy_up(lower, upper, rel):
    """What overlay does before changing `rel`: the same entry, metadata included."""
    src, dst = lower / rel, upper / rel
    st = os.lstat(src)
    if stat.S_ISDIR(st.st_mode):
        dst.mkdir(parents=True, exist_ok=True)
    else:
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(src.read_bytes())
    os.chmod(dst, stat.S_IMODE(st.st_mode))
    os.chown(dst, st.st_uid, st.st_gid)
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))


@pytest.fixture
def layers(tmp_path):
    """Two image layers (bottom, top) and an empty upper directory."""
    bottom, top, upper = tmp_path / "l0", tmp_path / "l1", tmp_path / "upper"
    for rel in ("bin", "etc", "home", "usr/bin", "usr/sbin", "var/spool", "tmp"):
        _dir(bottom / rel)
    for rel in ("bin/sh", "bin/vi", "etc/passwd", "etc/group", "usr/bin/env", "usr/sbin/init"):
        _file(bottom / rel)
    _file(top / "etc" / "added-by-top")
    _whiteout(top / "bin" / "vi")  # the top layer removed /bin/vi
    _dir(upper)
    return [top, bottom], upper


def _kinds(upper, lowers):
    return [(c["Path"].lstrip("/"), c["Kind"]) for c in changes(upper, lowers)]


def test_lower_view_merges_layers(layers):
    lowers, _ = layers
    view = LowerView(lowers)
    assert view.lstat("bin/vi") is None  # whited out by the top layer
    assert view.lstat("etc/added-by-top") is not None and view.lstat("etc/passwd") is not None
    assert view.names("etc") == {"passwd", "group", "added-by-top"}
    assert "vi" not in view.names("bin")


def test_add_modify_delete_with_parents(layers):
    lowers, upper = layers
    bottom = lowers[1]
    _dir(upper / "new" / "deeper")
    _file(upper / "new" / "deeper" / "f")
    _copy_up(bottom, upper, "etc")
    _copy_up(bottom, upper, "etc/passwd")
    _file(upper / "etc" / "passwd", b"changed", mtime=1_700_000_000)
    _copy_up(bottom, upper, "bin")
    _whiteout(upper / "bin" / "sh")
    _whiteout(upper / "bin" / "never-existed")  # nothing to delete: not a change
    assert changes(upper, lowers)[0] == {"Path": "/bin", "Kind": MODIFIED}
    assert _kinds(upper, lowers) == [
        ("bin", MODIFIED), ("bin/sh", DELETED),
        ("etc", MODIFIED), ("etc/passwd", MODIFIED),
        ("new", ADDED), ("new/deeper", ADDED), ("new/deeper/f", ADDED),
    ]


def test_copied_up_but_unchanged_is_no_change(layers):
    lowers, upper = layers
    bottom = lowers[1]
    _copy_up(bottom, upper, "usr")
    _copy_up(bottom, upper, "usr/bin")
    _copy_up(bottom, upper, "usr/bin/env")
    _copy_up(bottom, upper, "var")
    _copy_up(bottom, upper, "var/spool")
    os.utime(upper / "var" / "spool", (1, 1))  # a directory's mtime is not a change
    assert _kinds(upper, lowers) == []


def test_directory_mode_and_owner_are_changes(layers):
    lowers, upper = layers
    bottom = lowers[1]
    _copy_up(bottom, upper, "home")
    os.chmod(upper / "home", 0o700)
    _copy_up(bottom, upper, "tmp")
    os.chown(upper / "tmp", 5, 0)
    assert _kinds(upper, lowers) == [("home", MODIFIED), ("tmp", MODIFIED)]


def test_opaque_directory_deletes_what_the_image_had(layers):
    lowers, upper = layers
    _dir(upper / "usr")
    os.setxattr(upper / "usr", "trusted.overlay.opaque", b"y")
    _file(upper / "usr" / "z")
    assert _kinds(upper, lowers) == [
        ("usr", MODIFIED), ("usr/bin", DELETED), ("usr/sbin", DELETED), ("usr/z", ADDED),
    ]


def test_deleted_directory_lists_only_its_top(layers):
    lowers, upper = layers
    _whiteout(upper / "usr")
    assert _kinds(upper, lowers) == [("usr", DELETED)]


def test_init_layer_mount_points_are_not_changes(layers):
    lowers, upper = layers
    bottom = lowers[1]
    # What runc leaves: empty files for the bind mounts, directories for /proc and /sys.
    _copy_up(bottom, upper, "etc")
    for name in ("hosts", "hostname", "resolv.conf"):
        _file(upper / "etc" / name, b"", mode=0o755)
    _dir(upper / "proc")
    _dir(upper / "sys")
    assert _kinds(upper, lowers) == []
    assert not has_changes(upper, lowers)
    _file(upper / "proc" / "made-by-cp")
    assert _kinds(upper, lowers) == [("proc", MODIFIED), ("proc/made-by-cp", ADDED)]
    assert has_changes(upper, lowers)


def test_commit_layer_leaves_out_mount_points_and_keeps_real_changes(layers):
    lowers, upper = layers
    bottom = lowers[1]
    _copy_up(bottom, upper, "etc")
    _file(upper / "etc" / "hosts", b"", mode=0o755)
    _dir(upper / "sys")
    _copy_up(bottom, upper, "tmp")
    _file(upper / "tmp" / "kept", b"k")
    _copy_up(bottom, upper, "bin")
    _whiteout(upper / "bin" / "sh")
    out = io.BytesIO()
    write_layer(upper, lowers, out)
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tf:
        names = tf.getnames()
        assert tf.extractfile("tmp/kept").read() == b"k"
    assert names == ["bin", "bin/.wh.sh", "tmp", "tmp/kept"]


def test_empty_rw_layer_has_no_changes(layers):
    lowers, upper = layers
    assert changes(upper, lowers) == [] and not has_changes(upper, lowers)

# SPDX-License-Identifier: Apache-2.0
"""Copy-up on a real filesystem: contents with owners, modes, times, xattrs, hard links,
symlinks and special files; symlink resolution that stays inside the root."""

from __future__ import annotations

import os
import stat

import pytest

from dockyard.volumes import copyup

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown and mknod need root")


@needs_root
def test_copy_tree_keeps_everything(tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    os.chmod(src, 0o1770)
    os.chown(src, 33, 33)
    data = src / "sub" / "file"
    data.write_bytes(b"x" * 300_000)
    os.chown(data, 1000, 1001)
    os.chmod(data, 0o4750)
    os.setxattr(data, "user.note", b"kept")
    os.link(data, src / "hard")
    os.symlink("sub/file", src / "link")
    os.lchown(src / "link", 7, 8)
    os.mkfifo(src / "fifo", 0o640)
    os.mknod(src / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.utime(data, ns=(1_000_000_000, 2_000_000_000))
    os.utime(src / "sub", ns=(3_000_000_000, 4_000_000_000))

    dst = tmp_path / "dst"
    dst.mkdir()
    copyup.copy_tree(src, dst)

    root = os.lstat(dst)
    assert stat.S_IMODE(root.st_mode) == 0o1770 and (root.st_uid, root.st_gid) == (33, 33)
    copied = os.lstat(dst / "sub" / "file")
    assert (dst / "sub" / "file").read_bytes() == b"x" * 300_000
    assert (copied.st_uid, copied.st_gid) == (1000, 1001)
    assert stat.S_IMODE(copied.st_mode) == 0o4750  # setuid survives the chown
    assert copied.st_mtime_ns == 2_000_000_000
    assert os.getxattr(dst / "sub" / "file", "user.note") == b"kept"
    assert os.lstat(dst / "hard").st_ino == copied.st_ino
    assert os.readlink(dst / "link") == "sub/file"
    assert (os.lstat(dst / "link").st_uid, os.lstat(dst / "link").st_gid) == (7, 8)
    assert stat.S_ISFIFO(os.lstat(dst / "fifo").st_mode)
    assert stat.S_IMODE(os.lstat(dst / "fifo").st_mode) == 0o640
    null = os.lstat(dst / "null")
    assert stat.S_ISCHR(null.st_mode) and null.st_rdev == os.makedev(1, 3)
    assert os.lstat(dst / "sub").st_mtime_ns == 4_000_000_000


def test_resolve_in_root_follows_links_inside_the_root(tmp_path):
    root = tmp_path / "rootfs"
    (root / "var" / "lib" / "db").mkdir(parents=True)
    (root / "run").mkdir()
    os.symlink("/run", root / "var" / "run")          # absolute: relative to the root
    os.symlink("../../..", root / "var" / "lib" / "up")  # climbs, but not past the root
    os.symlink("/etc/passwd", root / "escape")         # the host's file must not be reached
    os.symlink("loop", root / "loop")
    real = os.path.realpath(root)
    assert copyup.resolve_in_root(root, "/var/lib/db") == root.resolve() / "var/lib/db"
    assert str(copyup.resolve_in_root(root, "/var/run")) == f"{real}/run"
    assert str(copyup.resolve_in_root(root, "/var/lib/up/../run")) == f"{real}/run"
    assert copyup.resolve_in_root(root, "/escape") is None  # /etc/passwd is not in this root
    assert copyup.resolve_in_root(root, "/loop") is None
    assert copyup.resolve_in_root(root, "/missing/dir") is None
    assert str(copyup.resolve_in_root(root, "/")) == real


def test_is_empty_dir(tmp_path):
    assert copyup.is_empty_dir(tmp_path)
    (tmp_path / ".hidden").touch()
    assert not copyup.is_empty_dir(tmp_path)

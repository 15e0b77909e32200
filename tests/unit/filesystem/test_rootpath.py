# SPDX-License-Identifier: Apache-2.0
"""Resolving container paths inside a root: symlinks re-rooted, `..` stopped at the root,
the final component followed or not, missing parents made, and names as the container
sees them."""

from __future__ import annotations

import os

import pytest

from dockyard.daemon.rootpath import Root, resolve_in_root


@pytest.fixture
def root(tmp_path):
    """A small container root with the usual symlink traps, and a host file beside it
    that no lookup may reach."""
    base = tmp_path / "rootfs"
    (base / "etc").mkdir(parents=True)
    (base / "etc" / "passwd").write_text("container\n")
    (base / "data" / "sub").mkdir(parents=True)
    (base / "data" / "f").write_text("file")
    os.symlink("/", base / "etc" / "evil")
    os.symlink("../../../../", base / "data" / "up")
    os.symlink("/etc", base / "data" / "etclink")
    os.symlink("nowhere", base / "data" / "dangling")
    os.symlink("loop2", base / "data" / "loop1")
    os.symlink("loop1", base / "data" / "loop2")
    os.symlink("sub/../f", base / "data" / "viadots")
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("HOST\n")
    with Root(base) as opened:
        yield opened


def _read(root: Root, path: str) -> str:
    with root.resolve(path, follow=True) as loc:
        fd = os.open(loc.name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=loc.dir_fd)
        try:
            return os.read(fd, 100).decode()
        finally:
            os.close(fd)


def test_symlinks_to_the_root_stay_in_the_container(root):
    assert _read(root, "/etc/evil/etc/passwd") == "container\n"
    assert _read(root, "/data/up/etc/passwd") == "container\n"
    assert _read(root, "/data/up/../../../etc/passwd") == "container\n"
    assert _read(root, "../../etc/passwd") == "container\n"


def test_location_names_the_path_as_the_container_sees_it(root):
    with root.resolve("/data/sub", follow=True) as loc:
        assert (loc.name, loc.path) == ("sub", "/data/sub")
    with root.resolve("/data/etclink", follow=True) as loc:
        assert (loc.name, loc.path) == ("etc", "/etc")
    with root.resolve("/data/etclink", follow=False) as loc:
        assert (loc.name, loc.path) == ("etclink", "/data/etclink")
    with root.resolve("/data/sub/..", follow=False) as loc:
        assert (loc.name, loc.path) == ("data", "/data")
    with root.resolve("/etc/evil", follow=True) as loc:
        assert (loc.name, loc.path) == (".", "/")
        assert os.path.samestat(loc.lstat(), os.fstat(root.fd))


def test_relative_paths_start_at_the_base(root):
    with root.resolve("sub", base="/data") as loc:
        assert loc.path == "/data/sub"


def test_resolve_text_follows_every_link_and_keeps_the_missing_rest(root):
    assert root.resolve_text("/data/dangling") == "/data/nowhere"
    assert root.resolve_text("/data/etclink/passwd") == "/etc/passwd"
    assert root.resolve_text("/data/up") == "/"
    assert root.resolve_text("/data/viadots") == "/data/f"
    assert root.resolve_text("/missing/a/../b") == "/missing/b"


def test_intermediate_file_and_missing_directory_raise(root):
    with pytest.raises(NotADirectoryError):
        root.resolve("/data/f/x")
    with pytest.raises(FileNotFoundError):
        root.resolve("/no/such/thing")
    with root.resolve("/data/new-name") as loc:  # the last component need not exist
        assert loc.name == "new-name"


def test_symlink_loops_stop(root):
    with pytest.raises(OSError) as excinfo:
        root.resolve("/data/loop1/x")
    assert excinfo.value.errno == 40  # ELOOP


@pytest.mark.skipif(os.geteuid() != 0, reason="makes root-owned directories")
def test_make_dirs_creates_missing_parents_inside_the_root(root, tmp_path):
    fd = root.open_dir("/etc/evil/made/here", make_dirs=True)
    os.close(fd)
    made = tmp_path / "rootfs" / "made" / "here"
    assert made.is_dir() and oct(made.stat().st_mode & 0o777) == "0o755"
    assert not (tmp_path / "made").exists()


def test_resolve_in_root_gives_a_host_path_under_the_root(root, tmp_path):
    base = tmp_path / "rootfs"
    assert resolve_in_root(str(base), "/etc/evil/etc/passwd") == str(base / "etc" / "passwd")
    assert resolve_in_root(str(base), "/data/up/nope") == str(base / "nope")

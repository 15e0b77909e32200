# SPDX-License-Identifier: Apache-2.0
"""Layer apply: diff IDs and chain IDs, whiteouts, metadata, and refusing escapes."""

import gzip
import hashlib
import io
import os
import stat
import tarfile

import pytest

from dockyard.errors import InvalidParameter
from dockyard.snapshots import LayerStore, chain_id, chain_ids

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mknod, chown, trusted xattrs)")


def make_tar(*entries) -> bytes:
    """entries: (name, kind, extra) with kind file/dir/symlink/hardlink/raw TarInfo."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, kind, extra in entries:
            info = tarfile.TarInfo(name)
            info.mtime = extra.get("mtime", 1_600_000_000)
            info.uid, info.gid = extra.get("uid", 0), extra.get("gid", 0)
            info.pax_headers = extra.get("pax", {})
            data = None
            if kind == "file":
                content = extra.get("data", b"")
                info.size, info.mode = len(content), extra.get("mode", 0o644)
                data = io.BytesIO(content)
            elif kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, extra.get("mode", 0o755)
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, extra["target"]
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, extra["target"]
            elif kind == "fifo":
                info.type, info.mode = tarfile.FIFOTYPE, 0o600
            elif kind == "chardev":
                info.type, info.mode = tarfile.CHRTYPE, 0o666
                info.devmajor, info.devminor = extra["dev"]
            tf.addfile(info, data)
    return out.getvalue()


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def store(tmp_path):
    return LayerStore(tmp_path / "layers", tmp_path / "tmp")


def test_chain_ids_follow_the_oci_formula():
    d1, d2, d3 = ("sha256:" + c * 64 for c in "123")
    c2 = "sha256:" + hashlib.sha256(f"{d1} {d2}".encode()).hexdigest()
    c3 = "sha256:" + hashlib.sha256(f"{c2} {d3}".encode()).hexdigest()
    assert chain_id(None, d1) == d1
    assert chain_id(d1, d2) == c2
    assert chain_ids([d1, d2, d3]) == [d1, c2, c3]


@needs_root
def test_apply_plain_and_gzip_give_the_same_diff_id(store):
    tar = make_tar(("etc", "dir", {}), ("etc/hostname", "file", {"data": b"box\n"}))
    chain, diff_id, size = store.apply(None, io.BytesIO(tar))
    assert diff_id == sha(tar) == chain
    assert size == 4
    assert (store.path(chain) / "etc" / "hostname").read_bytes() == b"box\n"
    again = store.apply(None, io.BytesIO(gzip.compress(tar)))
    assert again == (chain, diff_id, size)
    assert store.list() == [chain]
    assert os.listdir(store.tmp) == []


@needs_root
def test_trailing_bytes_count_in_the_diff_id(store):
    tar = make_tar(("a", "file", {"data": b"x"})) + b"\0" * 4096
    _, diff_id, _ = store.apply(None, io.BytesIO(tar))
    assert diff_id == sha(tar)


@needs_root
def test_parent_chain(store):
    bottom = make_tar(("a", "file", {"data": b"1"}))
    top = make_tar(("b", "file", {"data": b"2"}))
    c1, d1, _ = store.apply(None, io.BytesIO(bottom))
    c2, d2, _ = store.apply(c1, io.BytesIO(top))
    assert c2 == chain_id(c1, d2) != d2
    assert (store.path(c2) / "b").read_bytes() == b"2"
    assert not (store.path(c2) / "a").exists()  # layers are unpacked separately


@needs_root
def test_whiteouts_become_overlay_whiteouts(store):
    tar = make_tar(
        ("gone.wh", "dir", {}),
        ("dir", "dir", {}),
        ("dir/.wh..wh..opq", "file", {}),
        ("dir/kept", "file", {"data": b"k"}),
        (".wh.removed", "file", {"uid": 5, "gid": 6}),
        ("dir/.wh..wh.plnk", "file", {}),
    )
    chain, _, _ = store.apply(None, io.BytesIO(tar))
    root = store.path(chain)
    st = os.lstat(root / "removed")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(0, 0)
    assert (st.st_uid, st.st_gid) == (5, 6)
    assert os.getxattr(root / "dir", "trusted.overlay.opaque") == b"y"
    assert not (root / "dir" / ".wh..wh..opq").exists()
    assert not (root / "dir" / ".wh..wh.plnk").exists()
    assert sorted(os.listdir(root / "dir")) == ["kept"]


@needs_root
def test_metadata_is_kept(store):
    tar = make_tar(
        ("bin", "dir", {"mode": 0o750, "mtime": 1_500_000_000}),
        ("bin/tool", "file", {"data": b"#!/bin/sh\n", "mode": 0o4755, "uid": 1000, "gid": 1001,
                              "mtime": 1_400_000_000,
                              "pax": {"SCHILY.xattr.user.note": "hi", "SCHILY.xattr.trusted.overlay.redirect": "/x"}}),
        ("bin/alias", "hardlink", {"target": "bin/tool"}),
        ("bin/link", "symlink", {"target": "/bin/tool", "uid": 7, "gid": 8}),
        ("dev", "dir", {}),
        ("dev/null", "chardev", {"dev": (1, 3)}),
        ("dev/pipe", "fifo", {}),
    )
    chain, _, size = store.apply(None, io.BytesIO(tar))
    root = store.path(chain)
    tool = os.lstat(root / "bin/tool")
    assert stat.S_IMODE(tool.st_mode) == 0o4755
    assert (tool.st_uid, tool.st_gid) == (1000, 1001)
    assert tool.st_mtime == 1_400_000_000
    assert os.getxattr(root / "bin/tool", "user.note") == b"hi"
    assert "trusted.overlay.redirect" not in os.listxattr(root / "bin/tool")
    assert os.lstat(root / "bin/alias").st_ino == tool.st_ino and tool.st_nlink == 2
    link = os.lstat(root / "bin/link")
    assert stat.S_ISLNK(link.st_mode) and os.readlink(root / "bin/link") == "/bin/tool"
    assert (link.st_uid, link.st_gid) == (7, 8)
    bindir = os.lstat(root / "bin")
    assert stat.S_IMODE(bindir.st_mode) == 0o750 and bindir.st_mtime == 1_500_000_000
    assert os.lstat(root / "dev/null").st_rdev == os.makedev(1, 3)
    assert stat.S_ISFIFO(os.lstat(root / "dev/pipe").st_mode)
    assert size == len(b"#!/bin/sh\n")


@needs_root
def test_missing_parents_are_created(store):
    chain, _, _ = store.apply(None, io.BytesIO(make_tar(("a/b/c", "file", {"data": b"x"}))))
    assert stat.S_IMODE(os.stat(store.path(chain) / "a" / "b").st_mode) == 0o755


@pytest.mark.parametrize(
    "entries",
    [
        [("../escape", "file", {"data": b"x"})],
        [("a/../../escape", "file", {"data": b"x"})],
        [("/etc/passwd", "file", {"data": b"x"})],
        [("link", "symlink", {"target": "/tmp"}), ("link/owned", "file", {"data": b"x"})],
        [("link", "symlink", {"target": "."}), ("link/x", "file", {"data": b"x"})],
        [("h", "hardlink", {"target": "../../outside"})],
        [("h", "hardlink", {"target": "missing"})],
        [("d", "dir", {}), ("h", "hardlink", {"target": "d"})],
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "symlink-parent", "symlink-to-self", "hardlink-escape",
         "hardlink-missing", "hardlink-to-dir"],
)
@needs_root
def test_escapes_are_refused_and_leave_nothing(store, tmp_path, entries):
    with pytest.raises(InvalidParameter):
        store.apply(None, io.BytesIO(make_tar(*entries)))
    assert store.list() == []
    assert os.listdir(store.tmp) == []
    assert not (tmp_path / "escape").exists() and not (tmp_path / "outside").exists()


@needs_root
def test_expected_diff_id_checked(store):
    tar = make_tar(("a", "file", {"data": b"x"}))
    with pytest.raises(InvalidParameter, match="does not match its diff ID"):
        store.apply(None, io.BytesIO(tar), expected_diff_id=sha(b"something else"))
    assert store.list() == [] and os.listdir(store.tmp) == []


@needs_root
def test_existing_layer_is_verified_not_unpacked_again(store):
    tar = make_tar(("a", "file", {"data": b"x"}))
    chain, diff_id, size = store.apply(None, io.BytesIO(tar))
    inode = os.lstat(store.path(chain) / "a").st_ino
    assert store.apply(None, io.BytesIO(tar), expected_diff_id=diff_id) == (chain, diff_id, size)
    assert os.lstat(store.path(chain) / "a").st_ino == inode
    tampered = tar.replace(b"x", b"y", 1)
    with pytest.raises(InvalidParameter):
        store.apply(None, io.BytesIO(tampered), expected_diff_id=diff_id)


@needs_root
def test_later_entries_replace_earlier_ones(store):
    tar = make_tar(
        ("p", "dir", {}), ("p/child", "file", {"data": b"1"}),
        ("p", "file", {"data": b"now a file"}),
        ("q", "file", {"data": b"old"}), ("q", "file", {"data": b"new"}),
    )
    chain, _, _ = store.apply(None, io.BytesIO(tar))
    assert (store.path(chain) / "p").read_bytes() == b"now a file"
    assert (store.path(chain) / "q").read_bytes() == b"new"


def test_garbage_is_not_a_layer(store):
    with pytest.raises(InvalidParameter):
        store.apply(None, io.BytesIO(b"this is not a tar archive at all" * 40))
    with pytest.raises(InvalidParameter):
        store.apply(None, io.BytesIO(gzip.compress(b"x" * 2000)[:50]))
    assert store.list() == []


def test_remove_is_idempotent(store, tmp_path):
    fake = "sha256:" + "e" * 64
    (store.root / ("e" * 64) / "diff").mkdir(parents=True)
    assert store.exists(fake)
    store.remove(fake)
    store.remove(fake)
    assert not store.exists(fake) and os.listdir(store.tmp) == []


def test_a_decompression_bomb_is_refused_before_it_fills_the_disk(store):
    # 8 TiB of zeros claimed by one entry, a few hundred bytes on the wire: refused at its
    # header, before a byte is written, and nothing is left behind.
    bomb = io.BytesIO()
    with tarfile.open(fileobj=bomb, mode="w:gz") as tf:
        info = tarfile.TarInfo("zeros")
        info.size = 8 << 40
        tf.addfile(info)  # header only: the unpacker must not get as far as the data
    bomb.seek(0)
    with pytest.raises(InvalidParameter, match="decompression bomb"):
        store.apply(None, bomb)
    assert store.list() == []

# SPDX-License-Identifier: Apache-2.0
"""Tar in and out of a container root: Docker's naming, hard links, escapes refused, parents
followed inside the root, overwrite rules, ownership, bounded headers, overlay whiteouts."""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile

import pytest

from dockyard.daemon.rootpath import Root
from dockyard.daemon.treetar import TarWriter, extract
from dockyard.errors import InvalidParameter
from dockyard.snapshots.pipe import pipe_reader

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chown, mknod, trusted xattrs)")


def make_tar(*entries: tuple[str, str, dict]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, kind, extra in entries:
            info = tarfile.TarInfo(name)
            info.mtime = extra.get("mtime", 1_000_000_000)
            info.uid, info.gid = extra.get("uid", 0), extra.get("gid", 0)
            info.mode = extra.get("mode", 0o644)
            info.pax_headers = extra.get("pax", {})
            data = None
            if kind == "file":
                content = extra.get("data", b"data\n")
                info.size = len(content)
                data = io.BytesIO(content)
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, extra["target"]
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, extra["target"]
            elif kind == "chardev":
                info.type = tarfile.CHRTYPE
                info.devmajor, info.devminor = extra["dev"]
            tf.addfile(info, data)
    return out.getvalue()


@pytest.fixture
def rootfs(tmp_path):
    base = tmp_path / "rootfs"
    (base / "data" / "sub").mkdir(parents=True)
    (base / "data" / "f").write_text("old")
    (base / "tmp").mkdir()
    os.symlink("/", base / "etc-evil")
    (tmp_path / "host-file").write_text("HOST")
    return base


def _extract(rootfs, dest: str, data: bytes, **kw) -> None:
    with Root(rootfs) as root:
        extract(root, dest, io.BytesIO(data), **kw)


def _names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return tf.getnames()


def _write(fn) -> bytes:
    out = io.BytesIO()
    writer = TarWriter(out)
    try:
        fn(writer)
    finally:
        writer.close()
    return out.getvalue()


# ── writing ───────────────────────────────────────────────────────────────────────────

def test_archive_of_a_directory_is_named_after_the_request(rootfs):
    os.link(rootfs / "data" / "f", rootfs / "data" / "sub" / "twin")
    with Root(rootfs) as root, root.resolve("/data", follow=False) as loc:
        data = _write(lambda w: w.add(loc.dir_fd, loc.name, "data"))
        dot = _write(lambda w: w.add(loc.dir_fd, loc.name, "."))
    assert _names(data) == ["data", "data/f", "data/sub", "data/sub/twin"]
    assert _names(dot) == [".", "./f", "./sub", "./sub/twin"]
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        twin = tf.getmember("data/sub/twin")
        assert twin.islnk() and twin.linkname == "data/f"
        assert tf.extractfile("data/f").read() == b"old"


def test_export_has_relative_names_without_a_top_entry(rootfs):
    with Root(rootfs) as root:
        data = _write(lambda w: w.add_children(root.fd, ""))
    names = _names(data)
    assert "data/f" in names and "etc-evil" in names and "." not in names and "" not in names
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        assert tf.getmember("etc-evil").issym() and tf.getmember("etc-evil").linkname == "/"


def test_a_symlink_is_archived_as_itself(rootfs):
    with Root(rootfs) as root, root.resolve("/etc-evil", follow=False) as loc:
        data = _write(lambda w: w.add(loc.dir_fd, loc.name, "etc-evil"))
    assert _names(data) == ["etc-evil"]


@needs_root
def test_overlay_mode_writes_oci_whiteouts(tmp_path):
    upper = tmp_path / "upper"
    (upper / "dir").mkdir(parents=True)
    os.mknod(upper / "gone", stat.S_IFCHR, os.makedev(0, 0))
    os.setxattr(upper / "dir", "trusted.overlay.opaque", b"y")
    fd = os.open(upper, os.O_RDONLY | os.O_DIRECTORY)
    try:
        out = io.BytesIO()
        writer = TarWriter(out, overlay=True)
        writer.add_children(fd, "")
        writer.close()
    finally:
        os.close(fd)
    names = _names(out.getvalue())
    assert names == ["dir", "dir/.wh..wh..opq", ".wh.gone"]
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tf:
        assert not any(k.startswith("SCHILY.xattr.trusted.overlay") for m in tf for k in m.pax_headers)


def test_pipe_reader_streams_and_reports_producer_errors():
    with pipe_reader(lambda out: out.write(b"x" * 300_000)) as reader:
        assert len(reader.read()) == 300_000

    def fail(out):
        out.write(b"partial")
        raise RuntimeError("producer broke")

    with pytest.raises(RuntimeError, match="producer broke"), pipe_reader(fail) as reader:
        while reader.read(4096):
            pass


# ── extracting ────────────────────────────────────────────────────────────────────────

@needs_root
def test_extract_keeps_owners_modes_times_and_makes_parents(rootfs):
    _extract(rootfs, "/data", make_tar(
        ("new.txt", "file", {"uid": 1234, "gid": 4321, "mode": 0o4750}),
        ("nd/deep/inner", "file", {"data": b"in"}),
        ("/abs.txt", "file", {}),
        ("./", "dir", {"mode": 0o700}),
    ))
    st = os.lstat(rootfs / "data" / "new.txt")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1234, 4321, 0o4750)
    assert int(st.st_mtime) == 1_000_000_000
    assert (rootfs / "data" / "nd" / "deep" / "inner").read_bytes() == b"in"
    assert stat.S_IMODE(os.lstat(rootfs / "data" / "nd").st_mode) == 0o755
    assert (rootfs / "data" / "abs.txt").exists()  # a leading / is relative to the destination
    assert stat.S_IMODE(os.lstat(rootfs / "data").st_mode) != 0o700  # "./" leaves it alone


@needs_root
def test_owner_override_applies_to_every_entry(rootfs):
    _extract(rootfs, "/data", make_tar(("d", "dir", {"uid": 7}), ("d/x", "file", {"uid": 7}),
                                       ("d/l", "symlink", {"target": "x"})), owner=(65534, 65534))
    for name in ("d", "d/x", "d/l"):
        st = os.lstat(rootfs / "data" / name)
        assert (st.st_uid, st.st_gid) == (65534, 65534)


@pytest.mark.parametrize("entries, message", [
    ([("../../escape.txt", "file", {})], 'is outside of "/data"'),
    ([("up", "symlink", {"target": "../../../../"})], "invalid symlink"),
    ([("hl", "hardlink", {"target": "../../host-file"})], "invalid hardlink"),
])
def test_entries_leaving_the_destination_are_refused(rootfs, tmp_path, entries, message):
    with pytest.raises(InvalidParameter, match=message):
        _extract(rootfs, "/data", make_tar(*entries))
    assert not (tmp_path / "escape.txt").exists() and not (rootfs / "escape.txt").exists()
    assert (tmp_path / "host-file").read_text() == "HOST"


def test_dotdot_is_clamped_at_the_root_destination(rootfs, tmp_path):
    _extract(rootfs, "/", make_tar(("../../clamped.txt", "file", {})))
    assert (rootfs / "clamped.txt").exists() and not (tmp_path / "clamped.txt").exists()


def test_symlinks_in_parents_are_followed_inside_the_root(rootfs, tmp_path):
    # The container's own `/etc-evil -> /` and one the archive makes both lead to the
    # container's root, never the host's.
    _extract(rootfs, "/etc-evil/tmp", make_tar(("a.txt", "file", {})))
    _extract(rootfs, "/data", make_tar(("lnk", "symlink", {"target": "/"}),
                                       ("lnk/tmp/b.txt", "file", {}),
                                       ("lnk/host-file", "file", {"data": b"overwritten?"})))
    assert (rootfs / "tmp" / "a.txt").exists() and (rootfs / "tmp" / "b.txt").exists()
    assert (rootfs / "host-file").read_bytes() == b"overwritten?"
    assert (tmp_path / "host-file").read_text() == "HOST"
    assert os.readlink(rootfs / "data" / "lnk") == "/"


def test_existing_symlink_is_replaced_not_written_through(rootfs, tmp_path):
    os.symlink(str(tmp_path / "host-file"), rootfs / "data" / "trap")
    _extract(rootfs, "/data", make_tar(("trap", "file", {"data": b"mine"})))
    assert (tmp_path / "host-file").read_text() == "HOST"
    assert not os.path.islink(rootfs / "data" / "trap")
    assert (rootfs / "data" / "trap").read_bytes() == b"mine"


def test_hard_links_inside_the_destination(rootfs):
    _extract(rootfs, "/data", make_tar(("orig", "file", {"data": b"1"}),
                                       ("twin", "hardlink", {"target": "orig"}),
                                       ("twin2", "hardlink", {"target": "/orig"})))
    ino = os.lstat(rootfs / "data" / "orig").st_ino
    assert os.lstat(rootfs / "data" / "twin").st_ino == ino == os.lstat(rootfs / "data" / "twin2").st_ino


def test_overwrite_rules(rootfs):
    with pytest.raises(InvalidParameter, match='cannot overwrite non-directory "/data/f" with directory'):
        _extract(rootfs, "/data", make_tar(("f", "dir", {})), no_overwrite_dir_non_dir=True)
    with pytest.raises(InvalidParameter, match='cannot overwrite directory "/data/sub" with non-directory'):
        _extract(rootfs, "/data", make_tar(("sub", "file", {})), no_overwrite_dir_non_dir=True)
    # Without the flag, Docker replaces either way.
    _extract(rootfs, "/data", make_tar(("f", "dir", {}), ("sub", "file", {"data": b"s"})))
    assert (rootfs / "data" / "f").is_dir() and (rootfs / "data" / "sub").read_bytes() == b"s"


def test_compressed_archives_are_accepted(rootfs):
    _extract(rootfs, "/data", gzip.compress(make_tar(("gz.txt", "file", {"data": b"z"}))))
    assert (rootfs / "data" / "gz.txt").read_bytes() == b"z"


def test_oversized_extended_headers_are_refused(rootfs):
    huge = {"comment": "x" * (2 << 20)}
    with pytest.raises(InvalidParameter, match="too large"):
        _extract(rootfs, "/data", make_tar(("big.txt", "file", {"pax": huge})))


def test_a_decompression_bomb_is_refused(rootfs):
    bomb = io.BytesIO()
    with tarfile.open(fileobj=bomb, mode="w:gz") as tf:
        info = tarfile.TarInfo("zeros")
        info.size = 8 << 40  # 8 TiB claimed; only the header is sent
        tf.addfile(info)
    with pytest.raises(InvalidParameter, match="decompression bomb"):
        _extract(rootfs, "/data", bomb.getvalue())
    assert not (rootfs / "data" / "zeros").exists()


def test_garbage_is_a_bad_request(rootfs):
    with pytest.raises(InvalidParameter):
        _extract(rootfs, "/data", b"this is not a tar archive" * 40)


@needs_root
def test_device_nodes_are_made(rootfs):
    _extract(rootfs, "/data", make_tar(("null2", "chardev", {"dev": (1, 3), "mode": 0o640})))
    st = os.lstat(rootfs / "data" / "null2")
    assert stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 1 and stat.S_IMODE(st.st_mode) == 0o640

# SPDX-License-Identifier: Apache-2.0
"""--userns-remap where files cross between a container and the host: the ID mapping
itself, layer unpack, archives out of and into a container's root, the rw layer and
volume directories, the runtime spec, and a network namespace owned by its user
namespace. With the identity mapping every path is the one it always was."""

from __future__ import annotations

import ctypes
import fcntl
import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from dockyard.daemon.rootpath import Root
from dockyard.daemon.rwlayer import write_layer
from dockyard.daemon.treetar import TarWriter, extract
from dockyard.errors import InvalidParameter
from dockyard.idmap import IDENTITY, OVERFLOW_ID, IDMap, IDMapError, IDRange
from dockyard.oci import HostInfo, build_spec
from dockyard.snapshots import LayerStore, prepare_rw

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chown, mknod)")

BASE = 100000
MAP = IDMap.from_host_ranges([(BASE, 65536)], [(BASE + 500000, 65536)])
GBASE = BASE + 500000


# ── the mapping ───────────────────────────────────────────────────────────────────────

def test_mapping_both_ways():
    assert MAP.root == (BASE, GBASE)
    assert MAP.to_host(1000, 50) == (BASE + 1000, GBASE + 50)
    assert MAP.to_container(BASE + 65535, GBASE) == (65535, 0)
    assert MAP.to_container(0, 0) == (OVERFLOW_ID, OVERFLOW_ID)  # the host's root: not mapped
    assert MAP.covers_host(BASE, GBASE) and not MAP.covers_host(0, GBASE)
    with pytest.raises(IDMapError, match="container uid 65536 cannot be mapped .* 0-65535"):
        MAP.to_host(65536, 0)
    with pytest.raises(IDMapError, match="container gid 70000"):
        MAP.to_host(0, 70000)


def test_stacked_ranges_and_spec():
    stacked = IDMap.from_host_ranges([(100000, 10), (300000, 5)], [(100000, 15)])
    assert stacked.uids == (IDRange(0, 100000, 10), IDRange(10, 300000, 5))
    assert stacked.to_host(12, 12) == (300002, 100012)
    assert stacked.to_container(300004, 100014) == (14, 14)
    assert stacked.spec() == {
        "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 10},
                        {"containerID": 10, "hostID": 300000, "size": 5}],
        "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 15}]}
    assert stacked.proc_map("uid") == "0 100000 10\n10 300000 5\n"


def test_identity_changes_nothing():
    assert IDENTITY.empty and IDENTITY.root == (0, 0)
    assert IDENTITY.to_host(123456789, 7) == (123456789, 7)
    assert IDENTITY.to_container(0, 0) == (0, 0)
    assert IDENTITY.covers_host(0, 99999999)


# ── layers ────────────────────────────────────────────────────────────────────────────

def _tar(*entries: tuple[str, str, int, int]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, kind, uid, gid in entries:
            info = tarfile.TarInfo(name)
            info.uid, info.gid, info.mtime = uid, gid, 1_600_000_000
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(info)
            elif kind == "link":
                info.type, info.linkname = tarfile.SYMTYPE, "target"
                tf.addfile(info)
            elif kind == "whiteout":
                info.mode = 0o644
                tf.addfile(info, io.BytesIO(b""))
            else:
                info.mode, info.size = 0o4755, 2  # setuid survives the chown
                tf.addfile(info, io.BytesIO(b"hi"))
    return out.getvalue()


def _owner(path: Path) -> tuple[int, int]:
    st = os.lstat(path)
    return st.st_uid, st.st_gid


@needs_root
def test_layer_owners_are_shifted(tmp_path):
    store = LayerStore(tmp_path / "layers", tmp_path / "tmp", MAP)
    chain, _, _ = store.apply(None, io.BytesIO(_tar(
        ("bin", "dir", 0, 0), ("bin/su", "file", 0, 0), ("home/app/f", "file", 1000, 1000),
        ("home/app/l", "link", 1000, 1000))))
    root = store.path(chain)
    assert _owner(root) == MAP.root  # the layer's own top: the remapped root's
    assert _owner(root / "bin") == (BASE, GBASE)
    assert _owner(root / "bin" / "su") == (BASE, GBASE)
    assert stat.S_IMODE(os.stat(root / "bin" / "su").st_mode) == 0o4755
    assert _owner(root / "home") == MAP.root  # a parent the tar left out
    assert _owner(root / "home" / "app" / "f") == (BASE + 1000, GBASE + 1000)
    assert _owner(root / "home" / "app" / "l") == (BASE + 1000, GBASE + 1000)


@needs_root
def test_layer_with_an_owner_beyond_the_range_is_refused(tmp_path):
    store = LayerStore(tmp_path / "layers", tmp_path / "tmp", MAP)
    with pytest.raises(InvalidParameter, match="'big': container uid 70000 cannot be mapped"):
        store.apply(None, io.BytesIO(_tar(("big", "file", 70000, 0))))
    assert store.list() == []


@needs_root
def test_layer_without_mapping_keeps_owners(tmp_path):
    store = LayerStore(tmp_path / "layers", tmp_path / "tmp")
    chain, _, _ = store.apply(None, io.BytesIO(_tar(("big", "file", 70000, 5))))
    assert _owner(store.path(chain) / "big") == (70000, 5)
    assert _owner(store.path(chain)) == (0, 0)


# ── archives ──────────────────────────────────────────────────────────────────────────

def _members(data: bytes) -> dict[str, tuple[int, int]]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return {m.name: (m.uid, m.gid) for m in tf}


@needs_root
def test_archive_out_shows_container_ids(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("x")
    (tmp_path / "d" / "host-owned").write_text("y")
    os.chown(tmp_path / "d", BASE, GBASE)
    os.chown(tmp_path / "d" / "f", BASE + 33, GBASE + 33)
    out = io.BytesIO()
    with Root(tmp_path) as root, root.resolve("/d", follow=False) as loc:
        writer = TarWriter(out, idmap=MAP)
        writer.add(loc.dir_fd, loc.name, "d")
        writer.close()
    assert _members(out.getvalue()) == {"d": (0, 0), "d/f": (33, 33),
                                        "d/host-owned": (OVERFLOW_ID, OVERFLOW_ID)}


@needs_root
def test_archive_in_is_shifted_and_checked(tmp_path):
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    with Root(rootfs, MAP) as root:
        extract(root, "/", io.BytesIO(_tar(("new/a/f", "file", 0, 0), ("g", "file", 7, 8))))
        assert _owner(rootfs / "new") == MAP.root  # made for the entry: the container's root's
        assert _owner(rootfs / "new" / "a" / "f") == (BASE, GBASE)
        assert _owner(rootfs / "g") == (BASE + 7, GBASE + 8)
        extract(root, "/", io.BytesIO(_tar(("o", "file", 0, 0))), owner=(5, 6))
        assert _owner(rootfs / "o") == (BASE + 5, GBASE + 6)
        with pytest.raises(InvalidParameter, match="Error processing tar file: huge: container uid 99999"):
            extract(root, "/", io.BytesIO(_tar(("huge", "file", 99999, 0))))


@needs_root
def test_commit_layer_has_container_ids_and_plain_whiteouts(tmp_path):
    upper, lower = tmp_path / "upper", tmp_path / "lower"
    (lower / "etc").mkdir(parents=True)
    (lower / "etc" / "gone").write_text("x")
    (upper / "etc").mkdir(parents=True)
    os.chown(upper / "etc", BASE, GBASE)
    (upper / "etc" / "new").write_text("n")
    os.chown(upper / "etc" / "new", BASE + 1, GBASE + 1)
    os.mknod(upper / "etc" / "gone", stat.S_IFCHR, os.makedev(0, 0))  # made as overlay does: 0:0
    out = io.BytesIO()
    write_layer(upper, [lower], out, MAP)
    assert _members(out.getvalue()) == {"etc": (0, 0), "etc/.wh.gone": (0, 0), "etc/new": (1, 1)}


# ── rw layer, volumes ─────────────────────────────────────────────────────────────────

@needs_root
def test_rw_layer_belongs_to_the_remapped_root(tmp_path):
    prepare_rw(tmp_path / "c1", MAP.root)
    assert _owner(tmp_path / "c1" / "diff") == MAP.root
    assert _owner(tmp_path / "c1" / "work") == MAP.root
    prepare_rw(tmp_path / "c2")
    assert _owner(tmp_path / "c2" / "diff") == (0, 0)


@needs_root
def test_new_volume_data_belongs_to_the_remapped_root(tmp_path):
    from dockyard.metadata.db import MetadataDB
    from dockyard.volumes.store import LocalStore

    db = MetadataDB(tmp_path / "db")
    remapped = LocalStore(tmp_path / "volumes", db, MAP.root)
    doc = remapped.create("v1", None, None)
    assert _owner(Path(doc["Mountpoint"])) == MAP.root
    plain = LocalStore(tmp_path / "volumes2", db)
    assert _owner(Path(plain.create("v2", None, None)["Mountpoint"])) == (0, 0)


# ── the runtime spec ──────────────────────────────────────────────────────────────────

HOST = HostInfo(seccomp_arch="SCMP_ARCH_X86_64", go_arch="amd64", kernel=(6, 1, 0),
                nofile_hard=1 << 30, cap_last=40, cgroup2=False, swap_accounting=True)


def _record(**host_config):
    return {"Id": "ab" * 32, "Path": "/bin/sh", "Args": [], "HostConfig": dict(host_config),
            "Config": {"Env": [], "Hostname": "h", "User": ""}}


def test_spec_user_namespace(tmp_path):
    (tmp_path / "etc").mkdir()
    hosts = tmp_path / "hosts"
    hosts.write_text("")
    plain = build_spec(_record(), rootfs=str(tmp_path), hosts_path=str(hosts), host=HOST)
    spec = build_spec(_record(), rootfs=str(tmp_path), hosts_path=str(hosts), host=HOST, idmap=MAP)
    assert {"type": "user"} in spec["linux"]["namespaces"]
    assert spec["linux"]["uidMappings"] == [{"containerID": 0, "hostID": BASE, "size": 65536}]
    assert spec["linux"]["gidMappings"] == [{"containerID": 0, "hostID": GBASE, "size": 65536}]
    cgroup = next(m for m in spec["mounts"] if m["type"] == "cgroup")
    assert "ro" not in cgroup["options"]
    bind = next(m for m in spec["mounts"] if m["destination"] == "/etc/hosts")
    locked = {"ro": os.ST_RDONLY, "nosuid": os.ST_NOSUID, "nodev": os.ST_NODEV, "noexec": os.ST_NOEXEC,
              "relatime": os.ST_RELATIME}
    flags = os.statvfs(hosts).f_flag
    for name, bit in locked.items():
        assert (name in bind["options"]) == bool(flags & bit)
    # Everything else is as without remapping.
    for key in ("uidMappings", "gidMappings"):
        spec["linux"].pop(key)
    spec["linux"]["namespaces"].remove({"type": "user"})
    bind["options"] = ["rbind", "rprivate"]
    cgroup["options"] = ["ro", *cgroup["options"]]
    assert spec == plain


def test_spec_joins_a_given_user_namespace_and_honours_userns_host(tmp_path):
    (tmp_path / "etc").mkdir()
    joined = build_spec(_record(), rootfs=str(tmp_path), host=HOST, idmap=MAP,
                        namespace_paths={"network": "/run/x/netns/a", "user": "/run/x/netns/a.userns"})
    users = [ns for ns in joined["linux"]["namespaces"] if ns["type"] == "user"]
    assert users == [{"type": "user", "path": "/run/x/netns/a.userns"}]
    assert joined["linux"]["uidMappings"]  # runc wants them for its root's host IDs
    opted_out = build_spec(_record(UsernsMode="host"), rootfs=str(tmp_path), host=HOST, idmap=MAP)
    assert opted_out == build_spec(_record(UsernsMode="host"), rootfs=str(tmp_path), host=HOST)


# ── a network namespace owned by its user namespace ───────────────────────────────────

@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, mounts)")
def test_network_namespace_owned_by_a_remapped_user_namespace(tmp_path):
    from dockyard.network import netns

    directory = tmp_path / "netns"
    path = directory / "sandbox"
    try:
        ns = netns.create(path, dns=True, idmap=MAP)
        try:
            assert [s.getsockname() for s in ns.dns_sockets] == [("127.0.0.11", 53)] * 2
        finally:
            ns.close()
            for sock in ns.dns_sockets:
                sock.close()
        owner = netns.userns_path(path)
        assert owner == directory / "sandbox.userns"
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            user_fd = fcntl.ioctl(fd, 0xB701)  # NS_GET_USERNS: the namespace's owner
            try:
                assert os.fstat(user_fd).st_ino == os.stat(owner).st_ino
            finally:
                os.close(user_fd)
        finally:
            os.close(fd)
        netns.remove(path)
        assert not path.exists() and not owner.exists()
    finally:
        libc = ctypes.CDLL(None, use_errno=True)
        for leftover in (path, directory / "sandbox.userns", directory):
            libc.umount2(os.fsencode(leftover), 2)
        netns._shared_dirs.discard(directory)

# SPDX-License-Identifier: Apache-2.0
"""The local driver's store on a real directory and SQLite file: documents, options,
crash states that reconcile repairs, and driver mounts that never let a delete reach
through them."""

from __future__ import annotations

import os
import subprocess

import pytest

from dockyard.errors import DockyardError, InvalidParameter, NotFound
from dockyard.metadata.db import MetadataDB
from dockyard.volumes.store import KIND, LocalStore, validate_options

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting needs root")


@pytest.fixture
def store(tmp_path):
    db = MetadataDB(tmp_path / "db.sqlite")
    yield LocalStore(tmp_path / "volumes", db)
    db.close()


def test_create_and_remove(store, tmp_path):
    doc = store.create("data", None, {"a": "b"})
    assert doc["Mountpoint"] == str(tmp_path / "volumes" / "data" / "_data")
    assert os.path.isdir(doc["Mountpoint"])
    assert {k: doc[k] for k in ("Driver", "Labels", "Name", "Options", "Scope")} == {
        "Driver": "local", "Labels": {"a": "b"}, "Name": "data", "Options": None, "Scope": "local"}
    assert doc["CreatedAt"].endswith("Z") or doc["CreatedAt"][-6] in "+-"
    assert store.get("data") == doc and store.list() == [doc]
    assert sorted(os.listdir(tmp_path / "volumes")) == ["data"]  # no staging left behind
    store.remove("data")
    assert store.get("data") is None and os.listdir(tmp_path / "volumes") == []
    with pytest.raises(NotFound, match="get data: no such volume"):
        store.remove("data")


@pytest.mark.parametrize("options, message", [
    ({"foo": "bar"}, 'create v: invalid option: "foo"'),
    ({"type": "tmpfs"}, 'create v: missing required option: "device"'),
    ({"o": "size=1m"}, 'create v: missing required option: "device"'),
    ({"device": "/x"}, 'create v: missing required option: "type"'),
])
def test_option_validation(options, message):
    with pytest.raises(InvalidParameter) as caught:
        validate_options("v", options)
    assert caught.value.message == message
    validate_options("v", {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"})
    validate_options("v", {})


def test_a_failed_commit_leaves_neither_row_nor_directory(store, tmp_path, monkeypatch):
    def broken_put(*args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store.db, "put_object", broken_put)
    with pytest.raises(RuntimeError):
        store.create("data", None, None)
    assert os.listdir(tmp_path / "volumes") == []


def test_reconcile_repairs_every_crash_window(store, tmp_path):
    root = tmp_path / "volumes"
    kept = store.create("kept", None, None)
    open(os.path.join(kept["Mountpoint"], "file"), "w").write("data")
    # Crash during create, before the rename: a staging directory.
    (root / ".new-half-1234" / "_data").mkdir(parents=True)
    # Crash during create after the rename but before the commit, or during remove
    # after the row went: a directory without a row.
    (root / "orphan" / "_data").mkdir(parents=True)
    # Crash during remove after the move aside.
    (root / ".gone-old-1234" / "_data").mkdir(parents=True)
    # Crash during copy-up: a stage directory inside a volume.
    (root / "kept" / ".stage-abcd" / "etc").mkdir(parents=True)
    # A row whose directory vanished (removed by hand).
    lost = store.create("lost", None, None)
    os.rmdir(lost["Mountpoint"])
    os.rmdir(os.path.dirname(lost["Mountpoint"]))

    store.reconcile()

    assert sorted(os.listdir(root)) == ["kept", "lost"]
    assert sorted(os.listdir(root / "kept")) == ["_data"]
    assert open(os.path.join(kept["Mountpoint"], "file")).read() == "data"
    assert os.path.isdir(lost["Mountpoint"]) and os.listdir(lost["Mountpoint"]) == []
    assert [d["Name"] for d in store.db.list_objects(KIND)] == ["kept", "lost"]


@needs_root
def test_tmpfs_option_volume_mounts_and_unmounts(store):
    doc = store.create("fast", {"type": "tmpfs", "device": "tmpfs", "o": "size=2m,mode=1777"}, None)
    assert store.needs_mount(doc)
    store.mount(doc)
    try:
        assert os.path.ismount(doc["Mountpoint"])
        assert oct(os.stat(doc["Mountpoint"]).st_mode & 0o7777) == "0o1777"
        store.mount(doc)  # idempotent
    finally:
        store.unmount(doc)
    assert not os.path.ismount(doc["Mountpoint"])


@needs_root
def test_bind_option_volume_errors_and_remove_never_deletes_through_the_mount(store, tmp_path):
    missing = store.create("nodev", {"type": "none", "o": "bind", "device": str(tmp_path / "absent")}, None)
    with pytest.raises(InvalidParameter, match="error while mounting volume '.*': failed to mount local volume"):
        store.mount(missing)
    host = tmp_path / "hostdir"
    host.mkdir()
    (host / "precious").write_text("keep me")
    doc = store.create("hostbound", {"type": "none", "o": "bind", "device": str(host)}, None)
    store.mount(doc)
    assert os.listdir(doc["Mountpoint"]) == ["precious"]
    store.remove("hostbound")  # unmounts first
    assert (host / "precious").read_text() == "keep me"
    # Something mounted under a volume by someone else: refuse to delete through it.
    other = store.create("other", None, None)
    inner = os.path.join(other["Mountpoint"], "inner")
    os.mkdir(inner)
    subprocess.run(["mount", "--bind", str(host), inner], check=True)
    try:
        store.unmount(other)  # the store's own unmount leaves foreign mounts alone
        assert os.path.exists(os.path.join(inner, "precious"))
        with pytest.raises(DockyardError, match="still has mounts"):
            store.remove("other")
        assert store.get("other") is not None  # the row stays when the data cannot go
    finally:
        subprocess.run(["umount", inner], check=True)
    assert (host / "precious").read_text() == "keep me"

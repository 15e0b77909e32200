# SPDX-License-Identifier: Apache-2.0
"""The metadata DB: schema versioning, container records and their name reservations."""

import sqlite3
import threading

import pytest

from dockyard.errors import Conflict
from dockyard.metadata.db import SCHEMA_VERSION, ImageRecord, LayerRecord, MetadataDB


@pytest.fixture
def db(tmp_path):
    database = MetadataDB(tmp_path / "dockyard.db")
    yield database
    database.close()


def container(cid: str, name: str, image: str = "sha256:" + "1" * 64, **extra):
    return {"Id": cid, "Name": name, "Image": image, "State": {"Running": False}, **extra}


def test_schema_version_and_wal(tmp_path, db):
    conn = sqlite3.connect(tmp_path / "dockyard.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    # Opening again does not re-run migrations (they would fail on existing tables).
    MetadataDB(tmp_path / "dockyard.db").close()


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "future.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="newer than this dockyard supports"):
        MetadataDB(path)


def test_container_round_trip_and_upsert(db):
    doc = container("a" * 64, "/web", Config={"Env": ["A=1"]})
    db.put_container(doc)
    assert db.get_container("a" * 64) == doc
    doc["State"] = {"Running": True}
    db.put_container(doc)
    assert db.get_container("a" * 64)["State"] == {"Running": True}
    assert [d["Id"] for d in db.list_containers()] == ["a" * 64]
    assert db.get_container("b" * 64) is None


def test_name_conflict_has_dockers_message(db):
    db.put_container(container("a" * 64, "/web"))
    with pytest.raises(Conflict) as excinfo:
        db.put_container(container("b" * 64, "/web"))
    assert excinfo.value.message == (
        'Conflict. The container name "/web" is already in use by container "' + "a" * 64
        + '". You have to remove (or rename) that container to be able to reuse that name.'
    )
    assert excinfo.value.status == 409
    assert db.get_container("b" * 64) is None


def test_rename_frees_the_old_name(db):
    db.put_container(container("a" * 64, "/old"))
    db.put_container(container("a" * 64, "/new"))
    db.put_container(container("b" * 64, "/old"))
    assert {d["Name"] for d in db.list_containers()} == {"/new", "/old"}


def test_delete_and_list_order(db):
    for i, name in enumerate(["/one", "/two", "/three"]):
        db.put_container(container(str(i) * 64, name))
    db.delete_container("1" * 64)
    assert [d["Name"] for d in db.list_containers()] == ["/one", "/three"]
    db.delete_container("1" * 64)  # idempotent


def test_containers_using_image(db):
    img_a, img_b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    db.put_container(container("1" * 64, "/x", img_a))
    db.put_container(container("2" * 64, "/y", img_b))
    db.put_container(container("3" * 64, "/z", img_a))
    assert db.container_ids_using_image(img_a) == ["1" * 64, "3" * 64]
    assert db.container_ids_using_image("sha256:" + "c" * 64) == []


def test_concurrent_name_reservation_admits_one(db):
    winners, conflicts = [], []

    def worker(i: int):
        try:
            db.put_container(container(f"{i:064x}", "/same"))
            winners.append(i)
        except Conflict:
            conflicts.append(i)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1 and len(conflicts) == 9
    assert len(db.list_containers()) == 1


def test_transaction_rolls_back(db):
    with pytest.raises(RuntimeError):
        with db.transaction():
            db.put_container(container("a" * 64, "/a"))
            raise RuntimeError("boom")
    assert db.list_containers() == []


def test_images_layers_refs(db):
    layer = LayerRecord("sha256:" + "1" * 64, "sha256:" + "1" * 64, None, 10, "sha256:" + "1" * 64, "t")
    db.put_layer(layer)
    image = ImageRecord(id="sha256:" + "f" * 64, chain_ids=[layer.chain_id], size=10)
    assert db.put_image(image)
    assert not db.put_image(image)
    assert db.set_ref("docker.io/library/x:latest", image.id) is None
    assert db.set_ref("docker.io/library/x:latest", image.id) == image.id
    got = db.get_image(image.id)
    assert got.chain_ids == [layer.chain_id] and got.refs == ["docker.io/library/x:latest"]
    assert db.search_image_ids("fff") == [image.id]
    assert db.layer_in_use(layer.chain_id)
    assert db.blob_in_use(image.id) and db.blob_in_use(layer.blob_digest)
    db.delete_image(image.id)
    assert db.get_ref("docker.io/library/x:latest") is None
    assert not db.layer_in_use(layer.chain_id)


def test_objects(db):
    db.put_object("network", "n1", {"Name": "n1"})
    db.put_object("network", "n1", {"Name": "n1", "Driver": "bridge"})
    assert db.get_object("network", "n1") == {"Name": "n1", "Driver": "bridge"}
    assert db.list_objects("network") == [{"Name": "n1", "Driver": "bridge"}]
    assert db.delete_object("network", "n1")
    assert db.get_object("network", "n1") is None

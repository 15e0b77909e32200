# SPDX-License-Identifier: Apache-2.0
"""The content store: blobs verified while written, atomic, addressed by digest."""

import hashlib
import io
import os
import threading

import pytest

from dockyard.content.store import ContentStore
from dockyard.errors import InvalidParameter, NotFound


@pytest.fixture
def store(tmp_path):
    return ContentStore(tmp_path / "blobs", tmp_path / "tmp")


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_write_bytes_and_read_back(store, tmp_path):
    digest, size = store.write(b"hello")
    assert (digest, size) == (sha(b"hello"), 5)
    assert store.exists(digest)
    assert store.read(digest) == b"hello"
    assert store.size(digest) == 5
    assert store.path(digest) == tmp_path / "blobs" / "sha256" / digest[7:]
    with store.open(digest) as f:
        assert f.read() == b"hello"
    assert list(store.list()) == [digest]


def test_write_stream_in_chunks(store):
    data = os.urandom(3 * (1 << 20) + 17)
    digest, size = store.write(io.BytesIO(data), expected_digest=sha(data))
    assert size == len(data)
    assert store.read(digest) == data


def test_wrong_expected_digest_stores_nothing(store):
    with pytest.raises(InvalidParameter, match="digest mismatch"):
        store.write(b"tampered", expected_digest=sha(b"original"))
    assert not store.exists(sha(b"tampered"))
    assert list(store.list()) == []
    assert os.listdir(store.ingest_dir) == []


def test_abandoned_ingest_leaves_no_file(store):
    with store.ingest() as ingest:
        ingest.write(b"partial")
        assert ingest.digest == sha(b"partial")
    assert os.listdir(store.ingest_dir) == []
    assert not store.exists(sha(b"partial"))


def test_rewrite_existing_blob_is_harmless(store):
    first = store.write(b"same")
    with store.ingest() as ingest:
        ingest.write(b"same")
        assert ingest.commit() == first
        assert not ingest.created
    assert store.read(first[0]) == b"same"


def test_delete_and_missing(store):
    digest, _ = store.write(b"x")
    assert store.delete(digest)
    assert not store.delete(digest)
    with pytest.raises(NotFound):
        store.read(digest)
    with pytest.raises(NotFound):
        store.size(digest)


@pytest.mark.parametrize("bad", ["sha256:abc", "md5:" + "a" * 32, "sha256:" + "A" * 64, "../etc"])
def test_invalid_digest_refused(store, bad):
    with pytest.raises(InvalidParameter):
        store.path(bad)


def test_concurrent_writers_of_the_same_blob(store):
    data = os.urandom(1 << 20)
    results, errors = [], []

    def worker():
        try:
            results.append(store.write(io.BytesIO(data), expected_digest=sha(data)))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert {r for r in results} == {(sha(data), len(data))}
    assert store.read(sha(data)) == data
    assert os.listdir(store.ingest_dir) == []

# SPDX-License-Identifier: Apache-2.0
"""Incremental build contexts (builder/contextsync.py, builder/contextcache.py): a rebuild
of a directory sends and hashes only the files that changed, and builds exactly what
the whole context would have built."""

import hashlib
import http.client
import io
import json
import os
import socket
import tarfile
import threading

import pytest

from dockyard.builder import contextsync
from tests.integration.builder.helpers import write_context as _write

pytestmark = pytest.mark.requires_root

BIG = 12 << 20


def _packs(daemon, ctx):
    directory = daemon.data_root / "builder" / "contexts" / contextsync.context_key(str(ctx))
    return {p.name: p.stat().st_size for p in directory.glob("pack-*.tar")}


def _new_pack_sizes(before, after):
    return sorted(size for name, size in after.items() if name not in before)


def test_rebuild_sends_only_changed_files_and_builds_the_same(daemon, tmp_path):
    ctx = _write(tmp_path / "ctx", {
        "Dockerfile": "FROM busybox\nCOPY . /app\n",
        "big.bin": os.urandom(BIG), "sub/a.txt": "one\n", "gone.txt": "bye\n",
        ".dockerignore": "ignored/\n", "ignored/x": "never sent\n"})
    os.symlink("sub/a.txt", ctx / "link")
    first = daemon.cli("build", "-q", str(ctx)).stdout.decode().strip()
    packs = _packs(daemon, ctx)
    assert len(packs) == 1 and BIG < sum(packs.values()) < BIG + (1 << 20)

    # Unchanged: nothing is sent (the new pack, holding only the manifest, is dropped)
    # and the build is the first one, from the cache.
    assert daemon.cli("build", "-q", str(ctx)).stdout.decode().strip() == first
    assert _packs(daemon, ctx) == packs

    # One small edit, one new file, one removed, one chmod: a small pack, not the big file.
    (ctx / "sub" / "a.txt").write_text("two\n")
    (ctx / "sub" / "new.txt").write_text("new\n")
    (ctx / "gone.txt").unlink()
    os.chmod(ctx / "Dockerfile", 0o600)
    second = daemon.cli("build", "-q", "-t", "bt-incr", str(ctx)).stdout.decode().strip()
    assert second != first
    added = _new_pack_sizes(packs, _packs(daemon, ctx))
    assert len(added) == 1 and added[0] < 64 << 10
    listing = daemon.cli("run", "--rm", "bt-incr", "sh", "-c",
                         "cd /app && ls -A && cat sub/a.txt link sub/new.txt && stat -c %a Dockerfile && "
                         "md5sum big.bin").stdout.decode()
    assert sorted(listing.split("\n")[:5]) == [".dockerignore", "Dockerfile", "big.bin", "link", "sub"]
    assert "two\ntwo\nnew\n600\n" in listing
    assert hashlib.md5((ctx / "big.bin").read_bytes()).hexdigest() in listing  # noqa: S324

    # The whole context sent the classic way (the docker CLI) builds the same image: the
    # incremental context is the same context, down to the COPY checksum.
    out = daemon.docker("build", "-q", str(ctx), check=False)
    if out.returncode == 0:
        assert out.stdout.decode().strip() == second


def test_packs_are_collected_and_compacted(daemon, tmp_path):
    ctx = _write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nCOPY big.bin /big.bin\n", "big.bin": os.urandom(BIG)})
    for _ in range(4):
        daemon.cli("build", "-q", str(ctx))
        (ctx / "big.bin").write_bytes(os.urandom(BIG))
    daemon.cli("build", "-q", str(ctx))
    # Five versions of the big file went by; the kept data is bounded by the
    # compaction rule (dead bytes at most about the live ones), not growing with builds.
    total = sum(_packs(daemon, ctx).values())
    assert BIG < total <= 2 * BIG + (1 << 20), total
    # builder prune drops kept contexts; the next build sends everything again and works.
    assert "Total reclaimed space" in daemon.cli("builder", "prune", "-f").stdout.decode()
    assert not _packs(daemon, ctx)
    daemon.cli("build", "-q", str(ctx))
    assert len(_packs(daemon, ctx)) == 1


def test_concurrent_builds_of_one_directory(daemon, tmp_path):
    ctx = _write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nCOPY . /c\nRUN cat /c/f\n", "f": "x\n"})
    results = []

    def build(tag):
        results.append(daemon.cli("build", "-q", "-t", tag, str(ctx), check=False))

    threads = [threading.Thread(target=build, args=(f"bt-conc{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.returncode for r in results] == [0, 0, 0], [r.stderr for r in results]
    for i in range(3):
        assert daemon.cli("run", "--rm", f"bt-conc{i}", "cat", "/c/f").stdout == b"x\n"


def test_protocol_errors_and_stale_contexts(daemon, tmp_path):
    ctx = _write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nCOPY f /f\n", "f": "data\n"})
    key = contextsync.context_key(str(ctx))
    daemon.cli("build", "-q", str(ctx))
    items = _manifest(ctx)
    status, body = daemon.api("POST", f"/dockyard/build/context?key={key}", items)
    assert status == 200 and body == {"Need": []}
    status, body = daemon.api("POST", "/dockyard/build/context?key=../../etc", items)
    assert status == 400 and "invalid build context key" in body["message"]
    status, body = daemon.api("POST", f"/dockyard/build/context?key={key}", {"not": "a list"})
    assert status == 400 and "invalid build context manifest" in body["message"]
    status, body = daemon.api("POST", f"/dockyard/build/context?key={key}", [["f", "f", "x"]])
    assert status == 400 and "invalid build context manifest item" in body["message"]

    # The manifest says the daemon has f; prune drops it meanwhile: the build is refused
    # as stale (the CLI then sends the whole context), and nothing is left behind.
    daemon.cli("builder", "prune", "-f")
    body_tar = contextsync.manifest_member(contextsync.encode(items)) + b"\0" * 1024
    status, text = _post(daemon, f"/build?dockerfile=Dockerfile&{contextsync.QUERY}={key}", body_tar)
    assert status == 400 and contextsync.STALE in text
    assert not any((daemon.data_root / "builder" / "contexts" / key).glob("pack-*"))
    # Without the manifest member the body is refused too.
    status, text = _post(daemon, f"/build?{contextsync.QUERY}={key}", b"\0" * 1024)
    assert status == 400 and contextsync.MANIFEST in text
    # And the CLI, which asks first, builds as before.
    assert daemon.cli("build", "-q", str(ctx)).returncode == 0


def _manifest(ctx):
    items = []
    tf = tarfile.TarFile(fileobj=io.BytesIO(), mode="w")
    for name in sorted(os.listdir(ctx)):
        full = str(ctx / name)
        info = tf.gettarinfo(full, name)
        items.append(contextsync.item(info, contextsync.fingerprint(os.lstat(full))))
    return items


def _post(daemon, path, body):
    class Conn(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.connect(str(daemon.socket))

    conn = Conn("localhost", timeout=60)
    conn.request("POST", path, body, {"Content-Type": "application/x-tar"})
    response = conn.getresponse()
    text = response.read().decode(errors="replace")
    conn.close()
    try:
        return response.status, json.loads(text).get("message", text)
    except ValueError:
        return response.status, text

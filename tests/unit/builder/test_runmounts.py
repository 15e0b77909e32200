# SPDX-License-Identifier: Apache-2.0
"""RUN --mount: option errors, and the mount points runc left taken out of the layer."""

import asyncio
import itertools
import os
from pathlib import Path

import pytest

from dockyard.builder.runmounts import MountError, prepare, remove_stubs


def _prepare(specs, secrets=None, tmp=Path("/nonexistent")):
    async def materialize(origin, source):
        raise AssertionError("no bind mount here")

    made = itertools.count()
    return asyncio.run(prepare(specs, 7, "/app", secrets=secrets or {}, cache_dir=lambda i: tmp / i,
                               scratch=lambda kind: tmp / f"{kind}-{next(made)}", materialize=materialize))


def test_mount_errors_name_the_line():
    with pytest.raises(MountError, match="line 7: unsupported mount type 'nfs'"):
        _prepare(["type=nfs,target=/x"])
    with pytest.raises(MountError, match="line 7: mount target required"):
        _prepare(["type=tmpfs"])
    with pytest.raises(MountError, match="line 7: secret nope not found"):
        _prepare(["type=secret,id=nope,required"])
    with pytest.raises(MountError, match="line 7: .*octal"):
        _prepare(["type=secret,id=s,mode=rw"], {"s": b"x"}, Path("/tmp"))


def test_targets_defaults_and_secret_files(tmp_path):
    mounts = _prepare(["type=tmpfs,target=scratch,size=1m", "type=secret,id=tok",
                       "type=secret,target=/etc/key,mode=0440,uid=5,gid=6", "type=secret,id=absent"],
                      {"tok": b"t0k", "key": b"k3y"}, tmp_path)
    try:
        assert mounts.tmpfs == {"/app/scratch": "size=1m"}
        assert mounts.targets == ["/app/scratch", "/run/secrets/tok", "/etc/key"]
        (tok, key) = [Path(bind.split(":")[0]) for bind in mounts.binds]
        assert mounts.binds[0].endswith(":/run/secrets/tok:ro")
        assert tok.read_bytes() == b"t0k" and oct(tok.stat().st_mode & 0o7777) == "0o400"
        st = key.stat()
        assert key.read_bytes() == b"k3y" and (oct(st.st_mode & 0o7777), st.st_uid, st.st_gid) == ("0o440", 5, 6)
    finally:
        mounts.close()
    assert list(tmp_path.iterdir()) == []  # the step's secret files are gone


def test_stubs_the_image_lacks_are_removed_while_empty(tmp_path):
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    (lower / "etc").mkdir(parents=True)
    (lower / "root" / ".cache").mkdir(parents=True)
    (upper / "run" / "secrets").mkdir(parents=True)
    (upper / "run" / "secrets" / "tok").write_bytes(b"")
    (upper / "etc").mkdir()
    (upper / "etc" / "key").write_bytes(b"")
    (upper / "etc" / "made").write_text("by the step\n")
    (upper / "cache" / "kept").mkdir(parents=True)
    (upper / "cache" / "kept" / "file").write_text("x")
    (upper / "root" / ".cache").mkdir(parents=True)
    os.symlink("/etc", upper / "link")
    remove_stubs(upper, [lower], ["/run/secrets/tok", "/etc/key", "/cache/kept", "/root/.cache",
                                  "/link/made"])
    left = sorted(str(p.relative_to(upper)) for p in upper.rglob("*"))
    assert left == ["cache", "cache/kept", "cache/kept/file", "etc", "etc/made", "link", "root", "root/.cache"]

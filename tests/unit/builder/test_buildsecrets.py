# SPDX-License-Identifier: Apache-2.0
"""Build secrets on the wire: the members the CLI writes, read back by the daemon's
context receiver before anything reaches disk, and never indexed as context files."""

import gzip
import io
import tarfile

import pytest

from dockyard.builder.buildsecrets import MAX_SECRET_SIZE, SECRETS_DIR, member_bytes, read_leading
from dockyard.builder.context import BuildContext
from dockyard.errors import InvalidParameter
from tests.unit.builder.tarutil import tar_bytes

SECRET = b"hunter2-not-in-any-layer"


def test_leading_secrets_are_read_off_and_kept_out_of_the_context(tmp_path):
    body = member_bytes("tok", SECRET) + member_bytes("ünï/x", b"") + tar_bytes({"Dockerfile": b"FROM scratch\n"})
    ctx = BuildContext.receive(io.BytesIO(body), tmp_path)
    try:
        assert ctx.secrets == {"tok": SECRET, "ünï/x": b""}
        assert sorted(ctx.entries) == ["", "Dockerfile"]
        assert ctx.read_file("Dockerfile") == b"FROM scratch\n"
        # The copy of the context on disk never held the secret.
        assert SECRET not in ctx.tar_path.read_bytes()
    finally:
        ctx.close()
    assert ctx.secrets == {}


def test_secrets_open_a_compressed_context_too(tmp_path):
    body = gzip.compress(member_bytes("tok", SECRET) + tar_bytes({"f": b"x"}))
    ctx = BuildContext.receive(io.BytesIO(body), tmp_path)
    try:
        assert ctx.secrets == {"tok": SECRET} and "f" in ctx.entries
    finally:
        ctx.close()


def test_the_reserved_directory_later_in_the_archive_is_neither_secret_nor_context(tmp_path):
    body = tar_bytes({"Dockerfile": b"FROM scratch\n", f"{SECRETS_DIR}/{b'tok'.hex()}": b"smuggled"})
    ctx = BuildContext.receive(io.BytesIO(body), tmp_path)
    try:
        assert ctx.secrets == {}
        assert sorted(ctx.entries) == ["", "Dockerfile"]
    finally:
        ctx.close()


def test_a_context_without_secrets_is_read_unchanged():
    body = tar_bytes({"a": b"1"})
    secrets, head = read_leading(io.BytesIO(body))
    assert secrets == {} and head == body[:512]
    assert read_leading(io.BytesIO(b"")) == ({}, b"")


def test_limits_and_bad_members(tmp_path):
    with pytest.raises(ValueError, match="too big"):
        member_bytes("big", b"x" * (MAX_SECRET_SIZE + 1))
    with pytest.raises(ValueError, match="secret id"):
        member_bytes("i" * 51, b"x")
    with pytest.raises(ValueError, match="secret id"):
        member_bytes("", b"x")
    truncated = member_bytes("tok", SECRET)[:520]
    with pytest.raises(InvalidParameter, match="truncated"):
        BuildContext.receive(io.BytesIO(truncated), tmp_path)
    bad_name = tarfile.TarInfo(f"{SECRETS_DIR}/not-hex")
    bad_name.size = 1
    body = bad_name.tobuf(format=tarfile.USTAR_FORMAT) + b"x" + b"\0" * 511
    with pytest.raises(InvalidParameter, match="invalid build secret member"):
        BuildContext.receive(io.BytesIO(body), tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing half-received is left behind

# SPDX-License-Identifier: Apache-2.0
"""Offline base images: the hand-assembled hello ELF and deterministic layer tars."""

import io
import os
import platform
import struct
import subprocess
import tarfile

import pytest

from dockyard import baseimages
from dockyard.baseimages.catalog import HELLO_MESSAGE, busybox_layer, hello_layer
from dockyard.baseimages.elf import hello_elf
from dockyard.baseimages.layer import FIXED_MTIME, LayerBuilder
from dockyard.errors import InvalidParameter, NotFound


@pytest.mark.skipif(platform.machine() != "x86_64", reason="runs the amd64 program natively")
def test_amd64_hello_runs_and_exits_zero(tmp_path):
    exe = tmp_path / "hello"
    exe.write_bytes(hello_elf("amd64", HELLO_MESSAGE.encode()))
    exe.chmod(0o755)
    result = subprocess.run([str(exe)], capture_output=True, timeout=10)
    assert result.returncode == 0
    assert result.stdout.decode() == HELLO_MESSAGE
    assert "Hello from dockyard!" in HELLO_MESSAGE


def test_arm64_hello_encoding():
    message = b"hey\n"
    elf = hello_elf("arm64", message)
    assert elf[:4] == b"\x7fELF" and struct.unpack_from("<H", elf, 18)[0] == 0xB7
    entry = struct.unpack_from("<Q", elf, 24)[0]
    code = elf[entry - 0x400000:]
    words = struct.unpack_from("<8I", code)
    assert words == (
        0xD2800020,  # mov x0, #1
        0x100000E1,  # adr x1, .+28 (the message right after the 8 instructions)
        0xD2800082,  # mov x2, #4
        0xD2800808,  # mov x8, #64 (write)
        0xD4000001,  # svc #0
        0xD2800000,  # mov x0, #0
        0xD2800BA8,  # mov x8, #93 (exit)
        0xD4000001,  # svc #0
    )
    assert code[32:] == message
    # The one PT_LOAD segment covers the whole file, read + execute.
    p_type, p_flags, _, _, _, filesz = struct.unpack_from("<IIQQQQ", elf, 64)
    assert (p_type, p_flags, filesz) == (1, 5, len(elf))


def test_unknown_arch_is_refused():
    with pytest.raises(InvalidParameter):
        hello_elf("mips", b"x")


def test_layer_builder_is_deterministic_and_orders_hardlinks():
    def build() -> bytes:
        layer = LayerBuilder()
        layer.file("usr/bin/zz", b"data", 0o755)
        layer.hardlink("bin/[", "usr/bin/zz")
        layer.hardlink("bin/a", "usr/bin/zz")
        layer.symlink("lib", "usr/lib")
        layer.dir("tmp", 0o1777)
        return layer.build()

    first = build()
    assert first == build()
    members = tarfile.open(fileobj=io.BytesIO(first)).getmembers()
    names = [m.name for m in members]
    assert names == sorted(names)
    by_name = {m.name: m for m in members}
    assert by_name["bin/["].isreg() and by_name["bin/["].size == 4  # first in order holds data
    assert by_name["bin/a"].islnk() and by_name["bin/a"].linkname == "bin/["
    assert by_name["usr/bin/zz"].islnk() and by_name["usr/bin/zz"].linkname == "bin/["
    assert by_name["tmp"].mode == 0o1777 and by_name["bin"].isdir()
    assert {m.mtime for m in members} == {FIXED_MTIME}


def test_hello_layer_has_only_the_program():
    members = tarfile.open(fileobj=io.BytesIO(hello_layer("amd64"))).getmembers()
    assert [(m.name, m.mode) for m in members] == [("hello", 0o755)]


@pytest.mark.skipif(not os.path.exists("/bin/busybox"), reason="busybox-static not installed")
def test_busybox_layer_contents():
    data, version = busybox_layer()
    assert version[0].isdigit()
    members = {m.name: m for m in tarfile.open(fileobj=io.BytesIO(data)).getmembers()}
    for applet in ("bin/sh", "bin/ls", "bin/busybox"):
        assert applet in members
    assert all(
        m.islnk() or m.isreg() for name, m in members.items()
        if name.startswith(("bin/", "sbin/", "usr/bin/", "usr/sbin/"))
    )
    assert members["tmp"].mode == 0o1777
    assert members["root"].mode == 0o700
    passwd = tarfile.open(fileobj=io.BytesIO(data)).extractfile("etc/passwd").read().decode()
    assert passwd.startswith("root:x:0:0:root:/root:/bin/sh\n") and "nobody:x:65534" in passwd
    assert "linuxrc" not in members


def test_names_and_reserved_scratch():
    assert baseimages.names() == ["busybox", "hello-world"]
    assert baseimages.SCRATCH == "scratch"
    with pytest.raises(InvalidParameter, match="'scratch' is a reserved name"):
        baseimages.build(None, "scratch")  # type: ignore[arg-type]
    with pytest.raises(NotFound, match="no offline base image nginx:latest"):
        baseimages.build(None, "nginx")  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        baseimages.build(None, "busybox:1.36")  # type: ignore[arg-type]

# SPDX-License-Identifier: Apache-2.0
"""A static x86-64 Linux program that echoes UDP datagrams on a fixed port, assembled
here byte by byte (busybox has no UDP server), so tests can publish a UDP port of a
busybox container: `run -v <dir>:/t busybox /t/udpecho`."""

from __future__ import annotations

import struct

LOAD_ADDRESS = 0x400000


def udp_echo_elf(port: int) -> bytes:
    """socket(AF_INET, SOCK_DGRAM); bind(0.0.0.0:port); forever recvfrom → sendto back."""
    sockaddr = struct.pack("<I", 2 | (struct.unpack("<H", struct.pack(">H", port))[0] << 16))
    head = (
        b"\xb8\x29\x00\x00\x00"  # mov eax, 41 (socket)
        b"\xbf\x02\x00\x00\x00"  # mov edi, AF_INET
        b"\xbe\x02\x00\x00\x00"  # mov esi, SOCK_DGRAM
        b"\x31\xd2"  # xor edx, edx
        b"\x0f\x05"  # syscall
        b"\x49\x89\xc4"  # mov r12, rax
        b"\x48\x81\xec\x00\x10\x00\x00"  # sub rsp, 4096
        b"\xc7\x04\x24" + sockaddr +  # mov dword [rsp], AF_INET | htons(port) << 16
        b"\xc7\x44\x24\x04\x00\x00\x00\x00"  # mov dword [rsp+4], 0 (INADDR_ANY)
        b"\x48\xc7\x44\x24\x08\x00\x00\x00\x00"  # mov qword [rsp+8], 0
        b"\xb8\x31\x00\x00\x00"  # mov eax, 49 (bind)
        b"\x4c\x89\xe7"  # mov rdi, r12
        b"\x48\x89\xe6"  # mov rsi, rsp
        b"\xba\x10\x00\x00\x00"  # mov edx, 16
        b"\x0f\x05"  # syscall
    )
    loop = (
        b"\xc7\x44\x24\x08\x10\x00\x00\x00"  # mov dword [rsp+8], 16 (addrlen)
        b"\xb8\x2d\x00\x00\x00"  # mov eax, 45 (recvfrom)
        b"\x4c\x89\xe7"  # mov rdi, r12
        b"\x48\x8d\x74\x24\x20"  # lea rsi, [rsp+32]
        b"\xba\x00\x08\x00\x00"  # mov edx, 2048
        b"\x45\x31\xd2"  # xor r10d, r10d
        b"\x4c\x8d\x44\x24\x10"  # lea r8, [rsp+16]
        b"\x4c\x8d\x4c\x24\x08"  # lea r9, [rsp+8]
        b"\x0f\x05"  # syscall
        b"\x48\x85\xc0"  # test rax, rax
    )
    send = (
        b"\x48\x89\xc2"  # mov rdx, rax
        b"\xb8\x2c\x00\x00\x00"  # mov eax, 44 (sendto)
        b"\x4c\x89\xe7"  # mov rdi, r12
        b"\x48\x8d\x74\x24\x20"  # lea rsi, [rsp+32]
        b"\x45\x31\xd2"  # xor r10d, r10d
        b"\x4c\x8d\x44\x24\x10"  # lea r8, [rsp+16]
        b"\x41\xb9\x10\x00\x00\x00"  # mov r9d, 16
        b"\x0f\x05"  # syscall
    )
    # js loop (rel8 back to `loop`), then after send: jmp loop
    js = b"\x78" + struct.pack("<b", -(len(loop) + 2))
    jmp_back = -(len(loop) + 2 + len(send) + 2)
    jmp = b"\xeb" + struct.pack("<b", jmp_back)
    code = head + loop + js + send + jmp
    return _elf(code)


def _elf(code: bytes) -> bytes:
    ehdr_size, phdr_size = 64, 56
    total = ehdr_size + phdr_size + len(code)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    ehdr = ident + struct.pack("<HHIQQQIHHHHHH", 2, 0x3E, 1, LOAD_ADDRESS + ehdr_size + phdr_size,
                               ehdr_size, 0, 0, ehdr_size, phdr_size, 1, 0, 0, 0)
    phdr = struct.pack("<IIQQQQQQ", 1, 5, 0, LOAD_ADDRESS, LOAD_ADDRESS, total, total, 0x10000)
    return ehdr + phdr + code


def image_tar(port: int) -> bytes:
    """A one-file image filesystem (`/udpecho`) for `import`."""
    import io
    import tarfile

    data = udp_echo_elf(port)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("udpecho")
        info.size = len(data)
        info.mode = 0o755
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()

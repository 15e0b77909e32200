# SPDX-License-Identifier: Apache-2.0
"""Tiny static ELF executables, assembled here byte by byte: write a message, exit 0.

There is no compiler among the project's dependencies, and the program is small enough
to encode by hand: one ELF64 header, one PT_LOAD program header mapping the whole file
read+execute, then the machine code and the message right after it.
"""

from __future__ import annotations

import struct

from dockyard.errors import InvalidParameter

LOAD_ADDRESS = 0x400000
# 64 KiB: the load address is a multiple of every page size Linux uses on these CPUs.
SEGMENT_ALIGN = 0x10000
EHDR_SIZE = 64
PHDR_SIZE = 56
EM_X86_64 = 0x3E
EM_AARCH64 = 0xB7


def hello_elf(arch: str, message: bytes) -> bytes:
    """An executable for `arch` ("amd64" or "arm64") that prints `message` to stdout."""
    code_offset = EHDR_SIZE + PHDR_SIZE
    if arch == "amd64":
        machine, code = EM_X86_64, _x86_64_code(message)
    elif arch == "arm64":
        machine, code = EM_AARCH64, _aarch64_code(message)
    else:
        raise InvalidParameter(f"hello-world cannot be built for architecture {arch!r}")
    body = code + message
    total = code_offset + len(body)
    entry = LOAD_ADDRESS + code_offset
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # 64-bit, little endian, v1, SysV
    ehdr = ident + struct.pack(
        "<HHIQQQIHHHHHH",
        2,  # ET_EXEC
        machine,
        1,  # EV_CURRENT
        entry,
        EHDR_SIZE,  # program headers follow the ELF header
        0,  # no section headers
        0,  # flags
        EHDR_SIZE,
        PHDR_SIZE,
        1,  # one program header
        0,
        0,
        0,
    )
    phdr = struct.pack(
        "<IIQQQQQQ",
        1,  # PT_LOAD
        5,  # PF_R | PF_X
        0,  # from the start of the file
        LOAD_ADDRESS,
        LOAD_ADDRESS,
        total,
        total,
        SEGMENT_ALIGN,
    )
    return ehdr + phdr + body


def _x86_64_code(message: bytes) -> bytes:
    # The 32-bit register forms zero-extend into the 64-bit registers and are shorter.
    def mov_imm32(opcode: int, value: int) -> bytes:
        return bytes([opcode]) + struct.pack("<I", value)

    prefix = mov_imm32(0xB8, 1) + mov_imm32(0xBF, 1)  # mov eax, 1 (write); mov edi, 1 (stdout)
    lea_len = 7  # lea rsi, [rip + disp32]
    suffix = (
        mov_imm32(0xBA, len(message))  # mov edx, len
        + b"\x0f\x05"  # syscall
        + mov_imm32(0xB8, 60)  # mov eax, 60 (exit)
        + b"\x31\xff"  # xor edi, edi
        + b"\x0f\x05"  # syscall
    )
    # rip-relative: the displacement counts from the end of the lea to the message,
    # which starts right after the code.
    lea = b"\x48\x8d\x35" + struct.pack("<i", len(suffix))
    assert len(lea) == lea_len
    return prefix + lea + suffix


def _aarch64_code(message: bytes) -> bytes:
    if len(message) >= 1 << 16:
        raise InvalidParameter("hello-world message too long")

    def movz(reg: int, value: int) -> int:  # movz xN, #value
        return 0xD2800000 | (value << 5) | reg

    def adr(reg: int, offset: int) -> int:  # adr xN, pc + offset
        return (offset & 3) << 29 | 0x10000000 | ((offset >> 2) & 0x7FFFF) << 5 | reg

    svc0 = 0xD4000001
    words = [
        movz(0, 1),  # x0 = stdout
        0,  # adr x1, message (filled in below)
        movz(2, len(message)),  # x2 = length
        movz(8, 64),  # x8 = write
        svc0,
        movz(0, 0),  # x0 = status 0
        movz(8, 93),  # x8 = exit
        svc0,
    ]
    # The message follows the code; adr counts from its own address (word 1).
    words[1] = adr(1, (len(words) - 1) * 4)
    return b"".join(struct.pack("<I", w) for w in words)

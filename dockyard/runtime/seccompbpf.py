# SPDX-License-Identifier: Apache-2.0
"""An OCI `linux.seccomp` section compiled to a classic-BPF program, with libseccomp.

runc compiles the container's profile again for every `runc exec` (about half of its
30 ms); our exec path compiles it once per container and loads the same program into
each exec'd process (`nsenter.load_seccomp`). The rules are added as runc adds them, so
the program filters what runc's would:

- syscall names libseccomp does not know are skipped (a profile names newer calls);
- a rule whose action is the default action is left out;
- conditions go into one rule when each names a different argument, and into one rule
  each (any of them matching) when two name the same argument — libseccomp cannot AND
  two comparisons of one argument;
- the default errno is `defaultErrnoRet`, else EPERM; a rule's is `errnoRet`, else EPERM.

runc also patches its program so that syscalls newer than any the profile names fail with
ENOSYS instead of the default action; Docker's profile names clone3 (the one call for
which this matters to glibc) with ENOSYS itself, so we do without the patch.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
from typing import Any

from dockyard.errors import InvalidParameter

_ACTIONS = {
    "SCMP_ACT_KILL": 0x00000000,
    "SCMP_ACT_KILL_THREAD": 0x00000000,
    "SCMP_ACT_KILL_PROCESS": 0x80000000,
    "SCMP_ACT_TRAP": 0x00030000,
    "SCMP_ACT_ERRNO": 0x00050000,
    "SCMP_ACT_TRACE": 0x7FF00000,
    "SCMP_ACT_LOG": 0x7FFC0000,
    "SCMP_ACT_ALLOW": 0x7FFF0000,
}
_WITH_DATA = {"SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"}
_OPERATORS = {
    "SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4,
    "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7,
}
# seccomp(2) SECCOMP_SET_MODE_FILTER flags by their OCI names.
FILTER_FLAGS = {
    "SECCOMP_FILTER_FLAG_TSYNC": 1,
    "SECCOMP_FILTER_FLAG_LOG": 2,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4,
}
_MAX_ARGS = 6


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


def compile_filter(section: dict[str, Any]) -> tuple[bytes, int]:
    """(the BPF program as an array of `struct sock_filter`, the seccomp(2) flags) for an
    OCI `linux.seccomp` section. InvalidParameter for an action, operator or
    architecture libseccomp does not take."""
    lib = _libseccomp()
    default = _action(section.get("defaultAction", ""), section.get("defaultErrnoRet"))
    ctx = lib.seccomp_init(default)
    if not ctx:
        raise InvalidParameter("seccomp: cannot initialise a filter")
    try:
        for arch in section.get("architectures") or ():
            token = lib.seccomp_arch_resolve_name(_arch_name(arch).encode())
            if not token:
                raise InvalidParameter(f"seccomp: unknown architecture {arch!r}")
            rc = lib.seccomp_arch_add(ctx, token)
            if rc < 0 and rc != -errno.EEXIST:
                raise InvalidParameter(f"seccomp: cannot add architecture {arch!r}: {os.strerror(-rc)}")
        for rule in section.get("syscalls") or ():
            _add_rule(lib, ctx, rule, default)
        return _export(lib, ctx), _flags(section.get("flags"))
    finally:
        lib.seccomp_release(ctx)


# ── internals ─────────────────────────────────────────────────────────────────────────

def _add_rule(lib: Any, ctx: int, rule: dict[str, Any], default: int) -> None:
    action = _action(rule.get("action", ""), rule.get("errnoRet"))
    if action == default:
        return
    conditions = [_condition(arg) for arg in rule.get("args") or ()]
    indexes = [c.arg for c in conditions]
    groups = [[c] for c in conditions] if len(set(indexes)) < len(indexes) else [conditions]
    for name in rule.get("names") or ():
        number = lib.seccomp_syscall_resolve_name(name.encode())
        if number < 0:  # __NR_SCMP_ERROR: this libseccomp does not know the call
            continue
        for group in groups:
            array = (_ArgCmp * max(len(group), 1))(*group)
            rc = lib.seccomp_rule_add_array(ctx, action, number, len(group), array)
            if rc < 0:
                raise InvalidParameter(f"seccomp: cannot add a rule for {name}: {os.strerror(-rc)}")


def _action(name: str, errno_ret: int | None) -> int:
    if name not in _ACTIONS:
        raise InvalidParameter(f"seccomp: unknown action {name!r}")
    value = _ACTIONS[name]
    if name in _WITH_DATA:
        value |= (errno.EPERM if errno_ret is None and name == "SCMP_ACT_ERRNO" else int(errno_ret or 0)) & 0xFFFF
    return value


def _condition(arg: dict[str, Any]) -> _ArgCmp:
    index = int(arg.get("index", -1))
    op = _OPERATORS.get(arg.get("op", ""))
    if not 0 <= index < _MAX_ARGS or op is None:
        raise InvalidParameter(f"seccomp: invalid argument condition {arg!r}")
    return _ArgCmp(index, op, int(arg.get("value", 0)) & (2**64 - 1),
                   int(arg.get("valueTwo", 0)) & (2**64 - 1))


def _arch_name(oci: str) -> str:
    # SCMP_ARCH_X86_64 → x86_64, as seccomp_arch_resolve_name wants it.
    return oci.removeprefix("SCMP_ARCH_").lower()


def _flags(names: list[str] | None) -> int:
    value = 0
    for name in names or ():
        if name not in FILTER_FLAGS:
            raise InvalidParameter(f"seccomp: unknown flag {name!r}")
        value |= FILTER_FLAGS[name]
    return value


def _export(lib: Any, ctx: int) -> bytes:
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    try:
        # A program is at most 4096 instructions of 8 bytes: it fits a pipe's buffer
        # only when the buffer is made big enough first.
        fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, 1 << 16)
        rc = lib.seccomp_export_bpf(ctx, write_fd)
        os.close(write_fd)
        write_fd = -1
        if rc < 0:
            raise InvalidParameter(f"seccomp: cannot build the filter: {os.strerror(-rc)}")
        chunks = []
        while chunk := os.read(read_fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)


_LIB: Any = None


def _libseccomp() -> Any:
    global _LIB
    if _LIB is None:
        lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_init.argtypes = [ctypes.c_uint32]
        lib.seccomp_release.argtypes = [ctypes.c_void_p]
        lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
        lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                               ctypes.c_uint, ctypes.POINTER(_ArgCmp)]
        lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
        _LIB = lib
    return _LIB

# SPDX-License-Identifier: Apache-2.0
"""Putting a forked process into a running container, as `runc exec` does, then exec'ing.

Runs only in the children of the exec helper (`execd`), which are single-threaded. Two
steps, because a process cannot enter a PID namespace itself, only its children do:

`enter(request)`, in the helper's child: open a pidfd of the container's init and check it
is that container's (a member of its cgroup, still alive after the check), join every
cgroup the init is in, then `setns` all of the init's namespaces the spec names in one
call through the pidfd.

`become(request, ...)`, in the grandchild (inside the PID namespace), in runc's order
(libcontainer's setns init and finalizeNamespace): session keyring, terminal, rlimits,
OOM score, no_new_privs, seccomp before the capabilities go when no_new_privs is off, cwd,
bounding set, groups and ids with capabilities kept, cwd again if only the user may
enter it, the process's capability sets, stdio ownership, other fds closed, seccomp last
when no_new_privs is on, then execve with a $PATH search in the container's environment.

Any failure raises `SetupError` with runc's wording, which the helper reports as the
exec's start failure.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import platform
import resource
import select
import signal
import socket
import stat
import struct
import sys
import termios
from importlib.machinery import BuiltinImporter, FrozenImporter
from typing import Any

from dockyard.oci.caps import CAPABILITY_NAMES

NAMESPACE_FLAGS = {
    "mount": 0x00020000, "cgroup": 0x02000000, "uts": 0x04000000, "ipc": 0x08000000,
    "user": 0x10000000, "pid": 0x20000000, "network": 0x40000000,
}

_PR_SET_DUMPABLE = 4
_PR_SET_KEEPCAPS = 8
_PR_CAPBSET_DROP = 24
_PR_SET_NO_NEW_PRIVS = 38
_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_RAISE = 47, 2
_CAP_VERSION_3 = 0x20080522
_KEYCTL_JOIN_SESSION_KEYRING = 1
_SECCOMP_SET_MODE_FILTER = 1
# Syscall numbers glibc has no wrapper for (seccomp, keyctl), per machine.
_SYSCALLS = {
    "x86_64": {"seccomp": 317, "keyctl": 250},
    "aarch64": {"seccomp": 277, "keyctl": 219},
    "riscv64": {"seccomp": 277, "keyctl": 219},
    "ppc64le": {"seccomp": 358, "keyctl": 271},
    "s390x": {"seccomp": 348, "keyctl": 280},
}
_RLIMITS = {name: getattr(resource, name) for name in dir(resource) if name.startswith("RLIMIT_")}


class SetupError(Exception):
    """The exec cannot start; the message is what the user sees (after runc's prefix)."""


def prepare() -> None:
    """Load and read, once in the helper, what every exec needs (so its children do not
    repeat it, and read the host's files rather than a container's)."""
    global _CAP_LAST, _MOUNTS, _SYSNR
    _libc()
    _SYSNR = _SYSCALLS.get(platform.machine(), {})
    with open("/proc/sys/kernel/cap_last_cap") as f:
        _CAP_LAST = int(f.read())
    _MOUNTS = _cgroup_mounts()


def seal() -> None:
    """Make this forked process safe to take into a container: nothing may be imported
    once it is there (the import path would resolve in the container's filesystem, and
    the process still holds the daemon's capabilities), and, as runc's nsexec does, it
    is not dumpable, so the container's processes cannot reach its memory or file
    descriptors through /proc (execve makes the command dumpable again)."""
    sys.meta_path[:] = [f for f in sys.meta_path if f in (BuiltinImporter, FrozenImporter)]
    sys.path_hooks.clear()
    sys.path_importer_cache.clear()
    sys.path[:] = []
    if _libc().prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise SetupError(f"set dumpable: {_errno_text()}")


def enter(request: dict[str, Any]) -> None:
    """Join the cgroups and namespaces of the container's init (`request["pid"]`, whose
    cgroup must be `request["cgroup"]`)."""
    pid = int(request["pid"])
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        raise SetupError("container is not running") from None
    try:
        memberships = _read_cgroups(pid)
        wanted = request.get("cgroup") or ""
        if wanted and not any(path.rstrip("/").endswith(wanted.rstrip("/")) for _, path in memberships):
            raise SetupError(f"process {pid} is not the container's init")
        if select.select([pidfd], [], [], 0)[0]:
            raise SetupError("container is not running")
        _join_cgroups(memberships)
        flags = 0
        for kind in request.get("namespaces") or ():
            flags |= NAMESPACE_FLAGS[kind]
        if flags and _libc().setns(pidfd, flags) != 0:
            raise SetupError(f"setns: {_errno_text()}")
    finally:
        os.close(pidfd)


def become(request: dict[str, Any], seccomp: bytes | None, keep_fds: tuple[int, ...],
           console: socket.socket | None) -> None:
    """Turn this process into the exec'd one; returns only by raising SetupError."""
    _reset_signals()
    # A session (and process group) of its own, as runc's nsexec makes: otherwise
    # `kill 0` in the container would signal the exec helper too, whose group this is.
    os.setsid()
    process = request["process"]
    environment = dict(item.partition("=")[::2] for item in process.get("env") or ())
    if request.get("keyring"):
        _syscall("keyctl", _KEYCTL_JOIN_SESSION_KEYRING, request["keyring"].encode(), 0, 0, 0,
                 ignore=(errno.ENOSYS,))
    if console is not None:
        _open_terminal(console, process.get("consoleSize"))
    for limit in process.get("rlimits") or ():
        kind = _RLIMITS.get(limit.get("type", ""))
        if kind is None:
            raise SetupError(f"unknown rlimit type {limit.get('type')!r}")
        _os_call(resource.setrlimit, kind, (int(limit["soft"]), int(limit["hard"])),
                 what="error setting rlimit type")
    if process.get("oomScoreAdj") is not None:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(int(process["oomScoreAdj"])))
    no_new_privs = bool(process.get("noNewPrivileges"))
    if no_new_privs and _libc().prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise SetupError(f"set no_new_privs: {_errno_text()}")
    if seccomp is not None and not no_new_privs:
        load_seccomp(seccomp, int(request.get("seccompFlags") or 0))
    user = process.get("user") or {}
    uid, gid = int(user.get("uid", 0)), int(user.get("gid", 0))
    # The spec's umask, else 0022 — not whatever the daemon was started with.
    os.umask(int(user["umask"]) if user.get("umask") is not None else 0o022)
    if "HOME" not in environment:
        environment["HOME"] = _home_of(uid)
    cwd = process.get("cwd") or "/"
    chdir_later = _chdir(cwd, allow_eacces=True)
    caps = process.get("capabilities") or {}
    bounding = _cap_numbers(caps.get("bounding"))
    for number in range(_CAP_LAST + 1):
        if number not in bounding and _libc().prctl(_PR_CAPBSET_DROP, number, 0, 0, 0) != 0:
            raise SetupError(f"drop capability {number} from the bounding set: {_errno_text()}")
    _libc().prctl(_PR_SET_KEEPCAPS, 1, 0, 0, 0)
    _fix_stdio_ownership(uid)
    # Exactly the additional groups (none when there are none), as runc sets them.
    _os_call(os.setgroups, [int(g) for g in user.get("additionalGids") or ()], what="setgroups")
    _os_call(os.setresgid, gid, gid, gid, what="setgid")
    _os_call(os.setresuid, uid, uid, uid, what="setuid")
    if chdir_later:
        _chdir(cwd, allow_eacces=False)
    _libc().prctl(_PR_SET_KEEPCAPS, 0, 0, 0, 0)
    _set_capabilities(caps)
    _close_fds_except(keep_fds)
    if seccomp is not None and no_new_privs:
        load_seccomp(seccomp, int(request.get("seccompFlags") or 0))
    _execute(process.get("args") or [], environment)


def load_seccomp(program: bytes, flags: int) -> None:
    """Install `program` (an array of `struct sock_filter`) as this process's filter."""
    count = len(program) // 8
    buffer = ctypes.create_string_buffer(program, len(program))

    class _Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = _Prog(count, ctypes.addressof(buffer))
    _syscall("seccomp", _SECCOMP_SET_MODE_FILTER, flags, ctypes.addressof(prog), 0, 0,
             what="error loading seccomp filter")


# ── steps ─────────────────────────────────────────────────────────────────────────────

def _read_cgroups(pid: int) -> list[tuple[str, str]]:
    """(hierarchy controllers, path) for each line of /proc/<pid>/cgroup."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        raise SetupError("container is not running") from None
    result = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        result.append((controllers, path))
    return result


def _join_cgroups(memberships: list[tuple[str, str]]) -> None:
    mounts = _MOUNTS if _MOUNTS is not None else _cgroup_mounts()
    me = str(os.getpid())
    for controllers, path in memberships:
        mount = mounts.get(controllers)
        if mount is None:
            continue  # a hierarchy not mounted here (runc skips those too)
        point, root = mount
        relative = path[len(root):] if root != "/" and path.startswith(root) else path
        target = os.path.join(point, relative.lstrip("/"), "cgroup.procs")
        try:
            with open(target, "w") as f:
                f.write(me)
        except OSError as e:
            raise SetupError(f"failed to join cgroup {path}: {e.strerror}") from None


def _cgroup_mounts() -> dict[str, tuple[str, str]]:
    """Hierarchy key as /proc/<pid>/cgroup names it (`cpu,cpuacct`, `name=systemd`, `` for
    cgroup2) → (mount point, the mount's root within the hierarchy)."""
    mounts: dict[str, tuple[str, str]] = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            dash = fields.index("-")
            fstype, options = fields[dash + 1], fields[dash + 3].split(",")
            root, point = fields[3], fields[4].replace("\\040", " ")
            if fstype == "cgroup2":
                mounts.setdefault("", (point, root))
            elif fstype == "cgroup":
                known = [o for o in options if o not in ("rw", "ro") and not o.startswith("xattr")
                         and o not in ("nosuid", "nodev", "noexec", "relatime", "clone_children",
                                       "noprefix", "cpuset_v2_mode")
                         and not o.startswith("release_agent=")]
                for key in (",".join(known), ",".join(sorted(known))):
                    mounts.setdefault(key, (point, root))
    return mounts


def _open_terminal(console: socket.socket, size: dict[str, int] | None) -> None:
    """A new pseudo-terminal in the container's devpts as the controlling terminal and
    stdio; its master goes back to the daemon over `console`."""
    try:
        master, slave = os.openpty()
    except OSError as e:
        raise SetupError(f"failed to create a console: {e.strerror}") from None
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    if size and size.get("height") and size.get("width"):
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size["height"], size["width"], 0, 0))
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    socket.send_fds(console, [b"pty"], [master])
    os.close(master)
    os.close(slave)
    console.close()


def _reset_signals() -> None:
    # Python ignores SIGPIPE and SIGXFSZ (and the daemon may ignore more); ignored
    # signals stay ignored across execve, so `yes | head -1` would never end by SIGPIPE.
    # The exec'd process starts as runc's do: every signal default, none blocked.
    for number in range(1, signal.NSIG):
        if number in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            signal.signal(number, signal.SIG_DFL)
        except (OSError, ValueError):
            pass  # numbers the C library keeps for itself
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def _fix_stdio_ownership(uid: int) -> None:
    # As runc: the user must be able to use its stdio (its terminal above all), so its
    # owner becomes the user; /dev/null is left alone, and so is what we may not change.
    if uid == 0:
        return
    null = os.stat("/dev/null").st_rdev
    for fd in (0, 1, 2):
        try:
            st = os.fstat(fd)
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == null:
                continue
            os.fchown(fd, uid, st.st_gid)
        except OSError as e:
            if e.errno not in (errno.EINVAL, errno.EPERM, errno.EBADF):
                raise SetupError(f"fix stdio permissions: {e.strerror}") from None


def _set_capabilities(caps: dict[str, Any]) -> None:
    effective = _mask(caps.get("effective"))
    permitted = _mask(caps.get("permitted"))
    inheritable = _mask(caps.get("inheritable"))
    header = struct.pack("Ii", _CAP_VERSION_3, 0)
    data = struct.pack("6I", effective & 0xFFFFFFFF, permitted & 0xFFFFFFFF, inheritable & 0xFFFFFFFF,
                       effective >> 32, permitted >> 32, inheritable >> 32)
    if _libc().capset(header, data) != 0:
        raise SetupError(f"capset: {_errno_text()}")
    for number in sorted(_cap_numbers(caps.get("ambient"))):
        if _libc().prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_RAISE, number, 0, 0) != 0:
            raise SetupError(f"raise ambient capability {number}: {_errno_text()}")


def _chdir(cwd: str, *, allow_eacces: bool) -> bool:
    """chdir to `cwd`; True when it must be tried again as the user (EACCES as root)."""
    try:
        os.chdir(cwd)
    except PermissionError:
        if allow_eacces:
            return True
        raise SetupError(f'chdir to cwd ("{cwd}") set in config.json failed: permission denied') from None
    except OSError as e:
        raise SetupError(f'chdir to cwd ("{cwd}") set in config.json failed: '
                         f"{(e.strerror or '').lower()}") from None
    return False


def _execute(args: list[str], environment: dict[str, str]) -> None:
    if not args:
        raise SetupError("args must not be empty")
    name = args[0]
    path = _look_path(name, environment.get("PATH", ""))
    try:
        os.execve(path, args, environment)
    except OSError as e:
        raise SetupError(f"exec {path}: {(e.strerror or '').lower()}") from None


def _look_path(name: str, search: str) -> str:
    """Go's exec.LookPath, as runc uses it: a name with a slash is taken as it is, else
    the first file on $PATH that is not a directory and has an execute bit."""
    if "/" in name:
        try:
            st = os.stat(name)
        except OSError as e:
            raise SetupError(f'exec: "{name}": stat {name}: {(e.strerror or "").lower()}') from None
        if stat.S_ISDIR(st.st_mode) or not st.st_mode & 0o111:
            raise SetupError(f'exec: "{name}": permission denied')
        return name
    for directory in search.split(":"):
        candidate = os.path.join(directory or ".", name)
        try:
            st = os.stat(candidate)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode) and st.st_mode & 0o111:
            return candidate
    raise SetupError(f'exec: "{name}": executable file not found in $PATH')


def _home_of(uid: int) -> str:
    """The user's home directory from the container's /etc/passwd ("/" without one), for
    a process environment without HOME — as runc sets it."""
    try:
        with open("/etc/passwd", errors="replace") as f:
            for line in f:
                fields = line.rstrip("\n").split(":")
                if len(fields) >= 6 and fields[2] == str(uid):
                    return fields[5] or "/"
    except OSError:
        pass
    return "/"


# ── syscalls ──────────────────────────────────────────────────────────────────────────

_LIBC: Any = None
_CAP_LAST = 40
_SYSNR: dict[str, int] = {}
_MOUNTS: dict[str, tuple[str, str]] | None = None


def _libc() -> Any:
    global _LIBC
    if _LIBC is None:
        _LIBC = ctypes.CDLL(None, use_errno=True)
        _LIBC.syscall.restype = ctypes.c_long
    return _LIBC


def _syscall(name: str, *args: Any, what: str = "", ignore: tuple[int, ...] = ()) -> None:
    number = _SYSNR.get(name)
    if number is None:
        raise SetupError(f"{name} is not supported on this machine")
    values = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    if _libc().syscall(number, *values) < 0:
        code = ctypes.get_errno()
        if code in ignore:
            return
        raise SetupError(f"{what or name}: {os.strerror(code).lower()}")


def _os_call(function: Any, *args: Any, what: str) -> None:
    try:
        function(*args)
    except (OSError, ValueError) as e:
        raise SetupError(f"{what}: {getattr(e, 'strerror', None) or e}") from None


def _errno_text() -> str:
    return os.strerror(ctypes.get_errno()).lower()


def _cap_numbers(names: list[str] | None) -> set[int]:
    return {CAPABILITY_NAMES.index(n) for n in names or () if n in CAPABILITY_NAMES}


def _mask(names: list[str] | None) -> int:
    value = 0
    for number in _cap_numbers(names):
        value |= 1 << number
    return value


def _close_fds_except(keep: tuple[int, ...]) -> None:
    low = 3
    for fd in sorted(fd for fd in keep if fd >= 3):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 0x7FFFFFFF)  # close_range(2): one call whatever the limit

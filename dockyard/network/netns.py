# SPDX-License-Identifier: Apache-2.0
"""Network namespaces kept alive by a bind mount, as `ip netns` does, but under the
daemon's exec root (`<exec-root>/netns/<sandbox-id>`), so a container's namespace
outlives the daemon process and a new daemon finds it again.

A namespace is made by a short-lived thread that `unshare(CLONE_NEWNET)`s itself (a
namespace change is per thread on Linux, so the daemon's other threads never move),
bind-mounts `/proc/thread-self/ns/net` onto the file, and — while still inside — opens
what the daemon needs to keep in there: a netlink socket to configure it and, for
containers with the embedded DNS server, its sockets on 127.0.0.11:53. Then the thread
ends; the sockets stay bound to the namespace.

With `--userns-remap` a container runs in a user namespace, and the kernel lets it mount
sysfs only in a network namespace that user namespace owns. So for such a container the
namespace is made together with its owner: a short-lived `unshare --user --net` process
creates both, the daemon writes the owner's ID maps and pins both (the owner beside the
network namespace, as `<sandbox-id>.userns`), and the thread then joins the network
namespace to open its sockets as above. The container joins both (see `userns_path`).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import socket
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from dockyard.idmap import IDENTITY, IDMap
from dockyard.network.netlink import Netlink, open_socket

CLONE_NEWNET = 0x40000000
MS_BIND = 0x1000
MS_REC = 0x4000
MS_SHARED = 1 << 20
MNT_DETACH = 2

DNS_ADDRESS = "127.0.0.11"

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]

T = TypeVar("T")


@dataclass
class Namespace:
    """What `create` and `enter` leave open in a namespace. The caller owns and closes
    them; closing does not destroy the namespace (the bind mount keeps it)."""

    path: Path
    netlink: Netlink
    dns_sockets: list[socket.socket] = field(default_factory=list)

    def close(self) -> None:
        self.netlink.close()


def create(path: Path, *, dns: bool = False, idmap: IDMap = IDENTITY) -> Namespace:
    """A new network namespace pinned at `path`, loopback up; with `dns`, UDP and TCP
    sockets bound to 127.0.0.11:53 inside it (the TCP one listening). With an `idmap`,
    the namespace belongs to a new user namespace with those mappings, pinned at
    `userns_path(path)`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _make_shared(path.parent)
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)
    os.close(fd)

    def inside() -> Namespace:
        if idmap.empty:
            _check(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
            _check(_libc.mount(b"/proc/thread-self/ns/net", os.fsencode(path), None, MS_BIND, None),
                   f"bind-mount network namespace on {path}")
        else:
            _create_owned(path, idmap)
            _join(path)
        netlink = Netlink(open_socket())
        try:
            netlink.set_link(1, up=True)  # lo is always ifindex 1 in a new namespace
            sockets = dns_sockets() if dns else []
        except BaseException:
            netlink.close()
            raise
        return Namespace(path, netlink, sockets)

    try:
        return _in_thread(inside)
    except BaseException:
        remove(path)
        raise


def enter(path: Path, *, dns: bool = False) -> Namespace:
    """Open a netlink socket (and with `dns` the DNS sockets) inside the existing
    namespace at `path`, e.g. after a daemon restart."""
    def inside() -> Namespace:
        _join(path)
        netlink = Netlink(open_socket())
        try:
            sockets = dns_sockets() if dns else []
        except BaseException:
            netlink.close()
            raise
        return Namespace(path, netlink, sockets)

    return _in_thread(inside)


def run_in(path: Path, fn: Callable[[], T]) -> T:
    """Call `fn` in a thread that has joined the namespace at `path`."""
    def inside() -> T:
        _join(path)
        return fn()

    return _in_thread(inside)


def remove(path: Path) -> None:
    """Unpin the namespace at `path` (the kernel frees it once no process uses it), and
    the user namespace owning it if one is pinned beside it."""
    _unpin(path)
    owner = _owner_pin(path)
    if os.path.lexists(owner):
        _unpin(owner)


def userns_path(path: Path) -> Path | None:
    """Where the user namespace owning the network namespace at `path` is pinned, if
    `create` made one for it."""
    owner = _owner_pin(path)
    return owner if exists(owner) else None


def _join(path: Path) -> None:
    """Move the calling thread into the network namespace at `path`."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _check(_libc.setns(fd, CLONE_NEWNET), f"setns({path})")
    finally:
        os.close(fd)


def _unpin(path: Path) -> None:
    if _libc.umount2(os.fsencode(path), MNT_DETACH) != 0:
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOENT):
            raise OSError(code, f"unmount {path}: {os.strerror(code)}")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _owner_pin(path: Path) -> Path:
    return path.with_name(path.name + ".userns")


def _create_owned(path: Path, idmap: IDMap) -> None:
    """Make a user namespace with `idmap` and a network namespace it owns, pinned at
    `userns_path(path)` and `path` (which exists). One unshare(2) call makes both, the
    user namespace first; a multi-threaded daemon cannot do that itself."""
    owner = _owner_pin(path)
    fd = os.open(owner, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)
    os.close(fd)
    holder = subprocess.Popen(
        ["unshare", "--user", "--net", "--", "sh", "-c", "echo ready; read _"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert holder.stdout is not None
        if holder.stdout.readline() != b"ready\n":
            holder.wait()
            error = holder.stderr.read().decode(errors="replace").strip() if holder.stderr else ""
            raise OSError(errno.EPERM, f"unshare --user --net failed: {error or 'no output'}")
        proc = f"/proc/{holder.pid}"
        for kind in ("uid", "gid"):
            with open(f"{proc}/{kind}_map", "w") as f:
                f.write(idmap.proc_map(kind))
        _check(_libc.mount(os.fsencode(f"{proc}/ns/user"), os.fsencode(owner), None, MS_BIND, None),
               f"bind-mount user namespace on {owner}")
        _check(_libc.mount(os.fsencode(f"{proc}/ns/net"), os.fsencode(path), None, MS_BIND, None),
               f"bind-mount network namespace on {path}")
    finally:
        with contextlib.suppress(OSError):
            holder.stdin.close()  # type: ignore[union-attr]
        holder.wait()
        for stream in (holder.stdout, holder.stderr):
            if stream is not None:
                stream.close()


def exists(path: Path) -> bool:
    """True if `path` is a pinned network namespace (not just a leftover file)."""
    try:
        return os.stat(path).st_dev != os.stat(path.parent).st_dev
    except OSError:
        return False


def open_fd(path: Path) -> int:
    return os.open(path, os.O_RDONLY | os.O_CLOEXEC)


def dns_sockets() -> list[socket.socket]:
    """UDP and listening TCP sockets on 127.0.0.11:53 in the calling thread's namespace."""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        for sock in (udp, tcp):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setblocking(False)
            sock.bind((DNS_ADDRESS, 53))
        tcp.listen(64)
    except BaseException:
        udp.close()
        tcp.close()
        raise
    return [udp, tcp]


def _in_thread(fn: Callable[[], T]) -> T:
    """Run `fn` on a new thread and return its result; the thread (and whatever
    namespace it moved into) ends with it."""
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            result["error"] = e

    thread = threading.Thread(target=target, name="dockyard-netns", daemon=True)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


_shared_dirs: set[Path] = set()


def _make_shared(directory: Path) -> None:
    """Make `directory` a shared mount of its own, like /run/netns: an unmount of a
    namespace file then propagates to mount namespaces that copied it meanwhile, instead
    of leaving them holding the namespace alive."""
    if directory in _shared_dirs:
        return
    target = os.fsencode(directory)
    if _libc.mount(b"none", target, None, MS_SHARED | MS_REC, None) != 0:
        if ctypes.get_errno() != errno.EINVAL:
            _check(-1, f"make {directory} shared")
        # Not a mount point yet: bind it onto itself first.
        _check(_libc.mount(target, target, None, MS_BIND | MS_REC, None), f"bind {directory}")
        _check(_libc.mount(b"none", target, None, MS_SHARED | MS_REC, None), f"make {directory} shared")
    _shared_dirs.add(directory)


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")

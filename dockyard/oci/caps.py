# SPDX-License-Identifier: Apache-2.0
"""Linux capabilities the Docker way: the default set, name normalisation, and applying
`CapAdd`/`CapDrop` (with `ALL`) and `Privileged` to it."""

from __future__ import annotations

from collections.abc import Iterable

from dockyard.errors import InvalidParameter

# Docker's default set, in Docker's order (its inspect output and spec list them so).
DEFAULT_CAPABILITIES: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)

# Indexed by capability number (linux/capability.h).
CAPABILITY_NAMES: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)

ALL = "ALL"


def all_capabilities(cap_last: int, bounding: int = -1) -> list[str]:
    """Every capability this kernel has (a newer kernel's extra ones have no name here)
    that is in the `bounding` mask (the daemon's own bounding set)."""
    return [name for number, name in enumerate(CAPABILITY_NAMES[: cap_last + 1])
            if bounding & (1 << number)]


def normalize(names: Iterable[str] | None) -> list[str]:
    """`net_admin`, `NET_ADMIN` and `CAP_NET_ADMIN` all mean CAP_NET_ADMIN; `all` is ALL.
    Unknown names are the user's mistake."""
    result: list[str] = []
    for raw in names or ():
        name = raw.strip().upper()
        if name == ALL:
            result.append(ALL)
            continue
        if not name.startswith("CAP_"):
            name = "CAP_" + name
        if name not in CAPABILITY_NAMES:
            raise InvalidParameter(f'unknown capability: "{name}"')
        if name not in result:
            result.append(name)
    return result


def effective_capabilities(*, cap_add: Iterable[str] | None, cap_drop: Iterable[str] | None,
                           privileged: bool, cap_last: int, bounding: int = -1,
                           basics: Iterable[str] = DEFAULT_CAPABILITIES) -> list[str]:
    """The container's capability list: all of them when privileged; with `ALL` in
    CapAdd, all but CapDrop; with `ALL` in CapDrop, only CapAdd; otherwise the defaults
    minus CapDrop plus CapAdd. Caps the kernel lacks are left out; "all" means all that
    the daemon itself holds (`bounding`), while a cap named explicitly is kept, so that
    the runtime reports it cannot be granted rather than it silently missing."""
    everything = all_capabilities(cap_last, bounding)
    if privileged:
        return everything
    adds, drops = normalize(cap_add), normalize(cap_drop)
    if ALL in adds:
        caps = [c for c in everything if c not in drops]
    elif ALL in drops:
        caps = [c for c in adds if c != ALL]
    else:
        caps = [c for c in basics if c not in drops]
        caps += [c for c in adds if c not in caps]
    known = set(CAPABILITY_NAMES[: cap_last + 1])
    return [c for c in caps if c in known]

# SPDX-License-Identifier: Apache-2.0
"""Facts about the host that shape a runtime spec: CPU architecture (as seccomp and Go
name it), kernel version, the daemon's own open-file hard limit, the highest capability
the kernel knows and the daemon may hand out, and which cgroup features exist.

They are read once per process (`HostInfo.probe()` is cached); tests build a `HostInfo`
by hand to pin them.
"""

from __future__ import annotations

import functools
import os
import platform
import re
import resource
from dataclasses import dataclass

# uname machine → (libseccomp architecture, Go's GOARCH). The profile's `includes.arches`
# and `excludes.arches` use Go's names; its archMap uses libseccomp's.
_ARCHES: dict[str, tuple[str, str]] = {
    "x86_64": ("SCMP_ARCH_X86_64", "amd64"),
    "amd64": ("SCMP_ARCH_X86_64", "amd64"),
    "i386": ("SCMP_ARCH_X86", "386"),
    "i686": ("SCMP_ARCH_X86", "386"),
    "aarch64": ("SCMP_ARCH_AARCH64", "arm64"),
    "arm64": ("SCMP_ARCH_AARCH64", "arm64"),
    "armv7l": ("SCMP_ARCH_ARM", "arm"),
    "armv6l": ("SCMP_ARCH_ARM", "arm"),
    "ppc64le": ("SCMP_ARCH_PPC64LE", "ppc64le"),
    "s390x": ("SCMP_ARCH_S390X", "s390x"),
    "riscv64": ("SCMP_ARCH_RISCV64", "riscv64"),
    "loongarch64": ("SCMP_ARCH_LOONGARCH64", "loong64"),
    "mips64": ("SCMP_ARCH_MIPS64", "mips64"),
    "mips64el": ("SCMP_ARCH_MIPSEL64", "mips64le"),
}


@dataclass(frozen=True)
class HostInfo:
    seccomp_arch: str  # e.g. SCMP_ARCH_X86_64
    go_arch: str  # e.g. amd64
    kernel: tuple[int, int, int]
    nofile_hard: int  # RLIM_INFINITY is reported as a very large number
    cap_last: int  # /proc/sys/kernel/cap_last_cap
    cgroup2: bool
    swap_accounting: bool
    # The daemon's own capability bounding set as a bit mask (-1: everything). A
    # container cannot get a capability the daemon lacks, so "all" means these.
    cap_bounding: int = -1

    @staticmethod
    @functools.cache
    def probe() -> HostInfo:
        machine = platform.machine()
        seccomp_arch, go_arch = _ARCHES.get(machine, ("", machine))
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        if hard == resource.RLIM_INFINITY:
            hard = 1 << 62
        cgroup2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
        if cgroup2:
            swap = os.path.exists("/sys/fs/cgroup/init.scope/memory.swap.max") or \
                _any_swap_max("/sys/fs/cgroup")
        else:
            swap = os.path.exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
        return HostInfo(seccomp_arch=seccomp_arch, go_arch=go_arch,
                        kernel=parse_kernel_version(platform.release()),
                        nofile_hard=hard, cap_last=_cap_last(), cgroup2=cgroup2,
                        swap_accounting=swap, cap_bounding=_cap_bounding())


def parse_kernel_version(text: str) -> tuple[int, int, int]:
    """`6.18.44-fc-v669` → (6, 18, 44); `4.8` → (4, 8, 0). Unparseable parts count as 0."""
    match = re.match(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?", text.strip())
    if not match:
        return (0, 0, 0)
    return tuple(int(part or 0) for part in match.groups())  # type: ignore[return-value]


def _cap_last() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 40  # CAP_CHECKPOINT_RESTORE, the last one in Linux 5.9+


def _cap_bounding() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapBnd:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError, IndexError):
        pass
    return -1


def _any_swap_max(root: str) -> bool:
    # On cgroup v2 the root has no memory.swap.max; any child that has one proves the
    # controller accounts swap.
    try:
        for entry in os.scandir(root):
            if entry.is_dir(follow_symlinks=False) and \
                    os.path.exists(os.path.join(entry.path, "memory.swap.max")):
                return True
    except OSError:
        pass
    return False

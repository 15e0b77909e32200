# SPDX-License-Identifier: Apache-2.0
"""What a default container cannot do, tried from inside one (issue 10's attack list), and
what `--privileged` lifts. System calls are made directly (python's ctypes, x86_64
numbers) so the answer is the kernel's and the seccomp filter's, not a tool's."""

from __future__ import annotations

import errno
import os
import platform

import pytest

pytestmark = pytest.mark.requires_root

# x86_64 system call numbers, and a call's result as 0 or its errno.
PROBE = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
def call(nr, *args):
    return 0 if libc.syscall(nr, *args) >= 0 else ctypes.get_errno()
host_pid = int(sys.argv[1])
print(f"mount {call(165, b'none', b'/mnt', b'tmpfs', 0, None)}")
print(f"unshare_user {call(272, 0x10000000)}")  # CLONE_NEWUSER (last: it drops our rights here)
print(f"ptrace_outside {call(101, 16, host_pid, 0, 0)}")              # PTRACE_ATTACH
print(f"kill_outside {call(62, host_pid, 0)}")
if "--privileged" not in sys.argv:
    print(f"keyctl {call(250, 0, -3, 0, 0, 0)}")                      # KEYCTL_GET_KEYRING_ID
    print(f"kexec_load {call(246, 0, 0, 0, 0)}")
"""


def _probe(daemon, image, *flags):
    out = daemon.cli("run", "--rm", *flags, image, "python3", "-c", PROBE, str(os.getpid()),
                     *flags).stdout.decode()
    return {k: int(v) for k, v in (line.split() for line in out.splitlines())}


@pytest.mark.skipif(platform.machine() != "x86_64", reason="x86_64 system call numbers")
def test_syscalls_refused_by_default_allowed_privileged(daemon, base_image):
    image = base_image("python")
    default = _probe(daemon, image)
    assert default == {"unshare_user": errno.EPERM, "mount": errno.EPERM, "ptrace_outside": errno.ESRCH,
                       "kill_outside": errno.ESRCH, "keyctl": errno.EPERM, "kexec_load": errno.EPERM}
    privileged = _probe(daemon, image, "--privileged")
    # Seccomp off and every capability: namespaces and mounts work; the host's processes
    # stay out of reach (the PID namespace is still the container's own).
    assert privileged == {"unshare_user": 0, "mount": 0, "ptrace_outside": errno.ESRCH, "kill_outside": errno.ESRCH}


def test_masked_and_read_only_proc_and_sys(daemon):
    # (/proc/kcore does not exist on every kernel: an empty read either way.)
    script = ("wc -c < /proc/keys; cat /proc/kcore 2>/dev/null | wc -c; ls /sys/firmware | wc -l; "
              "echo 1 > /proc/sysrq-trigger; echo sysrq=$?; "
              "echo 1 > /proc/sys/kernel/ns_last_pid; echo procsys=$?; "
              "grep -c CapEff /proc/self/status")
    out = daemon.cli("run", "--rm", "busybox", "sh", "-c", script, check=False).stdout.decode().split()
    assert out[:3] == ["0", "0", "0"]             # masked: empty
    assert out[3:5] == ["sysrq=1", "procsys=1"]   # read-only
    privileged = daemon.cli("run", "--rm", "--privileged", "busybox", "sh", "-c",
                            "ls /sys/firmware | wc -l; grep CapEff /proc/self/status").stdout.decode().split()
    assert privileged[-1] == "000001ffffffffff" or int(privileged[-1], 16) > 0xa80425fb


def test_other_containers_and_the_host_are_invisible(daemon):
    marker = "sleep 4242"
    other = daemon.cli("run", "-d", "busybox", "sh", "-c", f"exec {marker}").stdout.decode().strip()
    try:
        seen = daemon.cli("run", "--rm", "busybox", "ps", "-o", "pid,args").stdout.decode()
        assert marker not in seen and "dockyardd" not in seen and "conmon" not in seen
        assert len(seen.strip().splitlines()) == 2  # the header and ps itself
        # The daemon's socket is nowhere in the container's file system.
        socket_path = daemon.socket
        probe = daemon.cli("run", "--rm", "busybox", "sh", "-c",
                           f"ls {socket_path} /run/dockyard.sock /var/run/docker.sock 2>&1; true").stdout
        assert probe.count(b"No such file or directory") == 3
    finally:
        daemon.cli("rm", "-f", other)


def test_cpu_quota_is_enforced(daemon, base_image):
    busy = ("import os, time\nt = time.time()\nwhile time.time() - t < 2: pass\n"
            "print(sum(os.times()[:2]))")
    used = float(daemon.cli("run", "--rm", "--cpus", "0.25", base_image("python"), "python3", "-c", busy).stdout)
    assert used < 0.25 * 2 * 1.6, used  # 0.5 s of CPU in 2 s, with room for scheduling slack

# SPDX-License-Identifier: Apache-2.0
"""Living beside a Docker engine (or anything else that drops forwarded traffic by
policy in iptables' `filter FORWARD` chain).

Every table's forward chain sees each forwarded packet, and a drop anywhere is final, so
dockyard's own nftables table cannot let its containers' traffic through a FORWARD
chain whose policy is DROP — which is what dockerd sets when it starts. Docker's answer
for other software is its `DOCKER-USER` chain, evaluated first in FORWARD and kept
across dockerd restarts. dockyard therefore adds, for each of its bridges, two ACCEPT
rules marked with a comment `dockyard:<tag>` to DOCKER-USER (or, with a DROP policy and
no Docker, to FORWARD itself), and removes them with its networks. Isolation is still
dockyard's own table's job: its drops come first in effect, whatever is accepted here.

Nothing is added when the FORWARD chain accepts by policy and has no DOCKER-USER chain.
`Watcher` re-checks when the ruleset changes (e.g. dockerd started after dockyard).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import Awaitable, Callable

log = logging.getLogger("dockyard.network")

USER_CHAIN = "DOCKER-USER"


async def sync(tag: str, devices: list[str]) -> None:
    """Make the iptables filter table accept forwarded traffic of `devices` (and hold no
    rule of `tag` for other devices)."""
    iptables = shutil.which("iptables")
    if not iptables:
        return
    forward = await _run(iptables, "-w", "-t", "filter", "-S", "FORWARD")
    if forward is None:
        return
    user = await _run(iptables, "-w", "-t", "filter", "-S", USER_CHAIN)
    drop_policy = "-P FORWARD DROP" in forward or "-P FORWARD REJECT" in forward
    comment = f"dockyard:{tag}"
    wanted_chain = USER_CHAIN if user is not None else ("FORWARD" if drop_policy else None)
    wanted = set()
    if wanted_chain:
        for device in devices:
            wanted.add((wanted_chain, "-i", device))
            wanted.add((wanted_chain, "-o", device))
    present = set()
    for chain, listing in (("FORWARD", forward), (USER_CHAIN, user or "")):
        for line in listing.splitlines():
            rule = _our_rule(line, chain, comment)
            if rule:
                present.add(rule)
    for chain, direction, device in present - wanted:
        await _run(iptables, "-w", "-t", "filter", "-D", chain, direction, device,
                   "-m", "comment", "--comment", comment, "-j", "ACCEPT")
    for chain, direction, device in sorted(wanted - present):
        await _run(iptables, "-w", "-t", "filter", "-I", chain, "1", direction, device,
                   "-m", "comment", "--comment", comment, "-j", "ACCEPT")
        log.info("allowed forwarding of %s in iptables chain %s (%s)", device, chain, comment)


async def remove_all(tag: str) -> None:
    await sync(tag, [])


class Watcher:
    """Calls `resync` when nftables reports a change to a chain that is not ours — a
    DOCKER-USER chain appearing, a FORWARD policy turning to DROP — so dockyard notices a
    Docker engine that starts after it. Uses `nft monitor chains` (iptables-nft's
    changes show there); without nftables it does nothing."""

    def __init__(self, own_table: str, resync: Callable[[], Awaitable[None]]):
        self._own = own_table
        self._resync = resync
        self._task: asyncio.Task[None] | None = None
        self._process: asyncio.subprocess.Process | None = None

    def start(self) -> None:
        nft = shutil.which("nft")
        if nft and self._task is None:
            self._task = asyncio.create_task(self._watch(nft))

    async def stop(self) -> None:
        if self._process and self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
            await self._process.wait()
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._task = None

    async def _watch(self, nft: str) -> None:
        self._process = await asyncio.create_subprocess_exec(
            nft, "monitor", "chains", stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL, stdin=asyncio.subprocess.DEVNULL,
            preexec_fn=_die_with_parent)
        assert self._process.stdout is not None
        pending: asyncio.Task[None] | None = None
        while True:
            line = await self._process.stdout.readline()
            if not line:
                return
            text = line.decode(errors="replace")
            if f" {self._own} " in text or text.rstrip().endswith(f" {self._own}"):
                continue
            if pending is None or pending.done():
                pending = asyncio.create_task(self._debounced())

    async def _debounced(self) -> None:
        await asyncio.sleep(0.5)  # let a starting dockerd finish its burst of changes
        try:
            await self._resync()
        except Exception:  # noqa: BLE001 - a watcher must not die of one failed sync
            log.warning("re-checking iptables FORWARD rules failed", exc_info=True)


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the daemon dies, even by SIGKILL."""
    import ctypes
    import signal

    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _our_rule(line: str, chain: str, comment: str) -> tuple[str, str, str] | None:
    parts = line.split()
    if len(parts) < 4 or parts[0] != "-A" or parts[1] != chain:
        return None
    if comment not in line and f'"{comment}"' not in line:
        return None
    for flag in ("-i", "-o"):
        if flag in parts:
            return chain, flag, parts[parts.index(flag) + 1]
    return None


async def _run(*argv: str) -> str | None:
    """stdout of a command, or None if it failed (e.g. the chain does not exist)."""
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await process.communicate()
    if process.returncode != 0:
        return None
    return stdout.decode(errors="replace")

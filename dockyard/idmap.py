# SPDX-License-Identifier: Apache-2.0
"""User and group ID mappings between a container's user namespace and the host
(Docker's `idtools.IdentityMapping`), for `dockyardd --userns-remap`.

An `IDMap` holds, for uids and for gids, ranges `container → host` as in
/proc/<pid>/uid_map. Every place where files cross the boundary uses one:

* into the host (layer unpack, `cp` into a container, COPY in a build): `to_host`, which
  refuses an ID the ranges do not cover (`IDMapError`): such a file could not be owned
  by anybody inside the container;
* out of the host (`cp` out, `export`, `commit`): `to_container`; a host ID outside the
  ranges (only the daemon itself makes such files) becomes 65534, the kernel's overflow
  ID, which is also what the container sees for it.

`IDENTITY` (no ranges) maps every ID to itself: with remapping off every caller gets it,
so nothing changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# What the kernel shows for an ID without a mapping (/proc/sys/kernel/overflowuid).
OVERFLOW_ID = 65534


class IDMapError(ValueError):
    """An ID the mapping does not cover."""


@dataclass(frozen=True)
class IDRange:
    container: int  # first ID inside the namespace
    host: int  # the host ID it is
    size: int


@dataclass(frozen=True)
class IDMap:
    uids: tuple[IDRange, ...] = ()
    gids: tuple[IDRange, ...] = ()

    @classmethod
    def from_host_ranges(cls, uid_ranges: Iterable[tuple[int, int]],
                         gid_ranges: Iterable[tuple[int, int]]) -> IDMap:
        """The mapping for /etc/subuid-style (start, count) host ranges: container IDs
        from 0 upwards, through the ranges in the order given (as Docker stacks them)."""
        return cls(_stack(uid_ranges), _stack(gid_ranges))

    @property
    def empty(self) -> bool:
        """True for the identity: no user namespace."""
        return not self.uids and not self.gids

    @property
    def root(self) -> tuple[int, int]:
        """The host uid and gid of the container's root (0, 0 for the identity)."""
        return self.to_host(0, 0)

    def to_host(self, uid: int, gid: int) -> tuple[int, int]:
        """The host IDs of container IDs; IDMapError for one the ranges do not cover."""
        if self.empty:
            return uid, gid
        return _to_host(self.uids, uid, "uid"), _to_host(self.gids, gid, "gid")

    def to_container(self, uid: int, gid: int) -> tuple[int, int]:
        """The container IDs of host IDs; the overflow ID for one outside the ranges."""
        if self.empty:
            return uid, gid
        uid_in, gid_in = _container_id(self.uids, uid), _container_id(self.gids, gid)
        return (OVERFLOW_ID if uid_in is None else uid_in), (OVERFLOW_ID if gid_in is None else gid_in)

    def covers_host(self, uid: int, gid: int) -> bool:
        """Whether both host IDs are inside the ranges (always, for the identity)."""
        if self.empty:
            return True
        return _container_id(self.uids, uid) is not None and _container_id(self.gids, gid) is not None

    def spec(self) -> dict[str, Any]:
        """The OCI `linux.uidMappings`/`gidMappings`."""
        def entries(ranges: tuple[IDRange, ...]) -> list[dict[str, int]]:
            return [{"containerID": r.container, "hostID": r.host, "size": r.size} for r in ranges]
        return {"uidMappings": entries(self.uids), "gidMappings": entries(self.gids)}

    def proc_map(self, kind: str) -> str:
        """The text for /proc/<pid>/uid_map (`kind` "uid") or gid_map ("gid")."""
        ranges = self.uids if kind == "uid" else self.gids
        return "".join(f"{r.container} {r.host} {r.size}\n" for r in ranges)


IDENTITY = IDMap()


def _stack(ranges: Iterable[tuple[int, int]]) -> tuple[IDRange, ...]:
    out: list[IDRange] = []
    container = 0
    for start, count in ranges:
        out.append(IDRange(container, start, count))
        container += count
    return tuple(out)


def _to_host(ranges: tuple[IDRange, ...], value: int, kind: str) -> int:
    for r in ranges:
        if r.container <= value < r.container + r.size:
            return r.host + value - r.container
    covered = sum(r.size for r in ranges)
    raise IDMapError(f"container {kind} {value} cannot be mapped to a host ID "
                     f"(the remapped range covers 0-{covered - 1})")


def _container_id(ranges: tuple[IDRange, ...], value: int) -> int | None:
    for r in ranges:
        if r.host <= value < r.host + r.size:
            return r.container + value - r.host
    return None

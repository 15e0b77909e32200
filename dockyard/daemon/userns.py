# SPDX-License-Identifier: Apache-2.0
"""`dockyardd --userns-remap`: which host IDs the containers' root and users become, and
where the daemon then keeps its store. Follows dockerd (`setupRemappedRoot`,
`setupDaemonRoot` and moby's `usergroup` package):

* the option is `default`, `USER`, `USER:GROUP`, `UID` or `UID:GID`; `default` is the
  system user and group `dockremap`, made (`groupadd -r`, `useradd -r`) when missing;
* the ranges are the user's lines in /etc/subuid and /etc/subgid (by name or numeric
  ID; several lines are stacked, container IDs counting on from 0); `dockremap` gets
  a range appended when it has none, the first 65536 IDs at or above 100000 that no
  other line uses; any other user without ranges is a startup error;
* the store moves to `<data-root>/<uid>.<gid>/` (the host IDs of the container's root),
  so layers unpacked for one mapping never serve another; `<data-root>` becomes 0711 and
  the new directory 0710 root:<gid>, as dockerd makes them. Nothing in the store needs to
  be reachable by the remapped root (layers are reached through overlay as the daemon,
  bind-mount sources are opened by runc before it enters the user namespace), but the
  container's root filesystem is mounted under the exec root, which runc walks from
  inside the namespace: that path must let it through (`make_reachable`).

Nothing here runs unless the option is given.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.errors import InvalidParameter
from dockyard.idmap import IDENTITY, IDMap

if TYPE_CHECKING:
    from dockyard.config import DaemonConfig

DEFAULT_SPEC = "default"
DEFAULT_NAME = "dockremap"
RANGE_START = 100000
RANGE_SIZE = 65536
SUBUID = Path("/etc/subuid")
SUBGID = Path("/etc/subgid")


class RemapError(Exception):
    """A --userns-remap setting that cannot work; the message is one line for the user."""


@dataclass(frozen=True)
class SubID:
    """One line of /etc/subuid or /etc/subgid."""

    name: str
    start: int
    count: int


@dataclass(frozen=True)
class Remap:
    user: str
    group: str
    idmap: IDMap

    @property
    def dir_name(self) -> str:
        """`<uid>.<gid>` of the container's root on the host: the store's directory."""
        uid, gid = self.idmap.root
        return f"{uid}.{gid}"


def setup(option: str, *, subuid: Path = SUBUID, subgid: Path = SUBGID) -> Remap:
    """Resolve the option to users and ranges (making `dockremap` and its ranges for
    `default`). Raises RemapError."""
    user_part, group_part = parse_option(option)
    if user_part == DEFAULT_SPEC:
        user_part = DEFAULT_NAME
        if group_part is None:
            group_part = DEFAULT_NAME
        _ensure_default_user()
    user = _lookup_user(user_part)
    group = _lookup_group(group_part) if group_part is not None else _group_of_user(user_part, user)
    if user.pw_uid == 0:
        raise RemapError("--userns-remap: root cannot be remapped to itself")
    names = {user.pw_name, str(user.pw_uid)}
    if user.pw_name == DEFAULT_NAME:
        ensure_ranges(subuid, user.pw_name, user.pw_uid)
        ensure_ranges(subgid, user.pw_name, user.pw_uid)
    uid_ranges = ranges_for(read_subids(subuid), names)
    if not uid_ranges:
        raise RemapError(f'--userns-remap: no subordinate uid ranges for user "{user.pw_name}" in {subuid}')
    # As dockerd: /etc/subgid lines name users too; a named group's own lines come next.
    gid_entries = read_subids(subgid)
    gid_ranges = ranges_for(gid_entries, names) or \
        ranges_for(gid_entries, {group.gr_name, str(group.gr_gid)})
    if not gid_ranges:
        raise RemapError(f'--userns-remap: no subordinate gid ranges for user "{user.pw_name}" in {subgid}')
    return Remap(user.pw_name, group.gr_name, IDMap.from_host_ranges(uid_ranges, gid_ranges))


def parse_option(option: str) -> tuple[str, str | None]:
    """(user or uid, group or gid or None) of `--userns-remap`'s value."""
    parts = option.strip().split(":")
    if len(parts) > 2 or not parts[0] or (len(parts) == 2 and not parts[1]):
        raise RemapError(f'invalid user/group specification in --userns-remap: "{option}"')
    return parts[0], parts[1] if len(parts) == 2 else None


def read_subids(path: Path) -> list[SubID]:
    """Every range in a subuid/subgid file (a missing file has none). Comments and blank
    lines are skipped; a malformed line is a RemapError naming it."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return []
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split(":")
        try:
            if len(fields) != 3 or not fields[0]:
                raise ValueError
            start, count = int(fields[1]), int(fields[2])
            if start < 0 or count <= 0:
                raise ValueError
        except ValueError:
            raise RemapError(f"{path} line {number}: expected NAME:START:COUNT, got {line!r}") from None
        entries.append(SubID(fields[0], start, count))
    return entries


def ranges_for(entries: list[SubID], names: set[str]) -> list[tuple[int, int]]:
    """(start, count) of the lines naming one of `names`, in file order."""
    return [(e.start, e.count) for e in entries if e.name in names]


def next_free_start(entries: list[SubID], start: int = RANGE_START, size: int = RANGE_SIZE) -> int:
    """The lowest ID at or above `start` where `size` IDs overlap no existing range."""
    candidate = start
    for entry in sorted(entries, key=lambda e: e.start):
        if entry.start + entry.count <= candidate:
            continue
        if entry.start >= candidate + size:
            break
        candidate = entry.start + entry.count
    return candidate


def ensure_ranges(path: Path, name: str, uid: int | None = None, size: int = RANGE_SIZE) -> None:
    """Append a free range for the user `name` to the file unless a line already gives
    it one (by name, or by its `uid`)."""
    entries = read_subids(path)
    if any(e.name == name or (uid is not None and e.name == str(uid)) for e in entries):
        return
    start = next_free_start(entries, size=size)
    path = Path(path)
    prefix = ""
    if path.exists() and path.stat().st_size:
        with open(path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            prefix = "" if f.read(1) == b"\n" else "\n"
    with open(path, "a") as f:
        f.write(f"{prefix}{name}:{start}:{size}\n")
        f.flush()
        os.fsync(f.fileno())


def prepare_root(data_root: Path, remap: Remap) -> Path:
    """Make `<data_root>/<uid>.<gid>` (dockerd's permissions, see the module doc) and
    return it."""
    _, gid = remap.idmap.root
    data_root.mkdir(parents=True, exist_ok=True)
    os.chmod(data_root, 0o711)
    root = data_root / remap.dir_name
    root.mkdir(mode=0o710, exist_ok=True)
    os.chown(root, os.getuid(), gid)
    os.chmod(root, 0o710)
    return root


def make_reachable(directory: Path, uid: int, gid: int) -> None:
    """Let the remapped root through `directory` (the exec root, where container root
    filesystems are mounted): add o+x when it lacks it, and check the ones above
    (RemapError: containers could not start)."""
    directory.mkdir(parents=True, exist_ok=True)
    mode = stat.S_IMODE(os.stat(directory).st_mode)
    if not _can_search(directory, uid, gid):
        os.chmod(directory, mode | 0o001)
    check_reachable(directory, uid, gid)


def check_reachable(directory: Path, uid: int, gid: int) -> None:
    """RemapError if a directory above `directory` refuses the remapped root a lookup."""
    for parent in Path(directory).resolve().parents:
        if parent == Path("/"):
            break
        if not _can_search(parent, uid, gid):
            raise RemapError(f"--userns-remap: {parent} does not let the remapped root "
                             f"({uid}:{gid}) through; allow 'o+x' on it")


def container_idmap(config: DaemonConfig, record: dict[str, Any]) -> IDMap:
    """The mapping of the user namespace the container runs in: the daemon's, or none
    with `--userns=host` (Docker's per-container opt-out; its files still use the
    daemon's mapping, only the processes run as the host's root)."""
    if (record.get("HostConfig") or {}).get("UsernsMode") == "host":
        return IDENTITY
    return config.id_map


def check_host_config(config: DaemonConfig, host_config: dict[str, Any]) -> None:
    """dockerd's refusals for a container in a remapped user namespace: the host's
    network and PID namespaces belong to the host's user namespace, and privileged
    means the host's root. InvalidParameter with Docker's messages."""
    if config.id_map.empty or host_config.get("UsernsMode") == "host":
        return
    if host_config.get("Privileged"):
        raise InvalidParameter("privileged mode is incompatible with user namespaces.  You must run "
                               "the container in the host namespace when running privileged mode")
    if host_config.get("NetworkMode") == "host":
        raise InvalidParameter("cannot share the host's network namespace when user namespaces are enabled")
    if host_config.get("PidMode") == "host":
        raise InvalidParameter("cannot share the host PID namespace when user namespaces are enabled")


# ── helpers ───────────────────────────────────────────────────────────────────────────

def _can_search(path: Path, uid: int, gid: int) -> bool:
    st = os.stat(path)
    mode = stat.S_IMODE(st.st_mode)
    if st.st_uid == uid:
        return bool(mode & 0o100)
    if st.st_gid == gid:
        return bool(mode & 0o010)
    return bool(mode & 0o001)


def _ensure_default_user() -> None:
    """`dockremap` as dockerd makes it: a system group and a system user in it, no home,
    no login shell."""
    if not _exists(grp.getgrnam, DEFAULT_NAME):
        _run(["groupadd", "-r", DEFAULT_NAME])
    if not _exists(pwd.getpwnam, DEFAULT_NAME):
        _run(["useradd", "-r", "-g", DEFAULT_NAME, "-M", "-s", "/bin/false", DEFAULT_NAME])


def _run(argv: list[str]) -> None:
    try:
        result = subprocess.run(argv, capture_output=True, text=True)
    except FileNotFoundError:
        raise RemapError(f"--userns-remap default: {argv[0]} not found; cannot create the {DEFAULT_NAME} user") from None
    if result.returncode != 0:
        message = (result.stderr or result.stdout).strip().replace("\n", "; ")
        raise RemapError(f"--userns-remap default: {' '.join(argv)} failed: {message}")


def _exists(lookup: Callable[[str], object], name: str) -> bool:
    """Whether `lookup` (pwd.getpwnam, grp.getgrnam) knows `name`."""
    try:
        lookup(name)
    except KeyError:
        return False
    return True


def _lookup_user(spec: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwuid(int(spec)) if spec.isdigit() else pwd.getpwnam(spec)
    except KeyError:
        raise RemapError(f'--userns-remap: no user "{spec}" in /etc/passwd') from None


def _lookup_group(spec: str) -> grp.struct_group:
    try:
        return grp.getgrgid(int(spec)) if spec.isdigit() else grp.getgrnam(spec)
    except KeyError:
        raise RemapError(f'--userns-remap: no group "{spec}" in /etc/group') from None


def _group_of_user(spec: str, user: pwd.struct_passwd) -> grp.struct_group:
    """dockerd's rule without a group: a uid names the group with the same ID, a user
    name the group of the same name."""
    return _lookup_group(str(user.pw_uid) if spec.isdigit() else user.pw_name)

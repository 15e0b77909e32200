# SPDX-License-Identifier: Apache-2.0
"""Resolving `Config.User` (`user`, `uid`, `user:group`, `uid:gid`) and `HostConfig.GroupAdd`
to numeric ids with the container's own /etc/passwd and /etc/group, the way Docker does.

Rules: an empty user is uid 0; a name must exist in passwd, a number need not; a given
group replaces the primary gid (name must exist, number need not) and then no
supplementary groups are looked up; otherwise the supplementary groups are every group
that lists the user by name. The files are read through `resolve_in_root`, so a symlink in
an image (`/etc/passwd -> /host/etc/passwd`) cannot make us read the host's files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from dockyard.errors import InvalidParameter

_MAX_ID = 2**31 - 1
_MAX_SYMLINKS = 255


@dataclass
class ExecUser:
    uid: int = 0
    gid: int = 0
    additional_gids: list[int] = field(default_factory=list)
    name: str = ""
    home: str = "/"


def resolve_user(rootfs: str, user_spec: str | None, group_add: list[str] | None = None) -> ExecUser:
    """Numeric ids for `user_spec` inside `rootfs`; `InvalidParameter` with Docker's
    message when a name has no entry."""
    user_arg, _, group_arg = (user_spec or "").partition(":")
    passwd = _read_entries(resolve_in_root(rootfs, "/etc/passwd"), 7)
    groups = _read_entries(resolve_in_root(rootfs, "/etc/group"), 4)

    result = ExecUser()
    uid_arg = _as_id(user_arg)
    match = None
    for entry in passwd:
        entry_uid = _as_id(entry[2])
        if user_arg == "":
            hit = entry_uid == 0
        elif uid_arg is None:
            hit = entry[0] == user_arg
        else:
            hit = entry_uid == uid_arg
        if hit and entry_uid is not None:
            match = entry
            break
    if match is not None:
        result.name = match[0]
        result.uid = _as_id(match[2]) or 0
        result.gid = _as_id(match[3]) or 0
        result.home = match[5] or "/"
    elif user_arg and uid_arg is None:
        raise InvalidParameter(f"unable to find user {user_arg}: no matching entries in passwd file")
    elif uid_arg is not None:
        _check_range(uid_arg, user_arg)
        result.uid = uid_arg

    if group_arg:
        result.gid = _lookup_group(groups, group_arg)
    elif result.name:
        result.additional_gids = [gid for entry in groups
                                  if result.name in _members(entry)
                                  and (gid := _as_id(entry[2])) is not None]

    # Docker always lists the primary group among the supplementary ones (`id` shows
    # `groups=65534(nogroup)` for nobody), then the /etc/group memberships.
    result.additional_gids = [result.gid] + [g for g in result.additional_gids if g != result.gid]
    for extra in group_add or ():
        gid = _lookup_group(groups, extra)
        if gid not in result.additional_gids:
            result.additional_gids.append(gid)
    return result


def resolve_in_root(root: str, path: str) -> str:
    """The host path that `path` names inside `root`, following symlinks as if `root`
    were `/`: absolute targets restart at `root` and `..` never climbs above it. The
    result need not exist."""
    root = os.path.abspath(root)
    pending = [p for p in path.split("/") if p]
    resolved: list[str] = []
    followed = 0
    while pending:
        part = pending.pop(0)
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            target = os.readlink(candidate)
        except OSError:
            # Not a symlink (or missing): keep it as a plain component.
            resolved.append(part)
            continue
        followed += 1
        if followed > _MAX_SYMLINKS:
            raise InvalidParameter(f"too many symlinks resolving {path} in the container")
        if target.startswith("/"):
            resolved = []
        pending = [p for p in target.split("/") if p] + pending
    return os.path.join(root, *resolved)


# ── helpers ───────────────────────────────────────────────────────────────────────────

def _read_entries(path: str, width: int) -> list[list[str]]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return []
    entries = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        parts += [""] * (width - len(parts))
        entries.append(parts)
    return entries


def _members(entry: list[str]) -> list[str]:
    return [m.strip() for m in entry[3].split(",") if m.strip()]


def _lookup_group(groups: list[list[str]], arg: str) -> int:
    gid_arg = _as_id(arg)
    for entry in groups:
        if (gid_arg is None and entry[0] == arg) or (gid_arg is not None and _as_id(entry[2]) == gid_arg):
            gid = _as_id(entry[2])
            if gid is not None:
                return gid
    if gid_arg is None:
        raise InvalidParameter(f"unable to find group {arg}: no matching entries in group file")
    _check_range(gid_arg, arg)
    return gid_arg


def _as_id(text: str) -> int | None:
    text = text.strip()
    if text.isdigit():
        return int(text)
    return None


def _check_range(value: int, text: str) -> None:
    if value > _MAX_ID:
        raise InvalidParameter(f"uids and gids must be in range 0-{_MAX_ID}: {text}")

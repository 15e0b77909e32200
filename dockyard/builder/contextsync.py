# SPDX-License-Identifier: Apache-2.0
"""Incremental build contexts on the wire: how `dockyard build DIR` avoids sending and
re-hashing the files the daemon already holds from an earlier build of the same
directory.

Docker's classic API sends the whole context with every build, and its daemon reads and
hashes every byte again. The dockyard CLI, building a local directory, instead:

1. describes the context as a *manifest*: one item per member it would have put in the
   tar (same walk, same `.dockerignore`), each with a *fingerprint* of the client's
   `lstat` (device, inode, ctime, mtime, size: what git's index compares; ctime cannot
   be set back by a program, so an edit always shows);
2. `POST /dockyard/build/context?key=K` with the manifest as the JSON body; the daemon
   answers `{"Need": [paths]}`, the regular files whose fingerprint differs from the
   ones it kept for K (all of them the first time);
3. `POST /build?…&dockyardcontext=K` with a tar holding (after any build secrets) the
   manifest as the member `MANIFEST`, then only the needed files.

The daemon rebuilds the full context from the files it kept and the ones received, so
the build sees exactly what the whole tar would have given it; only changed files are
read, sent and hashed. K (`context_key`) names the directory on the client's machine
(host name and real path), as BuildKit's shared session key does. A file the daemon has
dropped in between (a concurrent build, `builder prune`) makes step 3 fail with
`STALE`, and the CLI sends the whole context the classic way instead.

Stdlib only: the CLI imports this.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import tarfile
from typing import Any

MANIFEST = ".dockyard-context-manifest"
QUERY = "dockyardcontext"
STALE = "build context changed on the daemon"
_KEY = re.compile(r"^[0-9a-f]{64}$")
_TYPES = {tarfile.REGTYPE: "f", tarfile.DIRTYPE: "d", tarfile.SYMTYPE: "l", tarfile.LNKTYPE: "h",
          tarfile.FIFOTYPE: "p", tarfile.CHRTYPE: "c", tarfile.BLKTYPE: "b"}
_FROM_CODE = {code: kind for kind, code in _TYPES.items()}


def context_key(root: str) -> str:
    """The key a directory's context is kept under on the daemon."""
    return hashlib.sha256(f"{socket.gethostname()}\0{os.path.realpath(root)}".encode()).hexdigest()


def valid_key(key: str) -> bool:
    return bool(_KEY.match(key))


def fingerprint(st: os.stat_result) -> str:
    return f"{st.st_dev}:{st.st_ino}:{st.st_ctime_ns}:{st.st_mtime_ns}:{st.st_size}"


def item(info: tarfile.TarInfo, print_: str) -> list[Any]:
    """One manifest item: the tar header fields the build uses, and the fingerprint."""
    return [info.name, _TYPES.get(info.type, "f"), info.mode, info.size if info.isreg() else 0,
            info.mtime, info.linkname, print_, info.devmajor, info.devminor]


def encode(items: list[list[Any]]) -> bytes:
    return json.dumps(items, separators=(",", ":")).encode()


def decode(data: bytes) -> list[tuple[tarfile.TarInfo, str]]:
    """Manifest bytes as (header, fingerprint) pairs (daemon side); InvalidParameter
    naming what is wrong."""
    from dockyard.errors import InvalidParameter, json_input

    raw: list[Any] = json_input(data, list, "invalid build context manifest")  # type: ignore[assignment]
    out = []
    for entry in raw:
        try:
            name, kind, mode, size, mtime, linkname, print_, major, minor = entry
            info = tarfile.TarInfo(str(name))
            info.type = _FROM_CODE[kind]
            info.mode, info.size, info.mtime = int(mode) & 0o7777, int(size), float(mtime)
            info.linkname, info.devmajor, info.devminor = str(linkname), int(major), int(minor)
            if info.size < 0 or not isinstance(print_, str):
                raise ValueError
        except (TypeError, ValueError, KeyError):
            raise InvalidParameter(f"invalid build context manifest item: {entry!r:.200}") from None
        info.uid = info.gid = 0
        out.append((info, print_))
    return out


def manifest_member(data: bytes) -> bytes:
    """The tar header and padded data of the manifest member (client side)."""
    from dockyard import tarstream

    return tarstream.member_bytes(MANIFEST, data, 0o600, tarfile.PAX_FORMAT)

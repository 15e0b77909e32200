# SPDX-License-Identifier: Apache-2.0
"""Build secrets on the wire: how `build --secret` reaches the daemon inside the context.

The client puts each secret first in the context tar, before any other member, as a
plain ustar regular file named `.dockyard-build-secrets/<hex of the secret id>` (no PAX
or GNU extension headers). The daemon reads those leading members off the stream before
anything is written to disk (`read_leading`), keeps them in memory for that one build,
and never indexes them: COPY, ADD, `.dockerignore` and the cache keys never see them.
A member under that directory anywhere else in the archive is left out of the index, so
a context that happens to hold such a directory cannot pass a file off as a secret.

Stdlib only: the CLI imports this to write the members.
"""

from __future__ import annotations

import tarfile
from typing import BinaryIO

from dockyard import tarstream

SECRETS_DIR = ".dockyard-build-secrets"
# BuildKit's limit for one secret.
MAX_SECRET_SIZE = 500 * 1024
# ustar keeps at most 100 bytes of the name after the directory: 50 bytes of id as hex.
MAX_ID_BYTES = 50
_BLOCK = 512


def member_bytes(secret_id: str, data: bytes) -> bytes:
    """The tar header and padded data that carry one secret (client side)."""
    encoded = secret_id.encode()
    if not encoded or len(encoded) > MAX_ID_BYTES:
        raise ValueError(f"secret id must be 1 to {MAX_ID_BYTES} bytes: {secret_id!r}")
    if len(data) > MAX_SECRET_SIZE:
        raise ValueError(f"secret {secret_id} too big. max size 500KB")
    # Plain ustar: the daemon reads these headers itself, before any PAX extension.
    return tarstream.member_bytes(f"{SECRETS_DIR}/{encoded.hex()}", data, 0o400, tarfile.USTAR_FORMAT)


def is_secret_member(name: str) -> bool:
    """Whether a context path lies in the reserved directory (stripped by the daemon)."""
    return name == SECRETS_DIR or name.startswith(SECRETS_DIR + "/")


def read_leading(stream: BinaryIO) -> tuple[dict[str, bytes], bytes]:
    """Read the secret members that open a tar stream (daemon side). Returns the
    secrets by id and the bytes read past them (the next header, to be handed on
    with the rest of the stream). Raises ValueError for a malformed secret member."""
    found: dict[str, bytes] = {}
    while True:
        block = tarstream.read_exactly(stream, _BLOCK)
        if len(block) < _BLOCK:
            return found, block
        try:
            info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        except tarfile.HeaderError:
            return found, block  # the end-of-archive marker, or not ours to judge
        if not (is_secret_member(info.name) and info.isreg()):
            return found, block
        try:
            secret_id = bytes.fromhex(info.name[len(SECRETS_DIR) + 1:]).decode()
        except ValueError:
            raise ValueError(f"invalid build secret member {info.name!r}") from None
        if info.size > MAX_SECRET_SIZE:
            raise ValueError(f"secret {secret_id} too big. max size 500KB")
        data = tarstream.read_exactly(stream, info.size)
        tarstream.read_exactly(stream, (-info.size) % _BLOCK)
        if len(data) < info.size:
            raise ValueError(f"build secret {secret_id} is truncated")
        found[secret_id] = data

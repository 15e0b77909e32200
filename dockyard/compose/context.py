# SPDX-License-Identifier: Apache-2.0
"""The build context sent with `POST /build`: a tar of the context directory minus what
`.dockerignore` excludes, with an inline Dockerfile (`dockerfile_inline`) added."""

from __future__ import annotations

import fnmatch
import io
import os
import tarfile


def context_tar(context: str, dockerfile: str, inline: str | None = None) -> tuple[bytes, str]:
    """(tar bytes, the Dockerfile's path inside the tar)."""
    if "://" in context or context.startswith("git@"):
        raise NotImplementedError("remote build contexts are passed by URL, not as a tar")
    if not os.path.isdir(context):
        from dockyard.compose.errors import ComposeError

        raise ComposeError(f"build context {context!r} is not a directory")
    patterns = _ignore_patterns(os.path.join(context, ".dockerignore"))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for root, dirs, files in os.walk(context):
            rel_root = os.path.relpath(root, context)
            dirs.sort()
            for entry in sorted(files) + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
                rel = os.path.normpath(os.path.join(rel_root, entry))
                if _ignored(rel, patterns) and rel not in (dockerfile, ".dockerignore"):
                    continue
                tar.add(os.path.join(root, entry), arcname=rel, recursive=False)
            for d in list(dirs):
                rel = os.path.normpath(os.path.join(rel_root, d))
                if _ignored(rel, patterns) and not any(p.startswith("!") for p in patterns):
                    dirs.remove(d)
                elif not os.path.islink(os.path.join(root, d)):
                    tar.add(os.path.join(root, d), arcname=rel, recursive=False)
        if inline is not None:
            dockerfile = ".dockyard-compose.Dockerfile"
            data = inline.encode()
            info = tarfile.TarInfo(dockerfile)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue(), dockerfile


def _ignore_patterns(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        neg = line.startswith("!")
        pat = os.path.normpath(line.lstrip("!").lstrip("/"))
        out.append(("!" if neg else "") + pat)
    return out


def _ignored(rel: str, patterns: list[str]) -> bool:
    ignored = False
    for pattern in patterns:
        neg = pattern.startswith("!")
        pat = pattern[1:] if neg else pattern
        if _match(pat, rel):
            ignored = not neg
    return ignored


def _match(pattern: str, rel: str) -> bool:
    if pattern.startswith("**/"):
        return _match(pattern[3:], rel) or any(
            _match(pattern[3:], rel.split("/", i)[-1]) for i in range(1, rel.count("/") + 1)
        )
    if fnmatch.fnmatchcase(rel, pattern):
        return True
    # A directory pattern excludes what is under it.
    parts = rel.split("/")
    return any(fnmatch.fnmatchcase("/".join(parts[:i]), pattern) for i in range(1, len(parts)))

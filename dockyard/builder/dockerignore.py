# SPDX-License-Identifier: Apache-2.0
"""`.dockerignore`: which context paths a build leaves out, with Docker's pattern rules.

Each non-comment line is a pattern, cleaned like a path (`./a//b/` → `a/b`, a leading
`/` dropped); `*`, `?` and `[…]` match within one path component, `**` any number of
components, and the escape character quotes. A path is excluded when the last pattern
matching it, or one of its parent directories, is not a `!` exception. The same module
serves the CLI (client-side filtering, as Docker's CLI does) and the daemon.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass


def read_patterns(text: str | bytes) -> list[str]:
    """The patterns of a .dockerignore file."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    patterns = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        if negate:
            line = line[1:].strip()
        if not line:
            continue
        cleaned = posixpath.normpath(line).lstrip("/") if line not in ("/",) else "."
        if cleaned.startswith("./"):
            cleaned = cleaned[2:]
        patterns.append(("!" if negate else "") + cleaned)
    return patterns


@dataclass
class _Pattern:
    negate: bool
    regex: re.Pattern[str]
    dirs: int


class Matcher:
    """Decides, for a slash-separated path relative to the context root, if it is out."""

    def __init__(self, patterns: list[str]):
        self._patterns = []
        for p in patterns:
            negate = p.startswith("!")
            body = p[1:] if negate else p
            self._patterns.append(_Pattern(negate, re.compile(_regex(body)), body.count("/")))
        self.has_exceptions = any(p.negate for p in self._patterns)

    def __bool__(self) -> bool:
        return bool(self._patterns)

    def excluded(self, path: str) -> bool:
        path = path.strip("/")
        parents = _parents(path)
        out = False
        for p in self._patterns:
            if p.negate == (not out):
                continue  # cannot change the verdict
            hit = bool(p.regex.match(path))
            if not hit and parents:
                # Docker also matches the pattern against the path's parent directories
                # (`foo` excludes `foo/bar`).
                hit = any(p.regex.match(parent) for parent in parents)
            if hit:
                out = not p.negate
        return out

    def may_contain_kept(self, directory: str) -> bool:
        """Whether an excluded directory must still be walked: only when some `!`
        exception could keep a path below it (Docker walks it then, too)."""
        return self.has_exceptions


def _parents(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def _regex(pattern: str) -> str:
    out = ["^"]
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            if pattern.startswith("**", i):
                i += 2
                if i < n and pattern[i] == "/":
                    i += 1
                    out.append("(.*/)?")  # `**/` also matches no directory at all
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1:end]
                if body.startswith("^") or body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        elif ch == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(ch))
        i += 1
    out.append("$")
    return "".join(out)

# SPDX-License-Identifier: Apache-2.0
"""`.env`, `--env-file` and service `env_file` files in the dotenv syntax Compose reads.

    # comment
    export NAME=value          "export " is allowed and ignored
    NAME=value # comment       unquoted: trimmed, an inline comment needs a space before #
    NAME="a ${OTHER} \\n b"     double quotes: escapes and interpolation, may span lines
    NAME='literal $X'          single quotes: taken literally
    NAME                       no "=": the value comes from the environment (left out if unset)

Unquoted and double-quoted values are interpolated with the variables read so far and
then `lookup` (the process environment), as Compose does.
"""

from __future__ import annotations

from dockyard.compose.errors import ComposeError
from dockyard.compose.interpolate import _Invalid, _Required, interpolate

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


def read_dotenv(path: str, lookup: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """The variables of the file at `path`; a value is None when the line names a variable
    without a value and `lookup` does not have it either."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise ComposeError(f"failed to read {path}: {exc.strerror}") from None
    return parse_dotenv(text, lookup or {}, path)


def parse_dotenv(text: str, lookup: Mapping[str, str], source: str = ".env") -> dict[str, str | None]:
    result: dict[str, str | None] = {}
    lines = text.replace("\r\n", "\n").split("\n")
    i = 0
    while i < len(lines):
        raw = lines[i]
        i += 1
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export ") or line.startswith("export\t"):
            line = line[7:].lstrip()
        name, sep, value = line.partition("=")
        name = name.strip()
        if not name or any(c.isspace() for c in name):
            raise ComposeError(f"{source}:{i}: unexpected character in variable name {name!r}")
        if not sep:
            looked = lookup.get(name)
            result[name] = looked
            continue
        value = value.lstrip()
        scope = _Scope(result, lookup)
        if value.startswith("'"):
            body, i = _quoted(value[1:], "'", lines, i, source)
            result[name] = body
        elif value.startswith('"'):
            body, i = _quoted(value[1:], '"', lines, i, source)
            result[name] = _interp(_unescape(body), scope, source, i)
        else:
            hash_at = _inline_comment(value)
            if hash_at >= 0:
                value = value[:hash_at]
            result[name] = _interp(value.strip(), scope, source, i)
    return result


class _Scope(dict):
    """Variables defined earlier in the file first, then the environment."""

    def __init__(self, defined: Mapping[str, str | None], lookup: Mapping[str, str]):
        super().__init__()
        self._defined = defined
        self._lookup = lookup

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        value = self._lookup.get(key)
        if value is None:
            value = self._defined.get(key)
        return default if value is None else value


def _interp(value: str, scope: _Scope, source: str, line: int) -> str:
    try:
        return interpolate(value, scope)
    except (_Invalid, _Required):
        raise ComposeError(f"{source}:{line}: invalid interpolation in {value!r}") from None


def _quoted(rest: str, quote: str, lines: list[str], i: int, source: str) -> tuple[str, int]:
    parts = [rest]
    while True:
        text = "\n".join(parts)
        end = _closing(text, quote)
        if end >= 0:
            return text[:end], i
        if i >= len(lines):
            raise ComposeError(f"{source}:{i}: unterminated quoted value")
        parts.append(lines[i])
        i += 1


def _closing(text: str, quote: str) -> int:
    j = 0
    while j < len(text):
        if quote == '"' and text[j] == "\\":
            j += 2
            continue
        if text[j] == quote:
            return j
        j += 1
    return -1


def _unescape(text: str) -> str:
    out = []
    j = 0
    while j < len(text):
        ch = text[j]
        if ch == "\\" and j + 1 < len(text):
            nxt = text[j + 1]
            out.append({"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$$"}.get(nxt, "\\" + nxt))
            j += 2
        else:
            out.append(ch)
            j += 1
    return "".join(out)


def _inline_comment(value: str) -> int:
    for j, ch in enumerate(value):
        if ch == "#" and (j == 0 or value[j - 1] in " \t"):
            return j
    return -1

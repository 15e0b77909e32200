# SPDX-License-Identifier: Apache-2.0
"""Variable interpolation as the compose spec defines it, applied to every string value.

`$V`, `${V}`, `${V:-default}` (unset or empty), `${V-default}` (unset), `${V:?err}`,
`${V?err}`, `${V:+alt}` (set and non-empty), `${V+alt}` (set), and `$$` for a literal
dollar. Defaults and alternatives may themselves contain interpolations
(`${A:-${B:-x}}`). A variable that is unset and has no default becomes the empty string
with a warning, as in Docker Compose. Keys are never interpolated, values only.
"""

from __future__ import annotations

from dockyard.compose.errors import ComposeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any


def interpolate_tree(
    tree: Any,
    env: Mapping[str, str],
    path: str = "",
    warn: Callable[[str], None] | None = None,
) -> Any:
    """A copy of `tree` with every string value interpolated; errors name the value's path."""
    if isinstance(tree, dict):
        return {
            k: interpolate_tree(v, env, f"{path}.{k}" if path else str(k), warn)
            for k, v in tree.items()
        }
    if isinstance(tree, list):
        return [interpolate_tree(v, env, f"{path}[{i}]", warn) for i, v in enumerate(tree)]
    if isinstance(tree, str):
        try:
            return interpolate(tree, env, warn)
        except _Invalid:
            raise ComposeError(
                f"invalid interpolation format for {path}: {tree!r}. "
                "You may need to escape any $ with another $."
            ) from None
        except _Required as exc:
            raise ComposeError(f"required variable {exc.name} is missing a value: {exc.text}"
                               if exc.text else
                               f"required variable {exc.name} is missing a value") from None
    return tree


def interpolate(text: str, env: Mapping[str, str], warn: Callable[[str], None] | None = None) -> str:
    """One string with its variables substituted."""
    if "$" not in text:
        return text
    out, end = _expand(text, 0, env, warn, stop=None)
    return out


class _Invalid(Exception):
    pass


class _Required(Exception):
    def __init__(self, name: str, text: str):
        super().__init__(name)
        self.name = name
        self.text = text


def _is_name_start(ch: str) -> bool:
    return ch == "_" or ("a" <= ch <= "z") or ("A" <= ch <= "Z")


def _is_name_char(ch: str) -> bool:
    return _is_name_start(ch) or ch.isdigit()


def _expand(
    text: str, pos: int, env: Mapping[str, str], warn: Callable[[str], None] | None, stop: str | None
) -> tuple[str, int]:
    """Expand from `pos` until the end, or until an unmatched `stop` ("}") for nested
    defaults; returns (expanded, index of the stop character or len(text))."""
    out: list[str] = []
    i = pos
    n = len(text)
    while i < n:
        ch = text[i]
        if stop is not None and ch == stop:
            return "".join(out), i
        if ch != "$":
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1] if i + 1 < n else ""
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "{":
            value, i = _braced(text, i + 2, env, warn)
            out.append(value)
        elif nxt and _is_name_start(nxt):
            j = i + 1
            while j < n and _is_name_char(text[j]):
                j += 1
            out.append(_lookup(text[i + 1 : j], env, warn))
            i = j
        else:
            # A lone `$` (end of string, `$1`, `$-`): Compose rejects it.
            raise _Invalid
    if stop is not None:
        raise _Invalid  # an unclosed "${"
    return "".join(out), n


def _braced(
    text: str, i: int, env: Mapping[str, str], warn: Callable[[str], None] | None
) -> tuple[str, int]:
    n = len(text)
    j = i
    while j < n and _is_name_char(text[j]):
        j += 1
    name = text[i:j]
    if not name or not _is_name_start(name[0]) or j >= n:
        raise _Invalid
    if text[j] == "}":
        return _lookup(name, env, warn), j + 1
    op = text[j]
    colon = op == ":"
    if colon:
        j += 1
        if j >= n:
            raise _Invalid
        op = text[j]
    if op not in "-?+":
        raise _Invalid
    # The operand may hold nested interpolations; it ends at the matching "}".
    operand, end = _expand(text, j + 1, env, warn, stop="}")
    value = env.get(name)
    present = value is not None and (value != "" or not colon)
    if op == "-":
        result = value if present else operand
    elif op == "+":
        result = operand if present else ""
    else:
        if not present:
            raise _Required(name, operand)
        result = value
    return result or "", end + 1


def _lookup(name: str, env: Mapping[str, str], warn: Callable[[str], None] | None) -> str:
    value = env.get(name)
    if value is None:
        if warn is not None:
            warn(f'The "{name}" variable is not set. Defaulting to a blank string.')
        return ""
    return value

# SPDX-License-Identifier: Apache-2.0
"""Dockerfile word processing: splitting an instruction's text into words and expanding
variables in them the way Docker's shell lexer does (not a real shell).

* `'…'` is literal; `"…"` keeps spaces and expands `$`; the escape character (`\\`, or
  `` ` `` after `# escape=`) quotes the next character (inside double quotes only before
  `$`, `"` and the escape character itself).
* `$name`, `${name}`, `${name:-word}`, `${name-word}`, `${name:+word}`, `${name+word}`,
  `${name:?message}`, `${name?message}`; an unset variable expands to nothing.

`expand_word` gives one string (quotes removed); `expand_words` splits on unquoted
whitespace first (EXPOSE, VOLUME, the `k=v` lists of ENV and LABEL).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from dockyard.errors import InvalidParameter

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPECIAL = re.compile(r"[0-9*#@?$!-]")


def expand_word(word: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """`word` with its quotes removed and its variables expanded."""
    words = _Lexer(word, env, escape).run(split=False)
    return words[0] if words else ""


def expand_words(text: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """`text` split on unquoted whitespace, each word expanded."""
    return _Lexer(text, env, escape).run(split=True)


def split_words(text: str, escape: str = "\\") -> list[str]:
    """`text` split on unquoted whitespace with quotes and escapes kept, for expanding
    later (ENV and LABEL pairs are split at parse time, expanded at build time)."""
    words: list[str] = []
    current: list[str] = []
    quote = ""
    i = 0
    started = False
    while i < len(text):
        ch = text[i]
        if ch == escape and quote != "'" and i + 1 < len(text):
            current.append(ch + text[i + 1])
            started = True
            i += 2
            continue
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
            current.append(ch)
            started = True
        elif ch.isspace():
            if started:
                words.append("".join(current))
                current, started = [], False
        else:
            current.append(ch)
            started = True
        i += 1
    if quote:
        raise InvalidParameter(f"unexpected end of statement while looking for matching {quote}")
    if started:
        words.append("".join(current))
    return words


class _Lexer:
    def __init__(self, text: str, env: Mapping[str, str], escape: str):
        self.text = text
        self.env = env
        self.escape = escape
        self.pos = 0

    def run(self, *, split: bool) -> list[str]:
        words: list[str] = []
        current: list[str] = []
        started = False
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if split and ch.isspace():
                if started:
                    words.append("".join(current))
                    current, started = [], False
                self.pos += 1
                continue
            started = True
            if ch == "'":
                current.append(self._single())
            elif ch == '"':
                current.append(self._double())
            elif ch == self.escape:
                self.pos += 1
                if self.pos < len(self.text):
                    current.append(self.text[self.pos])
                    self.pos += 1
                else:
                    current.append(ch)  # a trailing escape character stays
            elif ch == "$":
                current.append(self._dollar())
            else:
                current.append(ch)
                self.pos += 1
        if started or not split:
            words.append("".join(current))
        return words

    def _single(self) -> str:
        end = self.text.find("'", self.pos + 1)
        if end < 0:
            raise InvalidParameter("unexpected end of statement while looking for matching '")
        value = self.text[self.pos + 1:end]
        self.pos = end + 1
        return value

    def _double(self) -> str:
        out: list[str] = []
        self.pos += 1
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == '"':
                self.pos += 1
                return "".join(out)
            if ch == self.escape and self.pos + 1 < len(self.text):
                nxt = self.text[self.pos + 1]
                if nxt in ('"', "$", self.escape):
                    out.append(nxt)
                else:
                    out.append(ch + nxt)
                self.pos += 2
            elif ch == "$":
                out.append(self._dollar())
            else:
                out.append(ch)
                self.pos += 1
        raise InvalidParameter('unexpected end of statement while looking for matching "')

    def _dollar(self) -> str:
        text, start = self.text, self.pos
        self.pos += 1
        if self.pos >= len(text):
            return "$"
        if text[self.pos] == "{":
            return self._braced(start)
        m = _NAME.match(text, self.pos)
        if m is None:
            if _SPECIAL.match(text, self.pos):
                self.pos += 1  # $1, $@ … mean nothing here: they expand to nothing
                return ""
            return "$"
        self.pos = m.end()
        return self.env.get(m.group(0), "")

    def _braced(self, start: int) -> str:
        text = self.text
        self.pos += 1
        m = _NAME.match(text, self.pos)
        if m is None:
            raise InvalidParameter(f"failed to process {text!r}: missing ':' in substitution")
        name = m.group(0)
        self.pos = m.end()
        if self.pos >= len(text):
            raise InvalidParameter(f"failed to process {text!r}: syntax error: missing '}}'")
        if text[self.pos] == "}":
            self.pos += 1
            return self.env.get(name, "")
        colon = text[self.pos] == ":"
        if colon:
            self.pos += 1
        op = text[self.pos] if self.pos < len(text) else ""
        if op not in ("-", "+", "?"):
            raise InvalidParameter(f"failed to process {text!r}: unsupported modifier ({op}) in substitution")
        self.pos += 1
        word = self._until_brace()
        is_set = name in self.env
        value = self.env.get(name, "")
        present = bool(value) if colon else is_set
        if op == "-":
            return value if present else word
        if op == "+":
            return word if present else ""
        if not present:
            raise InvalidParameter(f"failed to process {text!r}: {name}: {word or 'is not allowed to be unset'}")
        return value

    def _until_brace(self) -> str:
        """The word of a `${name:-word}`, itself expanded, up to the matching `}`."""
        out: list[str] = []
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == "}":
                self.pos += 1
                return "".join(out)
            if ch == self.escape and self.pos + 1 < len(text):
                out.append(text[self.pos + 1])
                self.pos += 2
            elif ch == "$":
                out.append(self._dollar())
            elif ch == "'":
                out.append(self._single())
            elif ch == '"':
                out.append(self._double())
            else:
                out.append(ch)
                self.pos += 1
        raise InvalidParameter(f"failed to process {text!r}: syntax error: missing '}}'")

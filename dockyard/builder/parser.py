# SPDX-License-Identifier: Apache-2.0
"""The Dockerfile parser: text → stages of instructions, with Docker's syntax and errors.

    # syntax=… / # escape=` / # check=…      parser directives, only at the very top
    ARG V=1                                  meta args: before the first FROM
    FROM busybox:$V AS build                 a stage (named and numbered)
    RUN --mount=type=cache,target=/c \\      flags, line continuations (comments and empty
        make                                 lines inside a continuation are dropped)
    COPY <<EOF /etc/motd                     heredocs (RUN, COPY, ADD)

Parsing only splits and classifies: flags and arguments stay unexpanded (variables are
expanded at build time, when their values are known), except that the JSON (exec) form
is decoded here. Errors name the line: `dockerfile parse error line 3: unknown
instruction: FOO`, as Docker's do.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from dockyard.builder.shell import split_words
from dockyard.errors import InvalidParameter

# instruction → the flags it accepts (each "name": takes a value; "name?" may stand alone)
FLAGS: dict[str, tuple[str, ...]] = {
    "from": ("platform",),
    "run": ("mount", "network", "security"),
    "copy": ("from", "chown", "chmod", "link?", "exclude", "parents?"),
    "add": ("chown", "chmod", "link?", "exclude", "checksum", "keep-git-dir?"),
    "healthcheck": ("interval", "timeout", "start-period", "start-interval", "retries"),
}
INSTRUCTIONS = frozenset({
    "from", "run", "cmd", "entrypoint", "env", "arg", "label", "expose", "workdir", "user",
    "volume", "copy", "add", "healthcheck", "stopsignal", "shell", "onbuild", "maintainer",
})
_JSON_FORMS = frozenset({"run", "cmd", "entrypoint", "shell", "copy", "add", "volume"})
_HEREDOC_FORMS = frozenset({"run", "copy", "add"})
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_HEREDOC = re.compile(r"<<(-?)(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")


class ParseError(InvalidParameter):
    """A Dockerfile Docker would refuse, with its message."""


@dataclass
class Heredoc:
    name: str
    content: str
    expand: bool  # an unquoted delimiter: variables in the body are expanded
    chomp: bool   # `<<-`: leading tabs removed


@dataclass
class Instruction:
    cmd: str                      # lower case: "run"
    original: str                 # the logical line as written, continuations joined
    line: int                     # where it starts (1-based)
    flags: dict[str, list[str]] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)   # exec form, or raw words
    text: str = ""                # the arguments as one raw string (shell form)
    json: bool = False
    heredocs: list[Heredoc] = field(default_factory=list)
    sub: Instruction | None = None   # ONBUILD's trigger

    def flag(self, name: str) -> str | None:
        values = self.flags.get(name)
        return values[-1] if values else None


@dataclass
class Stage:
    index: int
    name: str                     # lower case, "" when unnamed
    base: str                     # unexpanded image reference
    platform: str
    line: int
    original: str
    instructions: list[Instruction] = field(default_factory=list)


@dataclass
class Dockerfile:
    directives: dict[str, str]
    escape: str
    meta_args: list[Instruction]
    stages: list[Stage]
    warnings: list[str] = field(default_factory=list)

    def stage(self, name_or_index: str) -> Stage:
        """A stage by name or number; ParseError like Docker's when there is none."""
        wanted = name_or_index.lower()
        for stage in self.stages:
            if stage.name and stage.name == wanted:
                return stage
        if wanted.isdigit() and int(wanted) < len(self.stages):
            return self.stages[int(wanted)]
        raise ParseError(f"failed to reach build target {name_or_index} in Dockerfile")


def parse(text: str | bytes) -> Dockerfile:
    """Parse a whole Dockerfile."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.replace("\r\n", "\n").split("\n")
    directives, first = _directives(lines)
    escape = directives.get("escape", "\\")
    warnings: list[str] = []
    instructions = _logical_lines(lines, first, escape, warnings)
    if not instructions:
        raise ParseError("file with no instructions")
    meta: list[Instruction] = []
    stages: list[Stage] = []
    for ins in instructions:
        if ins.cmd == "from":
            stages.append(_stage(ins, len(stages), stages))
        elif not stages:
            if ins.cmd != "arg":
                raise ParseError(f"dockerfile parse error line {ins.line}: no build stage in current context"
                                 if ins.cmd in INSTRUCTIONS else
                                 f"dockerfile parse error line {ins.line}: unknown instruction: {ins.original.split()[0].upper()}")
            meta.append(ins)
        else:
            stages[-1].instructions.append(ins)
    if not stages:
        raise ParseError("no build stage in current context")
    return Dockerfile(directives, escape, meta, stages, warnings)


def parse_instruction(text: str, line: int = 1, escape: str = "\\") -> Instruction:
    """One instruction (an ONBUILD trigger, a `commit --change`)."""
    return _instruction(text, line, escape, [])


# ── lines ─────────────────────────────────────────────────────────────────────────────

def _directives(lines: list[str]) -> tuple[dict[str, str], int]:
    found: dict[str, str] = {}
    for i, line in enumerate(lines):
        m = _DIRECTIVE.match(line.strip())
        if m is None:
            return found, i
        name, value = m.group(1).lower(), m.group(2)
        if name not in ("syntax", "escape", "check"):
            return found, i  # an ordinary comment: directives end here
        if name in found:
            raise ParseError(f"only one {name} parser directive can be used")
        if name == "escape" and value not in ("\\", "`"):
            raise ParseError(f"invalid escape token '{value}' does not match ` or \\")
        found[name] = value
    return found, len(lines)


def _logical_lines(lines: list[str], start: int, escape: str, warnings: list[str]) -> list[Instruction]:
    out: list[Instruction] = []
    i = start
    while i < len(lines):
        raw = lines[i].strip()
        if not raw or raw.startswith("#"):
            i += 1
            continue
        first = i + 1
        parts: list[str] = []
        line = lines[i].lstrip()
        empty_continuation = False
        while True:
            stripped = line.rstrip()
            if stripped.endswith(escape) and not _escaped_escape(stripped, escape):
                parts.append(stripped[:-1])
                i += 1
                # Comment and empty lines inside a continuation are dropped.
                while i < len(lines) and (not lines[i].strip() or lines[i].lstrip().startswith("#")):
                    if not lines[i].strip():
                        empty_continuation = True
                    i += 1
                if i >= len(lines):
                    break
                line = lines[i]
                continue
            parts.append(line.rstrip() if not parts else line)
            i += 1
            break
        if empty_continuation:
            warnings.append(f"[WARNING]: Empty continuation line found in: {''.join(parts).strip()}")
        logical = "".join(parts).strip()
        ins = _instruction(logical, first, escape, [])
        if ins.cmd in _HEREDOC_FORMS:
            i = _read_heredocs(ins, logical, lines, i)
        out.append(ins)
    return out


def _escaped_escape(line: str, escape: str) -> bool:
    # "\\\\" at the end is an escaped backslash, not a continuation? Docker treats any
    # trailing escape as a continuation; only JSON-ish forms care, so keep it simple.
    return False


def _read_heredocs(ins: Instruction, logical: str, lines: list[str], i: int) -> int:
    if ins.json:
        return i
    for m in _HEREDOC.finditer(logical):
        chomp, quote, name = m.group(1) == "-", m.group(2), m.group(3)
        body: list[str] = []
        while True:
            if i >= len(lines):
                raise ParseError(f"dockerfile parse error line {ins.line}: unterminated heredoc {name}")
            line = lines[i]
            i += 1
            check = line.lstrip("\t") if chomp else line
            if check == name:
                break
            body.append(check)
        content = "\n".join(body) + "\n" if body else ""
        ins.heredocs.append(Heredoc(name, content, expand=not quote, chomp=chomp))
    return i


# ── one instruction ───────────────────────────────────────────────────────────────────

def _instruction(logical: str, line: int, escape: str, _unused: list[str]) -> Instruction:
    m = re.match(r"(\S+)\s*(.*)", logical, re.S)
    assert m is not None
    word, rest = m.group(1), m.group(2).strip()
    cmd = word.lower()
    if cmd not in INSTRUCTIONS:
        raise ParseError(f"dockerfile parse error line {line}: unknown instruction: {word.upper()}")
    ins = Instruction(cmd=cmd, original=logical, line=line)
    rest = _take_flags(ins, rest)
    ins.text = rest
    if cmd in _JSON_FORMS and rest.startswith("["):
        try:
            value = json.loads(rest)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            ins.args, ins.json = value, True
    if not ins.json:
        _check_args(ins, rest, escape)
    if cmd == "shell" and not ins.json:
        raise _error(ins, "SHELL requires the arguments to be in JSON form")
    if cmd == "onbuild":
        trigger = rest.split(None, 1)[0].upper() if rest else ""
        if not trigger:
            raise _error(ins, "ONBUILD requires at least one argument")
        if trigger == "ONBUILD":
            raise _error(ins, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if trigger in ("FROM", "MAINTAINER"):
            raise _error(ins, f"{trigger} isn't allowed as an ONBUILD trigger")
        ins.sub = _instruction(rest, line, escape, [])
    return ins


def _take_flags(ins: Instruction, rest: str) -> str:
    if ins.cmd in ("run", "copy", "add", "from", "healthcheck"):
        allowed = FLAGS[ins.cmd]
        while rest.startswith("--"):
            m = re.match(r"--([A-Za-z0-9-]*)(=(\S*))?(\s+|$)", rest)
            if m is None:
                break
            name, value = m.group(1), m.group(3)
            if not name:
                break  # a bare "--" ends the flags
            if name not in allowed and name + "?" not in allowed:
                raise _error(ins, f"Unknown flag: {name}")
            if value is None and name + "?" not in allowed:
                raise _error(ins, f"Missing a value on flag: {name}")
            ins.flags.setdefault(name, []).append(value if value is not None else "true")
            rest = rest[m.end():]
    return rest


def _check_args(ins: Instruction, rest: str, escape: str) -> None:
    cmd = ins.cmd
    upper = cmd.upper()
    if cmd in ("env", "label", "arg"):
        if not rest:
            raise _error(ins, f"{upper} requires at least one argument" if cmd != "arg"
                         else "ARG requires exactly one argument")
        ins.args = _pairs(ins, rest, escape)
        return
    words = split_words(rest, escape) if rest else []
    ins.args = words
    if cmd == "from":
        if len(words) not in (1, 3) or (len(words) == 3 and words[1].lower() != "as"):
            raise _error(ins, "FROM requires either one or three arguments")
    elif cmd in ("run", "cmd", "entrypoint", "healthcheck"):
        if cmd == "run" and not rest:
            raise _error(ins, "RUN requires at least one argument")
        if cmd == "healthcheck" and not rest:
            raise _error(ins, "HEALTHCHECK requires at least one argument")
    elif cmd in ("copy", "add"):
        if len(words) < 2 and not (ins.cmd in _HEREDOC_FORMS and words and _HEREDOC.search(rest)):
            raise _error(ins, f"{upper} requires at least two arguments, but only one was provided. Destination could not be determined."
                         if len(words) == 1 else f"{upper} requires at least two arguments")
    elif cmd in ("workdir", "user", "stopsignal", "maintainer"):
        if not rest:
            raise _error(ins, f"{upper} requires exactly one argument")
        if cmd in ("user", "stopsignal") and len(words) != 1:
            raise _error(ins, f"{upper} requires exactly one argument")
    elif cmd in ("expose", "volume"):
        if not words:
            raise _error(ins, f"{upper} requires at least one argument")


def _pairs(ins: Instruction, rest: str, escape: str) -> list[str]:
    """ENV/LABEL/ARG arguments as raw `key=value` words (legacy `ENV key value` turned
    into one `key=value` word)."""
    words = split_words(rest, escape)
    if ins.cmd == "arg":
        for word in words:
            if not re.fullmatch(r"[^=\s]+(=.*)?", word, re.S):
                raise _error(ins, f"invalid ARG: {word}")
        return words
    if "=" not in words[0]:
        parts = re.split(r"\s+", rest, maxsplit=1)
        if len(parts) < 2 or not parts[1].strip():
            raise _error(ins, f"{ins.cmd.upper()} must have two arguments")
        return [parts[0] + "=" + _quote_legacy(parts[1].strip())]
    for word in words:
        if "=" not in word:
            raise _error(ins, f'Syntax error - can\'t find = in "{word}". Must be of the form: name=value')
        if word.startswith("="):
            raise _error(ins, f"{ins.cmd.upper()} names can not be blank")
    return words


def _quote_legacy(value: str) -> str:
    # The legacy form's value is taken whole; quote it so expansion keeps its spaces
    # (Docker does expand quotes and variables in it).
    return value.replace(" ", "\\ ") if '"' not in value and "'" not in value else value


def _stage(ins: Instruction, index: int, previous: list[Stage]) -> Stage:
    name = ""
    if len(ins.args) == 3:
        name = ins.args[2].lower()
        if not re.fullmatch(r"[a-z][a-z0-9-_.]*", name):
            raise _error(ins, f"invalid name for build stage: \"{ins.args[2]}\", name can't start with a number or contain symbols")
        if any(s.name == name for s in previous):
            raise _error(ins, f"duplicate name {name}")
    return Stage(index=index, name=name, base=ins.args[0], platform=ins.flag("platform") or "",
                 line=ins.line, original=ins.original)


def _error(ins: Instruction, message: str) -> ParseError:
    return ParseError(f"dockerfile parse error line {ins.line}: {message}")

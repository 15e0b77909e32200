# SPDX-License-Identifier: Apache-2.0
"""A small Go text/template renderer: the language of `--format` in every command.

Supported: text and `{{ }}` actions with `{{-`/`-}}` trimming; field chains (`.State.Status`,
`.`), variables (`$`, `$name`, `$k, $v := ...`), string/number/bool literals, pipelines
(`.Names | upper`), parenthesised pipelines, method calls on row objects
(`{{.Label "com.example"}}`), and `if`/`else if`/`else`/`range`/`with`/`end`.
Functions: Go's `and or not len index print printf println eq ne lt le gt ge slice` and
Docker's `json join split lower upper title pad truncate`.

Values print as Go's `%v` does — lists as `[a b]`, maps as `map[k:v]`, null as `<nil>` —
and a key absent from a map as `<no value>`, because that is what scripts written for
Docker expect. Row objects (ps, images) expose fields as attributes and, for `json .`,
a `to_json()` method.
"""

from __future__ import annotations

import json
import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class TemplateError(ValueError):
    """A template that does not parse or cannot be executed on the given data.

    `node` is the field chain being evaluated when execution failed (".Nope"), used to
    give Go's `template: :LINE:COL: executing "" at <.Nope>: ...` form.
    """

    def __init__(self, message: str, node: str | None = None):
        super().__init__(message)
        self.node = node


def render(template: str, data: Any, strict: bool = False) -> str:
    """Render `template` (already unescaped) with `data` as `.`; see Template.execute."""
    return Template(template).execute(data, strict=strict)


def unescape(fmt: str) -> str:
    """`\\t` and `\\n` typed on a shell command line mean tab and newline, as in Docker."""
    return fmt.replace("\\t", "\t").replace("\\n", "\n")


class Template:
    """A parsed template, executable many times (once per table row)."""

    def __init__(self, source: str):
        self.source = source
        parser = _Parser(source)
        try:
            self.nodes = parser.parse()
        except TemplateError as exc:
            text = str(exc)
            if text.startswith("template: ") and not text.startswith("template: :"):
                line = source[: parser.offset].count("\n") + 1
                raise TemplateError(f"template: :{line}: {text[len('template: '):]}") from None
            raise

    def execute(self, data: Any, strict: bool = False) -> str:
        """Render with `data` as `.`. `strict` makes a key missing from a map an error,
        as `inspect --format` does (Go's missingkey=error); otherwise it is `<no value>`.
        Errors read as Go's: `template: :1:2: executing "" at <.Nope>: ...`.
        """
        out: list[str] = []
        try:
            _Exec(data, strict).run(self.nodes, data, {"$": data}, out)
        except TemplateError as exc:
            if exc.node is None:
                raise
            message = str(exc)
            prefix = f'executing "" at <{exc.node}>: '
            message = message.removeprefix(prefix)
            raise TemplateError(
                f"template: :{self._location(exc.node)}: {prefix}{message}", exc.node
            ) from None
        return "".join(out)

    def _location(self, node: str) -> str:
        """LINE:COL of `node` in the source, as Go's ErrorContext gives it."""
        pos = self.source.find(node)
        if pos < 0:
            pos = 0
        text = self.source[:pos]
        newline = text.rfind("\n")
        column = pos if newline < 0 else pos - newline - 1
        return f"{text.count(chr(10)) + 1}:{column}"


# --- values -----------------------------------------------------------------------

MISSING = type("Missing", (), {"__repr__": lambda self: "<no value>"})()


def go_string(value: Any) -> str:
    """Go's `%v` formatting of a JSON-shaped value."""
    if value is MISSING:
        return "<no value>"
    if value is None:
        return "<nil>"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_string(v) for v in value) + "]"
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: str(kv[0]))
        return "map[" + " ".join(f"{k}:{go_string(v)}" for k, v in items) + "]"
    return str(value)


def go_json(value: Any) -> str:
    """Docker's `json` template function: compact JSON, HTML characters left as they are."""
    if value is MISSING:
        value = None
    if callable(getattr(value, "to_json", None)):
        # Row objects marshal themselves with Go's json.Marshal, which escapes <, > and &.
        # Docker's listing rows are maps (keys sorted); a row standing for a Go struct
        # (an event, a compose container) says so with STRUCT_JSON and keeps its order.
        sort = not getattr(value, "STRUCT_JSON", False)
        text = json.dumps(value.to_json(), separators=(",", ":"), ensure_ascii=False, sort_keys=sort)
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def go_quote(text: str) -> str:
    """Go's strconv.Quote for the strings we meet (printable text, common escapes)."""
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def truthy(value: Any) -> bool:
    """Go template truth: false, 0, nil, and empty strings, lists and maps are false."""
    if value is MISSING or value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str | list | tuple | dict):
        return len(value) > 0
    return True


def _json_default(value: Any) -> Any:
    to_json = getattr(value, "to_json", None)
    if callable(to_json):
        return to_json()
    raise TypeError(f"cannot marshal {type(value).__name__}")


# --- functions --------------------------------------------------------------------


def _fn_index(item: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(item, dict):
            item = item.get(key, MISSING)
        elif isinstance(item, list | tuple | str):
            try:
                item = item[int(key)]
            except (IndexError, ValueError):
                raise TemplateError(f"error calling index: index out of range: {key}") from None
        elif item is None or item is MISSING:
            return MISSING
        else:
            raise TemplateError(f"can't index item of type {type(item).__name__}")
    return item


def _fn_len(item: Any) -> int:
    if isinstance(item, str | list | tuple | dict):
        return len(item)
    raise TemplateError(f"error calling len: len of type {type(item).__name__}")


def _fn_slice(item: Any, *bounds: Any) -> Any:
    if len(bounds) == 0:
        return item
    if len(bounds) == 1:
        return item[int(bounds[0]) :]
    return item[int(bounds[0]) : int(bounds[1])]


def _fn_join(items: Any, sep: str) -> str:
    if not isinstance(items, list | tuple):
        raise TemplateError("error calling join: argument is not a list")
    return sep.join(go_string(i) for i in items)


def _fn_pad(text: Any, left: int, right: int) -> str:
    # Docker's padWithSpace leaves an empty string empty.
    value = go_string(text)
    if value == "":
        return value
    return " " * int(left) + value + " " * int(right)


def _fn_truncate(text: Any, length: int) -> str:
    s = go_string(text)
    return s[: int(length)]


def _fn_title(text: Any) -> str:
    return re.sub(r"\b([a-z])", lambda m: m.group(1).upper(), go_string(text))


_PRINTF_VERB = re.compile(r"%([-+# 0]*)(\d+|\*)?(?:\.(\d+))?([a-zA-Z%])")


def go_printf(fmt: str, *args: Any) -> str:
    """Go's Sprintf for the verbs templates use: %s %v %d %q %t %x %f %%."""
    out: list[str] = []
    pos = 0
    arg_iter = iter(args)
    for m in _PRINTF_VERB.finditer(fmt):
        out.append(fmt[pos : m.start()])
        pos = m.end()
        flags, width, prec, verb = m.groups()
        if verb == "%":
            out.append("%")
            continue
        try:
            arg = next(arg_iter)
        except StopIteration:
            out.append(f"%!{verb}(MISSING)")
            continue
        if verb in "sv":
            text = go_string(arg)
            if prec is not None:
                text = text[: int(prec)]
        elif verb == "q":
            text = go_quote(go_string(arg))
        elif verb == "t":
            text = go_string(bool(arg))
        elif verb in "dxXof" and isinstance(arg, int | float) and not isinstance(arg, bool):
            spec = ("." + prec if prec is not None else "") + verb
            text = format(arg if verb == "f" else int(arg), spec)
        else:
            text = f"%!{verb}({type(arg).__name__}={go_string(arg)})"
        w = int(width) if width and width != "*" else 0
        if "-" in flags:
            text = text.ljust(w)
        elif "0" in flags and verb in "dfxX":
            text = text.rjust(w, "0")
        else:
            text = text.rjust(w)
        out.append(text)
    out.append(fmt[pos:])
    return "".join(out)


def _cmp(op: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    def compare(a: Any, *others: Any) -> bool:
        return all(op(a, b) for b in others)

    return compare


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "json": go_json,
    "join": _fn_join,
    "split": lambda s, sep: go_string(s).split(sep),
    "lower": lambda s: go_string(s).lower(),
    "upper": lambda s: go_string(s).upper(),
    "title": _fn_title,
    "pad": _fn_pad,
    "truncate": _fn_truncate,
    "len": _fn_len,
    "index": _fn_index,
    "slice": _fn_slice,
    "print": lambda *a: "".join(go_string(x) for x in a),
    "println": lambda *a: " ".join(go_string(x) for x in a) + "\n",
    "printf": go_printf,
    "not": lambda a: not truthy(a),
    "eq": lambda a, *b: any(a == x for x in b),
    "ne": lambda a, b: a != b,
    "lt": _cmp(lambda a, b: a < b),
    "le": _cmp(lambda a, b: a <= b),
    "gt": _cmp(lambda a, b: a > b),
    "ge": _cmp(lambda a, b: a >= b),
}

# `and` and `or` return one of their arguments, as in Go.
_LOGIC = {"and", "or"}


# --- parse tree -------------------------------------------------------------------


class _Node:
    """Parse-tree node: positional fields named in `_fields` (cheaper to import than dataclasses)."""

    _fields: tuple[str, ...] = ()

    def __init__(self, *values: Any):
        for name, value in zip(self._fields, values, strict=True):
            setattr(self, name, value)

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._fields)
        return f"{type(self).__name__}({inner})"


class Field(_Node):
    _fields = ("names",)  # [] is "." itself
    names: list[str]


class Var(_Node):
    _fields = ("name", "names")
    name: str
    names: list[str]


class Literal(_Node):
    _fields = ("value",)
    value: Any


class Ident(_Node):
    _fields = ("name",)
    name: str


class Chain(_Node):
    """A parenthesised pipeline followed by field names: `(index . 0).Name`."""

    _fields = ("pipe", "names")
    pipe: Pipe
    names: list[str]


class Command(_Node):
    _fields = ("args",)
    args: list[Any]


class Pipe(_Node):
    _fields = ("commands", "decl")
    commands: list[Command]
    decl: list[str]


class Text(_Node):
    _fields = ("text",)
    text: str


class Action(_Node):
    _fields = ("pipe",)
    pipe: Pipe


class If(_Node):
    _fields = ("pipe", "body", "orelse")
    pipe: Pipe
    body: list[Any]
    orelse: list[Any]


class With(_Node):
    _fields = ("pipe", "body", "orelse")
    pipe: Pipe
    body: list[Any]
    orelse: list[Any]


class Range(_Node):
    _fields = ("pipe", "body", "orelse")
    pipe: Pipe
    body: list[Any]
    orelse: list[Any]


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<char>'(?:[^'\\]|\\.)')
  | (?P<number>[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)
  | (?P<decl>:=)
  | (?P<assign>=)
  | (?P<var>\$[A-Za-z0-9_]*)
  | (?P<field>(?:\.[A-Za-z0-9_]+)+|\.)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[|(),])
    """,
    re.VERBOSE,
)


class _Parser:
    def __init__(self, source: str):
        self.source = source

    def parse(self) -> list[Any]:
        self.offset = 0  # where the action being parsed starts, for error lines
        self.offsets: list[int] = []
        self.items = self._split(self.source)
        self.pos = 0
        nodes, stop = self._block(top=True)
        if stop is not None:
            raise TemplateError(f"template: unexpected {{{{{stop}}}}}")
        return nodes

    def _split(self, source: str) -> list[tuple[str, str]]:
        """("text", s) and ("action", s) items with the trim markers applied."""
        items: list[tuple[str, str]] = []
        pos = 0
        while True:
            start = source.find("{{", pos)
            if start < 0:
                items.append(("text", source[pos:]))
                break
            text = source[pos:start]
            inner_start = start + 2
            if source.startswith("- ", inner_start) or source.startswith("-\t", inner_start):
                text = text.rstrip()
                inner_start += 1
            end = self._action_end(source, inner_start)
            if end < 0:
                self.offset = start
                raise TemplateError("template: unclosed action")
            inner_end = end
            after = end + 2
            if (
                inner_end > inner_start
                and source[inner_end - 1] == "-"
                and (inner_end - 2 >= inner_start and source[inner_end - 2] in " \t\n")
            ):
                inner_end -= 1
                trim_after = True
            else:
                trim_after = False
            items.append(("text", text))
            items.append(("action", source[inner_start:inner_end].strip()))
            self.offsets.append(start)
            pos = after
            if trim_after:
                while pos < len(source) and source[pos] in " \t\r\n":
                    pos += 1
        kept = []
        actions = iter(self.offsets)
        self.item_offsets: list[int] = []
        last = 0
        for item in items:
            if item[0] == "action":
                last = next(actions)
            if item != ("text", ""):
                kept.append(item)
                self.item_offsets.append(last)
        return kept

    @staticmethod
    def _action_end(source: str, pos: int) -> int:
        # Skip over string literals so that "}}" inside quotes does not end the action.
        while pos < len(source):
            ch = source[pos]
            if ch in "\"`'":
                close = pos + 1
                while close < len(source) and source[close] != ch:
                    close += 2 if source[close] == "\\" and ch != "`" else 1
                pos = close + 1
                continue
            if source.startswith("}}", pos):
                return pos
            pos += 1
        return -1

    def _block(self, top: bool = False) -> tuple[list[Any], str | None]:
        """Nodes up to a closing `end`/`else` action, which is returned (None at EOF)."""
        nodes: list[Any] = []
        while self.pos < len(self.items):
            kind, value = self.items[self.pos]
            self.offset = self.item_offsets[self.pos]
            self.pos += 1
            if kind == "text":
                nodes.append(Text(value))
                continue
            if value.startswith("/*") and value.endswith("*/"):
                continue
            word = value.split(None, 1)[0] if value else ""
            rest = value[len(word) :].strip()
            if word in ("end", "else"):
                if top:
                    raise TemplateError(f"template: unexpected {{{{{word}}}}}")
                return nodes, value
            if word in ("if", "with", "range"):
                nodes.append(self._control(word, rest))
            elif not value:
                raise TemplateError("template: missing value for command")
            else:
                nodes.append(Action(self._pipe(rest if word == "template" else value)))
        if not top:
            raise TemplateError("template: unexpected EOF")
        return nodes, None

    def _control(self, word: str, rest: str) -> Any:
        pipe = self._pipe(rest, allow_decl=True)
        body, stop = self._block()
        orelse: list[Any] = []
        assert stop is not None
        if stop.startswith("else"):
            tail = stop[4:].strip()
            if tail.startswith("if ") and word == "if":
                orelse = [self._control("if", tail[3:])]
            elif tail:
                raise TemplateError(f"template: unexpected {{{{{stop}}}}}")
            else:
                orelse, stop = self._block()
                if stop != "end":
                    raise TemplateError(f"template: expected end; found {{{{{stop}}}}}")
        elif stop != "end":
            raise TemplateError(f"template: unexpected {{{{{stop}}}}}")
        node_type = {"if": If, "with": With, "range": Range}[word]
        return node_type(pipe, body, orelse)

    def _pipe(self, text: str, allow_decl: bool = False) -> Pipe:
        tokens = self._tokens(text)
        decl: list[str] = []
        # `$x := pipeline` or `$k, $v := pipeline`
        for i, (kind, _value) in enumerate(tokens):
            if kind == "decl":
                names = [v for k, v in tokens[:i] if k == "var"]
                if not names or any(k not in ("var", "punct") for k, _ in tokens[:i]):
                    raise TemplateError(f"template: bad declaration in {text!r}")
                decl = names
                tokens = tokens[i + 1 :]
                break
        self.tokens = tokens
        self.tpos = 0
        pipe = self._parse_pipe()
        if self.tpos != len(self.tokens):
            raise TemplateError(f"template: unexpected {self.tokens[self.tpos][1]!r} in {text!r}")
        pipe.decl = decl
        return pipe

    def _tokens(self, text: str) -> list[tuple[str, str]]:
        tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m:
                raise TemplateError(f"template: bad character {text[pos]!r} in {text!r}")
            pos = m.end()
            kind = m.lastgroup
            assert kind is not None
            if kind != "space":
                tokens.append((kind, m.group()))
        return tokens

    def _parse_pipe(self) -> Pipe:
        commands = [self._parse_command()]
        while self.tpos < len(self.tokens) and self.tokens[self.tpos] == ("punct", "|"):
            self.tpos += 1
            commands.append(self._parse_command())
        return Pipe(commands, [])

    def _parse_command(self) -> Command:
        args: list[Any] = []
        while self.tpos < len(self.tokens):
            kind, value = self.tokens[self.tpos]
            if kind == "punct" and value in "|)":
                break
            self.tpos += 1
            args.append(self._operand(kind, value))
        if not args:
            raise TemplateError("template: missing value for command")
        return Command(args)

    def _operand(self, kind: str, value: str) -> Any:
        if kind == "field":
            return Field([] if value == "." else value[1:].split("."))
        if kind == "var":
            names: list[str] = []
            if self.tpos < len(self.tokens) and self.tokens[self.tpos][0] == "field":
                names = self.tokens[self.tpos][1][1:].split(".")
                self.tpos += 1
            return Var(value, names)
        if kind == "string":
            # strict=False: `\t` in a --format is already a tab here (Docker's CLI
            # unescapes it before parsing), which Go's string literals accept.
            try:
                return Literal(json.loads(value, strict=False))
            except ValueError:
                raise TemplateError(f"template: :1: bad string literal {value}") from None
        if kind == "raw":
            return Literal(value[1:-1])
        if kind == "char":
            try:
                return Literal(ord(json.loads('"' + value[1:-1] + '"', strict=False)))
            except (ValueError, TypeError):
                raise TemplateError(f"template: :1: bad character literal {value}") from None
        if kind == "number":
            number = float(value) if any(c in value for c in ".eE") else int(value)
            return Literal(number)
        if kind == "ident":
            if value in ("true", "false"):
                return Literal(value == "true")
            if value == "nil":
                return Literal(None)
            if value not in FUNCTIONS and value not in _LOGIC:
                raise TemplateError(f'template: function "{value}" not defined')
            return Ident(value)
        if kind == "punct" and value == "(":
            inner = self._parse_pipe()
            if self.tpos >= len(self.tokens) or self.tokens[self.tpos] != ("punct", ")"):
                raise TemplateError("template: unclosed left paren")
            self.tpos += 1
            names = []
            if self.tpos < len(self.tokens) and self.tokens[self.tpos][0] == "field":
                names = self.tokens[self.tpos][1][1:].split(".")
                self.tpos += 1
            return Chain(inner, names)
        raise TemplateError(f"template: unexpected {value!r}")


# --- execution --------------------------------------------------------------------


class _Exec:
    def __init__(self, root: Any, strict: bool = False):
        self.root = root
        self.strict = strict

    def run(self, nodes: list[Any], dot: Any, scope: dict[str, Any], out: list[str]) -> None:
        for node in nodes:
            if isinstance(node, Text):
                out.append(node.text)
            elif isinstance(node, Action):
                value = self.pipe(node.pipe, dot, scope)
                if not node.pipe.decl:
                    out.append(go_string(value))
            elif isinstance(node, If):
                value = self.pipe(node.pipe, dot, scope)
                self.run(node.body if truthy(value) else node.orelse, dot, dict(scope), out)
            elif isinstance(node, With):
                value = self.pipe(node.pipe, dot, scope)
                if truthy(value):
                    self.run(node.body, value, dict(scope), out)
                else:
                    self.run(node.orelse, dot, dict(scope), out)
            elif isinstance(node, Range):
                self.range(node, dot, scope, out)

    def range(self, node: Range, dot: Any, scope: dict[str, Any], out: list[str]) -> None:
        decl = node.pipe.decl
        node.pipe.decl = []
        try:
            value = self.pipe(node.pipe, dot, scope)
        finally:
            node.pipe.decl = decl
        if isinstance(value, dict):
            pairs = sorted(value.items(), key=lambda kv: str(kv[0]))
        elif isinstance(value, list | tuple):
            pairs = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            pairs = [(i, i) for i in range(value)]
        elif value is None or value is MISSING:
            pairs = []
        else:
            raise TemplateError(f"range can't iterate over {go_string(value)}")
        if not pairs:
            self.run(node.orelse, dot, dict(scope), out)
            return
        for key, item in pairs:
            inner = dict(scope)
            if len(decl) == 1:
                inner[decl[0]] = item
            elif len(decl) == 2:
                inner[decl[0]] = key
                inner[decl[1]] = item
            self.run(node.body, item, inner, out)

    def pipe(self, pipe: Pipe, dot: Any, scope: dict[str, Any]) -> Any:
        value: Any = MISSING
        first = True
        for command in pipe.commands:
            value = self.command(command, dot, scope, None if first else value, not first)
            first = False
        for name in pipe.decl:
            scope[name] = value
        return value

    def command(
        self, command: Command, dot: Any, scope: dict[str, Any], piped: Any, has_piped: bool
    ) -> Any:
        head, rest = command.args[0], command.args[1:]
        if isinstance(head, Ident):
            args = [self.arg(a, dot, scope) for a in rest]
            if has_piped:
                args.append(piped)
            if head.name == "and":
                result: Any = True
                for a in args:
                    result = a
                    if not truthy(a):
                        break
                return result
            if head.name == "or":
                result = False
                for a in args:
                    result = a
                    if truthy(a):
                        break
                return result
            try:
                return FUNCTIONS[head.name](*args)
            except TemplateError:
                raise
            except (TypeError, ValueError, AttributeError) as exc:
                raise TemplateError(f"error calling {head.name}: {exc}") from None
        if isinstance(head, Field | Var | Chain) and (rest or has_piped):
            # A method call with arguments: `.Label "key"`.
            target = self.arg(head, dot, scope, call=False)
            if callable(target):
                args = [self.arg(a, dot, scope) for a in rest]
                if has_piped:
                    args.append(piped)
                return target(*args)
            if isinstance(target, str) and rest:
                return target  # a table header stands in for a method's result
            raise TemplateError(f"can't give argument to non-function {_describe(head)}")
        if rest or has_piped:
            raise TemplateError("can't give argument to non-function")
        return self.arg(head, dot, scope)

    def arg(self, node: Any, dot: Any, scope: dict[str, Any], call: bool = True) -> Any:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Field):
            return self.walk(dot, node.names, call)
        if isinstance(node, Var):
            if node.name not in scope:
                raise TemplateError(f'undefined variable "{node.name}"')
            return self.walk(scope[node.name], node.names, call)
        if isinstance(node, Chain):
            return self.walk(self.pipe(node.pipe, dot, scope), node.names, call)
        if isinstance(node, Ident):
            return self.command(Command([node]), dot, scope, None, False)
        raise TemplateError(f"unexpected node {node!r}")

    def walk(self, value: Any, names: list[str], call: bool = True) -> Any:
        for i, name in enumerate(names):
            last = i == len(names) - 1
            if isinstance(value, dict):
                if name not in value:
                    # Docker's templates see Go structs, whose field names differ from the
                    # JSON keys we hold only in case (`APIVersion`/`ApiVersion`, `ID`/`Id`).
                    folded = [k for k in value if isinstance(k, str) and k.lower() == name.lower()]
                    if len(folded) == 1:
                        name = folded[0]
                if self.strict and name not in value:
                    chain = "." + ".".join(names)
                    raise TemplateError(
                        f'executing "" at <{chain}>: map has no entry for key "{name}"', chain
                    )
                value = value.get(name, MISSING)
            elif value is None or value is MISSING:
                # Go stops at nil pointers; Docker's map-based data gives <no value>.
                return MISSING if value is MISSING else None
            elif isinstance(value, list | tuple | str | int | float | bool):
                raise TemplateError(
                    f"can't evaluate field {name} in type {_go_type(value)}",
                    "." + ".".join(names),
                )
            else:
                if name.startswith("_") or not hasattr(value, name):
                    go_type = getattr(type(value), "GO_TYPE", type(value).__name__)
                    raise TemplateError(
                        f"can't evaluate field {name} in type {go_type}", "." + ".".join(names)
                    )
                value = getattr(value, name)
                if callable(value) and (call or not last):
                    value = value()
        return value


def _go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "float64"
    if isinstance(value, str):
        return "string"
    return "[]interface {}"


def _describe(node: Any) -> str:
    if isinstance(node, Field):
        return "." + ".".join(node.names)
    if isinstance(node, Var):
        return node.name
    return "value"

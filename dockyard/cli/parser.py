# SPDX-License-Identifier: Apache-2.0
"""Command-line flags with Docker's (pflag's) rules, usage text and error messages.

What users rely on: `-it` bundles shorthands, `-eA=1`, `-e=A=1`, `--name=x` and
`--name x` all work, `--rm=false` negates a boolean, `--` ends the flags, and a lone
`-` is an argument (stdin). `run` and `create` stop reading flags at the image name, so
`dockyard run busybox ls -l` passes `-l` to `ls`. Errors print the message, the usage
line and a hint, and exit 125 (bad flags) or 1 (wrong argument count), as Docker does.
"""

from __future__ import annotations

from types import SimpleNamespace

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

PROG = "dockyard"


class UsageError(Exception):
    """Bad command line: `status` is the exit code, the message is printed as is."""

    def __init__(self, message: str, status: int = 125):
        super().__init__(message)
        self.status = status


class HelpRequested(Exception):
    """`--help` was given: print the help text and exit 0."""


class Flag:
    """One flag. `kind` is bool, string, int, uint16, float, list (repeatable) or map
    (repeatable `key=value`, kept in a dict).

    `validate` converts and checks a value (raising ValueError with Docker's message);
    `dest` lets two spellings share one value (`--net`/`--network`); `deprecated` is the
    hint printed when a deprecated spelling is used. `type_name` is the word shown after
    the flag in help ("string", "list", ...). (Plain classes rather than dataclasses
    here: importing dataclasses costs the CLI several milliseconds of startup.)
    """

    __slots__ = (
        "long",
        "short",
        "kind",
        "default",
        "help",
        "type_name",
        "hidden",
        "validate",
        "_dest",
        "deprecated",
    )

    def __init__(
        self,
        long: str,
        short: str = "",
        kind: str = "bool",
        default: Any = None,
        help: str = "",
        type_name: str = "",
        hidden: bool = False,
        validate: Callable[[str], Any] | None = None,
        dest: str = "",
        deprecated: str = "",
    ):
        self.long = long
        self.short = short
        self.kind = kind
        self.default = default
        self.help = help
        self.type_name = type_name
        self.hidden = hidden or bool(deprecated)
        self.validate = validate
        self._dest = dest
        self.deprecated = deprecated

    @property
    def dest(self) -> str:
        return self._dest or self.long.replace("-", "_")

    def initial(self) -> Any:
        if self.kind == "list":
            return list(self.default or [])
        if self.kind == "map":
            return dict(self.default or {})
        if self.default is not None:
            return self.default
        return {"bool": False, "string": None, "int": None, "uint16": None, "float": None}[
            self.kind
        ]


class Command:
    """A command's flags and argument rules. `path` is how it is typed ("container ls")."""

    def __init__(
        self,
        path: str,
        usage: str,
        summary: str,
        flags: list[Flag] | None = None,
        min_args: int = 0,
        max_args: int | None = None,
        interspersed: bool = True,
        aliases: list[str] | None = None,
    ):
        self.path = path
        self.usage = usage
        self.summary = summary
        self.flags = flags or []
        self.min_args = min_args
        self.max_args = max_args
        self.interspersed = interspersed
        self.aliases = aliases or []

    def with_path(self, path: str) -> Command:
        """The same command as typed another way (`container ls` for `ps`)."""
        if path == self.path:
            return self
        clone = Command(
            self.path,
            self.usage,
            self.summary,
            self.flags,
            self.min_args,
            self.max_args,
            self.interspersed,
            self.aliases,
        )
        clone.path = path
        return clone

    def parse(self, argv: Sequence[str]) -> tuple[SimpleNamespace, list[str]]:
        """Options (by `Flag.dest`) and positional arguments; raises UsageError or HelpRequested."""
        return parse(self, argv)

    @property
    def usage_line(self) -> str:
        return f"Usage:  {PROG} {self.path} {self.usage}".rstrip()

    def help_text(self) -> str:
        lines = [self.usage_line, "", self.summary]
        if self.aliases:
            lines += ["", "Aliases:", "  " + ", ".join(f"{PROG} {a}" for a in self.aliases)]
        visible = [f for f in self.flags if not f.hidden]
        if visible:
            lines += ["", "Options:"]
            heads = [_flag_head(f) for f in visible]
            width = max(len(h) for h in heads) + 3
            for flag_, head in zip(visible, heads, strict=True):
                lines.append(head.ljust(width) + flag_.help + _default_note(flag_))
        return "\n".join(lines) + "\n"

    def usage_error(self, message: str, status: int = 125, hint: str = "Run") -> UsageError:
        return UsageError(
            f"{message}\n\n{self.usage_line}\n\n"
            f"{hint} '{PROG} {self.path} --help' for more information",
            status,
        )


def parse(command: Command, argv: Sequence[str]) -> tuple[SimpleNamespace, list[str]]:
    by_long = {f.long: f for f in command.flags}
    by_short = {f.short: f for f in command.flags if f.short}
    values: dict[str, Any] = {}
    for f in command.flags:
        values.setdefault(f.dest, f.initial())
    given: set[str] = set()
    notices: list[str] = []
    args: list[str] = []
    items = list(argv)
    i = 0

    def store(flag_: Flag, raw: str, shown: str) -> None:
        given.add(flag_.dest)
        if flag_.deprecated:
            notices.append(f"Flag --{flag_.long} has been deprecated, {flag_.deprecated}")
        try:
            value = _convert(flag_, raw)
        except ValueError as exc:
            raise command.usage_error(
                f'invalid argument "{raw}" for "{shown}" flag: {exc}'
            ) from None
        if flag_.kind == "list":
            values[flag_.dest].append(value)
        elif flag_.kind == "map":
            key, _, val = str(value).partition("=")
            values[flag_.dest][key] = val
        else:
            values[flag_.dest] = value

    while i < len(items):
        arg = items[i]
        i += 1
        if arg == "--":
            args.extend(items[i:])
            break
        if arg.startswith("--") and len(arg) > 2:
            name, eq, inline = arg[2:].partition("=")
            if name == "help":
                raise HelpRequested(command.help_text())
            flag_ = by_long.get(name)
            if flag_ is None:
                raise command.usage_error(f"unknown flag: --{name}")
            shown = _shown(flag_)
            if flag_.kind == "bool":
                store(flag_, inline if eq else "true", shown)
            elif eq:
                store(flag_, inline, shown)
            elif i < len(items):
                store(flag_, items[i], shown)
                i += 1
            else:
                raise command.usage_error(f"flag needs an argument: --{name}")
            continue
        if arg.startswith("-") and len(arg) > 1:
            shorts = arg[1:]
            j = 0
            while j < len(shorts):
                letter = shorts[j]
                flag_ = by_short.get(letter)
                if flag_ is None:
                    if letter == "h":
                        raise HelpRequested(command.help_text())
                    raise command.usage_error(f"unknown shorthand flag: '{letter}' in -{shorts}")
                shown = _shown(flag_)
                rest = shorts[j + 1 :]
                if flag_.kind == "bool":
                    if rest.startswith("="):
                        store(flag_, rest[1:], shown)
                        break
                    store(flag_, "true", shown)
                    j += 1
                    continue
                if rest:
                    store(flag_, rest[1:] if rest.startswith("=") else rest, shown)
                elif i < len(items):
                    store(flag_, items[i], shown)
                    i += 1
                else:
                    raise command.usage_error(f"flag needs an argument: '{letter}' in -{shorts}")
                break
            continue
        args.append(arg)
        if not command.interspersed:
            args.extend(items[i:])
            break

    _check_count(command, args)
    options = SimpleNamespace(**values)
    options._given = given
    options._notices = notices
    return options, args


def is_set(options: SimpleNamespace, dest: str) -> bool:
    """Whether the flag was on the command line (as opposed to left at its default)."""
    return dest in getattr(options, "_given", set())


def _check_count(command: Command, args: list[str]) -> None:
    n, lo, hi = len(args), command.min_args, command.max_args
    name = f"'{PROG} {command.path}'"
    if hi == 0 and n > 0:
        raise command.usage_error(f"{PROG}: {name} accepts no arguments", status=1)
    if lo == hi and n != lo:
        raise command.usage_error(f"{PROG}: {name} requires {_plural(lo)}", status=1)
    if n < lo:
        raise command.usage_error(
            f"{PROG}: {name} requires at least {_plural(lo)}", status=1, hint="See"
        )
    if hi is not None and n > hi:
        raise command.usage_error(f"{PROG}: {name} requires at most {_plural(hi)}", status=1)


def _plural(n: int) -> str:
    return f"{n} argument" if n == 1 else f"{n} arguments"


_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def _convert(flag_: Flag, raw: str) -> Any:
    # The messages quote Go's strconv errors, which scripts and users have seen for years.
    if flag_.validate is not None and flag_.kind != "bool":
        return flag_.validate(raw)
    if flag_.kind == "bool":
        if raw in _TRUE:
            return True
        if raw in _FALSE:
            return False
        raise ValueError(f'strconv.ParseBool: parsing "{raw}": invalid syntax')
    if flag_.kind == "int":
        try:
            return int(raw, 10)
        except ValueError:
            raise ValueError(f'strconv.ParseInt: parsing "{raw}": invalid syntax') from None
    if flag_.kind == "uint16":
        if not raw.isdigit():
            raise ValueError(f'strconv.ParseUint: parsing "{raw}": invalid syntax')
        if int(raw) > 65535:
            raise ValueError(f'strconv.ParseUint: parsing "{raw}": value out of range')
        return int(raw)
    if flag_.kind == "float":
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f'strconv.ParseFloat: parsing "{raw}": invalid syntax') from None
    return raw


def _shown(flag_: Flag) -> str:
    return f"-{flag_.short}, --{flag_.long}" if flag_.short else f"--{flag_.long}"


def _flag_head(flag_: Flag) -> str:
    head = f"  -{flag_.short}, --{flag_.long}" if flag_.short else f"      --{flag_.long}"
    type_name = flag_.type_name or {"bool": "", "list": "list", "map": "map"}.get(
        flag_.kind, flag_.kind
    )
    return f"{head} {type_name}" if type_name else head


def _default_note(flag_: Flag) -> str:
    if flag_.kind == "bool":
        return " (default true)" if flag_.default is True else ""
    if flag_.kind in ("list", "map") or flag_.default in (None, "", 0):
        return ""
    shown = f'"{flag_.default}"' if flag_.kind == "string" else str(flag_.default)
    return f" (default {shown})"

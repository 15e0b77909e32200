# SPDX-License-Identifier: Apache-2.0
"""`--change` lines for import and commit: the Dockerfile instructions that only edit config.

Docker accepts CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD, STOPSIGNAL, USER,
VOLUME and WORKDIR here; anything else is "<instr> is not a valid change command". CMD,
ENTRYPOINT, VOLUME and HEALTHCHECK CMD take the JSON (exec) form or the shell form; ENV and
LABEL take `k=v` pairs (quotes, backslashes and `$VAR`/`${VAR}` as in a Dockerfile) or the
legacy `key value` form. As in a build, ENTRYPOINT clears an inherited CMD unless a CMD
came earlier in the same list. The full Dockerfile language is the builder's business.
"""

from __future__ import annotations

import copy
import json
import posixpath
import re
import signal
from typing import Any

from dockyard.errors import InvalidParameter

VALID_CHANGES = (
    "cmd", "entrypoint", "env", "expose", "healthcheck", "label", "onbuild",
    "stopsignal", "user", "volume", "workdir",
)
DEFAULT_SHELL = ["/bin/sh", "-c"]

_DURATION_UNITS = {
    "ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000,
    "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def apply_changes(config: dict[str, Any] | None, changes: list[str]) -> dict[str, Any]:
    """Return a copy of the container config `config` with the `changes` applied."""
    cfg: dict[str, Any] = copy.deepcopy(config) if config else {}
    cmd_set = False
    for line in _logical_lines(changes):
        m = re.match(r"(\S+)\s*(.*)", line, re.S)
        assert m is not None
        instruction, rest = m.group(1).lower(), m.group(2).strip()
        if instruction not in VALID_CHANGES:
            raise InvalidParameter(f"{instruction} is not a valid change command")
        env = env_map(cfg)
        if instruction == "cmd":
            cfg["Cmd"] = _command(rest, cfg)
            cmd_set = True
        elif instruction == "entrypoint":
            cfg["Entrypoint"] = _command(rest, cfg)
            if not cmd_set:
                cfg["Cmd"] = None
        elif instruction == "env":
            for key, value in _pairs("ENV", rest, env):
                env[key] = value
                set_env(cfg, key, value)
        elif instruction == "label":
            labels = dict(cfg.get("Labels") or {})
            for key, value in _pairs("LABEL", rest, env):
                labels[key] = value
            cfg["Labels"] = labels
        elif instruction == "expose":
            ports = dict(cfg.get("ExposedPorts") or {})
            for word in _words(rest, env):
                for port in _port_specs(word):
                    ports[port] = {}
            cfg["ExposedPorts"] = ports
        elif instruction == "user":
            cfg["User"] = _single(rest, env)
        elif instruction == "workdir":
            path = _single(rest, env)
            if not path:
                raise InvalidParameter("WORKDIR requires exactly one argument")
            cfg["WorkingDir"] = posixpath.normpath(posixpath.join("/", cfg.get("WorkingDir") or "/", path))
        elif instruction == "volume":
            volumes = dict(cfg.get("Volumes") or {})
            paths = _json_list(rest)
            for path in paths if paths is not None else _words(rest, env):
                if not path.strip():
                    raise InvalidParameter("VOLUME specified can not be an empty string")
                volumes[path] = {}
            if not volumes:
                raise InvalidParameter("VOLUME requires at least one argument")
            cfg["Volumes"] = volumes
        elif instruction == "stopsignal":
            sig = _single(rest, env)
            _check_signal(sig)
            cfg["StopSignal"] = sig
        elif instruction == "onbuild":
            trigger = rest.split(None, 1)[0].upper() if rest else ""
            if trigger == "ONBUILD":
                raise InvalidParameter("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
            if trigger in ("FROM", "MAINTAINER"):
                raise InvalidParameter(f"{trigger} isn't allowed as an ONBUILD trigger")
            if not trigger:
                raise InvalidParameter("ONBUILD requires at least one argument")
            cfg["OnBuild"] = [*(cfg.get("OnBuild") or []), rest]
        elif instruction == "healthcheck":
            cfg["Healthcheck"] = _healthcheck(rest)
    return cfg


def parse_duration(text: str) -> int:
    """Go's time.ParseDuration, in nanoseconds ("1m30s", "500ms", "0")."""
    s = text.strip()
    sign = 1
    if s[:1] in "+-" and s:
        sign, s = (-1 if s[0] == "-" else 1), s[1:]
    if s == "0":
        return 0
    pos, total = 0, 0.0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if m is None:
            raise InvalidParameter(f'time: invalid duration "{text}"')
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if not s:
        raise InvalidParameter(f'time: invalid duration "{text}"')
    return sign * int(total)


def _logical_lines(changes: list[str]) -> list[str]:
    # Docker joins the changes into one Dockerfile, so "\" at a line end continues it.
    out: list[str] = []
    pending = ""
    for raw in "\n".join(changes).split("\n"):
        line = raw.rstrip()
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        out.append((pending + line).strip())
        pending = ""
    if pending.strip():
        out.append(pending.strip())
    return out


def _command(rest: str, cfg: dict[str, Any]) -> list[str] | None:
    exec_form = _json_list(rest)
    if exec_form is not None:
        return exec_form
    if not rest:
        return None
    return [*(cfg.get("Shell") or DEFAULT_SHELL), rest]


def _json_list(rest: str) -> list[str] | None:
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _pairs(instruction: str, rest: str, env: dict[str, str]) -> list[tuple[str, str]]:
    if not rest:
        raise InvalidParameter(f"{instruction} requires at least one argument")
    first = _split_words(rest)[0]
    if "=" not in first:
        # Legacy `ENV key value with spaces`: everything after the key is the value.
        parts = re.split(r"\s+", rest, maxsplit=1)
        if len(parts) < 2 or not parts[1].strip():
            raise InvalidParameter(f"{instruction} must have two arguments")
        return [(parts[0], _expand(parts[1].strip(), env))]
    pairs = []
    for word in _split_words(rest):
        key, eq, value = word.partition("=")
        if not eq:
            raise InvalidParameter(f"Syntax error - can't find = in \"{word}\". Must be of the form: name=value")
        key = _expand(key, env)
        if not key:
            raise InvalidParameter(f"{instruction} names can not be blank")
        pairs.append((key, _expand(value, env)))
    return pairs


def _words(rest: str, env: dict[str, str]) -> list[str]:
    return [w for w in (_expand(word, env) for word in _split_words(rest)) if w]


def _single(rest: str, env: dict[str, str]) -> str:
    return _expand(rest.strip(), env)


def _split_words(text: str) -> list[str]:
    """Split on unquoted whitespace, keeping quotes and escapes for `_expand`."""
    words, current, quote, escaped, started = [], [], "", False, False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
            continue
        if ch == "\\" and quote != "'":
            current.append(ch)
            escaped = True
            started = True
            continue
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
            continue
        if ch in "\"'":
            quote = ch
            current.append(ch)
            started = True
            continue
        if ch.isspace():
            if started:
                words.append("".join(current))
                current, started = [], False
            continue
        current.append(ch)
        started = True
    if quote:
        raise InvalidParameter(f"unexpected end of statement while looking for matching {quote}")
    if started:
        words.append("".join(current))
    return words


def _expand(word: str, env: dict[str, str]) -> str:
    """Quote removal, backslash escapes and $VAR / ${VAR} / ${VAR:-x} / ${VAR:+x}."""
    out: list[str] = []
    i, quote = 0, ""
    while i < len(word):
        ch = word[i]
        if quote == "'":
            if ch == "'":
                quote = ""
            else:
                out.append(ch)
            i += 1
            continue
        if ch == "\\" and i + 1 < len(word):
            nxt = word[i + 1]
            # Inside double quotes only \ " $ are escapes; elsewhere any char is.
            if quote != '"' or nxt in '\\"$':
                out.append(nxt)
            else:
                out.append(ch + nxt)
            i += 2
            continue
        if ch == '"':
            quote = "" if quote else '"'
            i += 1
            continue
        if ch == "'" and not quote:
            quote = "'"
            i += 1
            continue
        if ch == "$":
            value, i = _variable(word, i, env)
            out.append(value)
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _variable(word: str, i: int, env: dict[str, str]) -> tuple[str, int]:
    if word.startswith("${", i):
        end = word.find("}", i + 2)
        if end < 0:
            raise InvalidParameter(f"missing '}}' in {word!r}")
        body = word[i + 2:end]
        m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)(?::([-+])(.*))?$", body, re.S)
        if m is None:
            raise InvalidParameter(f"bad substitution: ${{{body}}}")
        name, op, alt = m.group(1), m.group(2), m.group(3) or ""
        value = env.get(name, "")
        if op == "-":
            value = value or _expand(alt, env)
        elif op == "+":
            value = _expand(alt, env) if value else ""
        return value, end + 1
    m = _NAME_RE.match(word, i + 1)
    if m is None:
        return "$", i + 1
    return env.get(m.group(0), ""), m.end()


def env_map(cfg: dict[str, Any]) -> dict[str, str]:
    """A config's `Env` list as a mapping (the builder's variable expansion uses it too)."""
    return dict(item.partition("=")[::2] for item in cfg.get("Env") or [])


def set_env(cfg: dict[str, Any], key: str, value: str) -> None:
    """Set `key` in a config's `Env` list, in place of an earlier value or at the end."""
    entries = list(cfg.get("Env") or [])
    for i, item in enumerate(entries):
        if item.partition("=")[0] == key:
            entries[i] = f"{key}={value}"
            break
    else:
        entries.append(f"{key}={value}")
    cfg["Env"] = entries


def _port_specs(spec: str) -> list[str]:
    port, _, proto = spec.partition("/")
    proto = proto.lower() or "tcp"
    if proto not in ("tcp", "udp", "sctp"):
        raise InvalidParameter(f"invalid proto: {proto}")
    low, dash, high = port.partition("-")
    if not low.isdigit() or (dash and not high.isdigit()):
        raise InvalidParameter(f"invalid containerPort: {port}")
    start, end = int(low), int(high) if dash else int(low)
    if start > 65535 or end > 65535 or end < start:
        raise InvalidParameter(f"invalid containerPort: {port}")
    return [f"{p}/{proto}" for p in range(start, end + 1)]


def _check_signal(sig: str) -> None:
    if sig.isdigit():
        if 0 < int(sig) < 65:
            return
    else:
        name = sig.upper()
        name = name if name.startswith("SIG") else "SIG" + name
        if hasattr(signal.Signals, name) or re.fullmatch(r"SIGRTM(IN|AX)([+-]\d+)?", name):
            return
    raise InvalidParameter(f"Invalid signal: {sig}")


def _healthcheck(rest: str) -> dict[str, Any]:
    words = rest.split(None, 1)
    options: dict[str, int] = {}
    while words and words[0].startswith("--"):
        flag, _, value = words[0][2:].partition("=")
        if flag == "retries":
            if not value.isdigit():
                raise InvalidParameter(f"invalid retries value: {value!r}")
            options["Retries"] = int(value)
        elif flag in ("interval", "timeout", "start-period", "start-interval"):
            duration = parse_duration(value)
            if duration != 0 and duration < 1_000_000:
                raise InvalidParameter(f"Interval {flag} cannot be less than 1ms")
            key = {"interval": "Interval", "timeout": "Timeout", "start-period": "StartPeriod",
                   "start-interval": "StartInterval"}[flag]
            options[key] = duration
        else:
            raise InvalidParameter(f"Unknown flag: {flag}")
        words = words[1].split(None, 1) if len(words) > 1 else []
    if not words:
        raise InvalidParameter("HEALTHCHECK requires an argument")
    kind = words[0].upper()
    args = words[1].strip() if len(words) > 1 else ""
    if kind == "NONE":
        if args or options:
            raise InvalidParameter("HEALTHCHECK NONE takes no arguments")
        return {"Test": ["NONE"]}
    if kind != "CMD":
        raise InvalidParameter(f'Unknown type "{kind}" in HEALTHCHECK (try CMD)')
    exec_form = _json_list(args)
    if exec_form is not None:
        test = ["CMD", *exec_form]
    elif args:
        test = ["CMD-SHELL", args]
    else:
        raise InvalidParameter("Missing command after HEALTHCHECK CMD")
    return {"Test": test, **options}

# SPDX-License-Identifier: Apache-2.0
"""What each Dockerfile instruction does to a stage's image config, and the text Docker
records for it (`created_by` in the history, which is also half of the cache key).

These are pure functions over the container config dict (the Engine API `Config` shape);
instructions that change files (RUN, COPY, ADD, WORKDIR) get their config part here and
their file part in `build`.
"""

from __future__ import annotations

import json
import posixpath
import re
import signal
from typing import Any

from dockyard.builder.parser import Instruction, ParseError
from dockyard.builder.shell import expand_word, expand_words
from dockyard.images.changes import parse_duration, set_env

DEFAULT_SHELL = ["/bin/sh", "-c"]


def shell_of(config: dict[str, Any]) -> list[str]:
    return list(config.get("Shell") or DEFAULT_SHELL)


def nop(config: dict[str, Any], text: str, *, spaces: int = 2) -> str:
    """Docker's history line for a config-only step: `/bin/sh -c #(nop)  ENV a=b`."""
    return " ".join(shell_of(config)) + " #(nop)" + " " * spaces + text


def go_quoted_list(items: list[str]) -> str:
    """Go's `%q` of a []string, which Docker's history uses: `["a" "b c"]`."""
    return "[" + " ".join(json.dumps(i, ensure_ascii=False) for i in items) + "]"


def apply_config(ins: Instruction, config: dict[str, Any], env: dict[str, str],
                 escape: str) -> tuple[str, str]:
    """Apply a config-only instruction to `config` in place; returns (created_by, the
    step text for the cache). `env` is what variables expand to."""
    cmd = ins.cmd
    if cmd == "env":
        pairs = []
        for word in ins.args:
            key, _, value = word.partition("=")
            key, value = expand_word(key, env, escape), expand_word(value, env, escape)
            if not key:
                raise _err(ins, "ENV names can not be blank")
            set_env(config, key, value)
            env[key] = value
            pairs.append(f"{key}={value}")
        text = "ENV " + " ".join(pairs)
        return nop(config, text), text
    if cmd == "label":
        labels = dict(config.get("Labels") or {})
        pairs = []
        for word in ins.args:
            key, _, value = word.partition("=")
            key, value = expand_word(key, env, escape), expand_word(value, env, escape)
            if not key:
                raise _err(ins, "LABEL names can not be blank")
            labels[key] = value
            pairs.append(f"{key}={value}")
        config["Labels"] = labels
        text = "LABEL " + " ".join(pairs)
        return nop(config, text), text
    if cmd in ("cmd", "entrypoint"):
        if ins.json:
            value = list(ins.args)
        else:
            value = [*shell_of(config), ins.text] if ins.text else []
        key = "Cmd" if cmd == "cmd" else "Entrypoint"
        config[key] = value or None
        text = f"{cmd.upper()} {go_quoted_list(value)}"
        return nop(config, text), text
    if cmd == "expose":
        ports = dict(config.get("ExposedPorts") or {})
        added = []
        for word in expand_words(ins.text, env, escape):
            for port in _port_specs(ins, word):
                ports[port] = {}
                added.append(port)
        config["ExposedPorts"] = ports
        text = "EXPOSE " + " ".join(sorted(set(added)))
        return nop(config, text), text
    if cmd == "user":
        user = expand_word(ins.text, env, escape)
        config["User"] = user
        return nop(config, f"USER {user}"), f"USER {user}"
    if cmd == "volume":
        volumes = dict(config.get("Volumes") or {})
        paths = [expand_word(p, env, escape) for p in ins.args] if ins.json else expand_words(ins.text, env, escape)
        for path in paths:
            if not path.strip():
                raise _err(ins, "VOLUME specified can not be an empty string")
            volumes[path] = {}
        config["Volumes"] = volumes
        text = "VOLUME [" + " ".join(paths) + "]"
        return nop(config, text), text
    if cmd == "stopsignal":
        sig = expand_word(ins.text, env, escape)
        _check_signal(ins, sig)
        config["StopSignal"] = sig
        return nop(config, f"STOPSIGNAL {sig}"), f"STOPSIGNAL {sig}"
    if cmd == "shell":
        if not ins.args:
            raise _err(ins, "SHELL requires at least one argument")
        config["Shell"] = list(ins.args)
        text = "SHELL [" + " ".join(ins.args) + "]"
        return nop(config, text), text
    if cmd == "onbuild":
        trigger = re.sub(r"^\s*onbuild\s+", "", ins.original, flags=re.I)
        config["OnBuild"] = [*(config.get("OnBuild") or []), trigger]
        return nop(config, f"ONBUILD {trigger}"), f"ONBUILD {trigger}"
    if cmd == "maintainer":
        return nop(config, f"MAINTAINER {ins.text}"), f"MAINTAINER {ins.text}"
    if cmd == "healthcheck":
        check, text = _healthcheck(ins)
        config["Healthcheck"] = check
        return nop(config, text), text
    raise _err(ins, f"unknown instruction: {cmd.upper()}")


def workdir(ins: Instruction, config: dict[str, Any], env: dict[str, str], escape: str) -> str:
    path = expand_word(ins.text, env, escape)
    current = config.get("WorkingDir") or "/"
    config["WorkingDir"] = posixpath.normpath(posixpath.join("/", current, path))
    return config["WorkingDir"]


# ── helpers ───────────────────────────────────────────────────────────────────────────

def _port_specs(ins: Instruction, spec: str) -> list[str]:
    port, _, proto = spec.partition("/")
    proto = proto.lower() or "tcp"
    if proto not in ("tcp", "udp", "sctp"):
        raise _err(ins, f"invalid proto: {proto}")
    if ":" in port:
        raise _err(ins, f"EXPOSE port mapping is not supported: {spec}")
    low, dash, high = port.partition("-")
    if not low.isdigit() or (dash and not high.isdigit()):
        raise _err(ins, f"invalid containerPort: {port}")
    start, end = int(low), int(high) if dash else int(low)
    if start > 65535 or end > 65535 or end < start:
        raise _err(ins, f"invalid containerPort: {port}")
    return [f"{p}/{proto}" for p in range(start, end + 1)]


def _check_signal(ins: Instruction, sig: str) -> None:
    if sig.isdigit() and 0 < int(sig) < 65:
        return
    name = sig.upper()
    name = name if name.startswith("SIG") else "SIG" + name
    if hasattr(signal.Signals, name) or re.fullmatch(r"SIGRTM(IN|AX)([+-]\d+)?", name):
        return
    raise _err(ins, f"Invalid signal: {sig}")


def _healthcheck(ins: Instruction) -> tuple[dict[str, Any], str]:
    words = ins.text.split(None, 1)
    kind = words[0].upper() if words else ""
    rest = words[1].strip() if len(words) > 1 else ""
    if kind == "NONE":
        if rest or ins.flags:
            raise _err(ins, "HEALTHCHECK NONE takes no arguments")
        return {"Test": ["NONE"]}, 'HEALTHCHECK &{["NONE"] "0s" "0s" "0s" \'\\x00\'}'
    if kind != "CMD":
        raise _err(ins, f'Unknown type "{kind}" in HEALTHCHECK (try CMD)')
    if not rest:
        raise _err(ins, "Missing command after HEALTHCHECK CMD")
    exec_form = None
    if rest.startswith("["):
        try:
            value = json.loads(rest)
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                exec_form = value
        except ValueError:
            pass
    test = ["CMD", *exec_form] if exec_form is not None else ["CMD-SHELL", rest]
    check: dict[str, Any] = {"Test": test}
    shown = {}
    for flag, key in (("interval", "Interval"), ("timeout", "Timeout"),
                      ("start-period", "StartPeriod"), ("start-interval", "StartInterval")):
        value = ins.flag(flag)
        if value is None:
            shown[key] = "0s"
            continue
        try:
            duration = parse_duration(value)
        except Exception:  # noqa: BLE001 - parse_duration raises InvalidParameter
            raise _err(ins, f'time: invalid duration "{value}"') from None
        if duration < 0 or (duration != 0 and duration < 1_000_000):
            raise _err(ins, f"Interval \"{flag}\" cannot be less than 1ms")
        if duration:
            check[key] = duration
        shown[key] = value
    retries = ins.flag("retries")
    if retries is not None:
        if not retries.isdigit():
            raise _err(ins, f'strconv.ParseInt: parsing "{retries}": invalid syntax')
        if int(retries):
            check["Retries"] = int(retries)
    text = (f"HEALTHCHECK &{{{go_quoted_list(test)} \"{shown['Interval']}\" \"{shown['Timeout']}\" "
            f"\"{shown['StartPeriod']}\" '\\x{int(retries or 0):02x}'}}")
    return check, text


def _err(ins: Instruction, message: str) -> ParseError:
    return ParseError(f"dockerfile parse error line {ins.line}: {message}")

# SPDX-License-Identifier: Apache-2.0
"""Docker's flag value syntaxes, parsed and checked the way the docker CLI does.

One function per value type, raising OptError with the docker CLI's message, which the
flag parser turns into `invalid argument "v" for "--flag" flag: <message>` (exit 125).
The rules are Docker's, quirks included, because scripts are written against them:
`-v x:/y` treats `x:` as a Windows drive, `--restart sometimes` is left for the daemon
to refuse, a bare key in a label file is dropped while one in an env file is looked up.
Standard library only; imported lazily by the commands that need it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class OptError(ValueError):
    """A flag value Docker rejects; str() is Docker's message."""


# --- numbers, sizes, durations --------------------------------------------------------


def go_int(text: str, bits: int = 64) -> int:
    """strconv.ParseInt(text, 10, bits) with Go's error text."""
    if not re.fullmatch(r"[+-]?\d+", text):
        raise OptError(f'strconv.ParseInt: parsing "{text}": invalid syntax')
    value = int(text)
    if not -(1 << (bits - 1)) <= value < (1 << (bits - 1)):
        raise OptError(f'strconv.ParseInt: parsing "{text}": value out of range')
    return value


def go_uint(text: str, bits: int = 64) -> int:
    """strconv.ParseUint(text, 10, bits) with Go's error text."""
    if not re.fullmatch(r"\+?\d+", text):
        raise OptError(f'strconv.ParseUint: parsing "{text}": invalid syntax')
    value = int(text)
    if value >= (1 << bits):
        raise OptError(f'strconv.ParseUint: parsing "{text}": value out of range')
    return value


def ram_in_bytes(text: str) -> int:
    """go-units RAMInBytes: `64m`, `1g`, `512`, `2kb`, `1.5GiB` (binary multiples)."""
    return _parse_size(text, 1024)


def human_bytes_to_int(text: str) -> int:
    """go-units FromHumanSize: decimal multiples (`1k` is 1000)."""
    return _parse_size(text, 1000)


def _parse_size(text: str, base: int) -> int:
    sep = max(text.rfind(ch) for ch in "0123456789. ")
    if sep == -1:
        raise OptError(f"invalid size: '{text}'")
    if text[sep] != " ":
        number, suffix = text[: sep + 1], text[sep + 1 :]
    else:
        number, suffix = text[:sep], text[sep + 1 :]
    try:
        size = float(number)
    except ValueError:
        raise OptError(f'strconv.ParseFloat: parsing "{number}": invalid syntax') from None
    if size < 0:
        raise OptError(f"invalid size: '{text}'")
    if not suffix:
        return int(size)
    lower = suffix.lower()
    bad = OptError(f"invalid suffix: '{lower if len(suffix) <= 3 else suffix}'")
    if len(suffix) > 3:
        raise bad
    if lower[0] == "b":
        if len(lower) > 1:
            raise bad
        return int(size)
    power = "kmgtp".find(lower[0])
    if power < 0:
        raise bad
    if (len(lower) == 2 and lower[1] != "b") or (len(lower) == 3 and lower[1:] != "ib"):
        raise bad
    return int(size * base ** (power + 1))


def mem_bytes(text: str) -> int:
    """--memory and friends."""
    return ram_in_bytes(text)


def mem_swap_bytes(text: str) -> int:
    """--memory-swap: like --memory, and `-1` for unlimited."""
    return -1 if text == "-1" else ram_in_bytes(text)


def nano_cpus(text: str) -> int:
    """--cpus: a rational number of CPUs in units of 10^-9."""
    from fractions import Fraction

    try:
        cpus = Fraction(text.strip()) if text.strip() == text else Fraction("x")
    except (ValueError, ZeroDivisionError):
        raise OptError(f"failed to parse {text} as a rational number") from None
    nano = cpus * 1_000_000_000
    if nano.denominator != 1:
        raise OptError("value is too precise")
    return int(nano)


_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}


def go_duration(text: str) -> int:
    """time.ParseDuration: `1h30m`, `500ms`, `-2s`, `0` → nanoseconds."""
    quoted = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    rest = text
    sign = 1
    if rest[:1] in "+-" and rest:
        sign = -1 if rest[0] == "-" else 1
        rest = rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise OptError(f"time: invalid duration {quoted}")
    total = 0
    while rest:
        match = re.match(r"(\d*)(\.(\d*))?", rest)
        assert match is not None
        whole, frac = match.group(1), match.group(3) or ""
        if not whole and not frac:
            raise OptError(f"time: invalid duration {quoted}")
        rest = rest[match.end() :]
        unit_match = re.match(r"[^\d.]*", rest)
        assert unit_match is not None
        unit = unit_match.group(0)
        if not unit:
            raise OptError(f"time: missing unit in duration {quoted}")
        if unit not in _DURATION_UNITS:
            raise OptError(f'time: unknown unit "{unit}" in duration {quoted}')
        rest = rest[len(unit) :]
        scale = _DURATION_UNITS[unit]
        value = int(whole or "0") * scale
        if frac:
            value += int(int(frac) * scale / 10 ** len(frac))
        total += value
    if total > (1 << 63) - 1:
        raise OptError(f"time: invalid duration {quoted}")
    return sign * total


def format_go_duration(ns: int) -> str:
    """time.Duration.String(): `1h30m0s`, `500ms`, `0s`."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000_000_000:
        for unit, scale in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= scale:
                return sign + _trim(ns / scale) + unit
    hours, rem = divmod(ns, 3_600_000_000_000)
    minutes, rem = divmod(rem, 60_000_000_000)
    seconds = _trim(rem / 1_000_000_000)
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{sign}{minutes}m{seconds}s"
    return f"{sign}{seconds}s"


def _trim(value: float) -> str:
    text = f"{value:.9f}".rstrip("0").rstrip(".")
    return text or "0"


# --- timestamps ---------------------------------------------------------------------


def get_timestamp(value: str, now: float | None = None) -> str:
    """Docker's GetTimestamp for --since/--until: a duration counts back from now (whole
    seconds), an RFC 3339 date or time (zone optional: local) becomes `sec.nanosec`, and
    anything else must already be a unix timestamp, which passes through as typed."""
    import math
    import time

    reference = time.time() if now is None else now
    if value != "0":
        try:
            duration = go_duration(value)
        except OptError:
            pass
        else:
            return str(math.floor(reference - duration / 1e9))
    parsed = _parse_go_time(value, reference)
    if parsed is None:
        if "-" in value:
            raise OptError(f'parsing time "{value}": cannot parse as a timestamp')
        seconds, dot, frac = value.partition(".")
        if not re.fullmatch(r"[+-]?\d+", seconds) or (dot and not re.fullmatch(r"[+-]?\d+", frac)):
            raise OptError(f'failed to parse value as time or duration: "{value}"')
        return value
    seconds, nanos = parsed
    return f"{seconds}.{nanos:09d}"


_ZONE = r"(Z|[+-]\d{2}:\d{2})"


def _parse_go_time(value: str, reference: float) -> tuple[int, int] | None:
    """(unix seconds, nanoseconds) for the layouts GetTimestamp tries, or None."""
    import calendar
    import time

    local = not any(c in value for c in "zZ+") and value.count("-") != 3
    date = r"(\d{4})-(\d{2})-(\d{2})"
    frac = r"(?:\.(\d+))?"
    if "." in value or "T" in value:
        colons = value.count(":")
        if not local and not any(c in value for c in "zZ") and colons > 0:
            colons -= 1
        if "." in value or colons >= 2:
            clock = rf"T(\d{{2}}):(\d{{2}}):(\d{{2}}){frac}"
        elif colons == 1:
            clock = r"T(\d{2}):(\d{2})()()"
        else:
            clock = r"T(\d{2})()()()"
        pattern = date + clock + ("" if local else _ZONE)
    else:
        pattern = date + r"()()()()" + ("" if local else _ZONE)
    match = re.fullmatch(pattern, value)
    if not match:
        return None
    groups = match.groups()
    year, month, day = int(groups[0]), int(groups[1]), int(groups[2])
    hour, minute, second = (int(g) if g else 0 for g in groups[3:6])
    fraction = groups[6] or ""
    try:
        seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
        import datetime

        datetime.datetime(year, month, day, hour, minute, second)
    except (ValueError, OverflowError):
        return None
    if local:
        seconds -= time.localtime(reference).tm_gmtoff
    else:
        zone = groups[7]
        if zone and zone not in ("Z", "z"):
            sign = 1 if zone[0] == "+" else -1
            seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    nanos = int((fraction + "000000000")[:9]) if fraction else 0
    return seconds, nanos


# --- addresses, names -----------------------------------------------------------------


def validate_ip(value: str) -> str:
    """An IPv4 or IPv6 address, returned in Go's canonical form."""
    import ipaddress

    text = value.strip()
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise OptError(f"IP address is not correctly formatted: {value}") from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def is_ip(value: str) -> bool:
    try:
        validate_ip(value)
    except OptError:
        return False
    return value.strip() == value


def validate_mac(value: str) -> str:
    text = value.strip()
    hexpair = r"[0-9a-fA-F]{2}"
    patterns = [
        rf"{hexpair}(?:([:-]){hexpair}){{{n - 1}}}" for n in (6, 8, 20)
    ]
    ok = any(re.fullmatch(p, text) and len(set(re.findall(r"[:-]", text))) == 1 for p in patterns)
    if not ok:
        ok = any(
            re.fullmatch(rf"[0-9a-fA-F]{{4}}(?:\.[0-9a-fA-F]{{4}}){{{n - 1}}}", text)
            for n in (3, 4, 10)
        )
    if not ok:
        raise OptError(f"{value} is not a valid mac address")
    return value


_DOMAIN = re.compile(
    r"^(:?(:?[a-zA-Z0-9]|(:?[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9]))"
    r"(:?\.(:?[a-zA-Z0-9]|(:?[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9])))*)\.?\s*$"
)


def validate_dns_search(value: str) -> str:
    text = value.strip(" ")
    if text == ".":
        return text
    if not re.search(r"[a-zA-Z]", text):
        raise OptError(f"{text} is not a valid domain")
    match = _DOMAIN.match(text)
    if match and len(match.group(1)) < 255:
        return match.group(1)
    raise OptError(f"{text} is not a valid domain")


def validate_extra_host(value: str) -> str:
    """`name:ip`, `name=ip`, `name:[v6]` or `name:host-gateway` → `name:ip`."""
    key, sep, address = value.partition("=")
    if not sep:
        key, sep, address = value.partition(":")
    if not sep or not key or ":" in key:
        raise OptError(f'bad format for add-host: "{value}"')
    if address != "host-gateway":
        if len(address) > 2 and address[0] == "[" and address[-1] == "]":
            address = address[1:-1]
        try:
            validate_ip(address)
        except OptError:
            raise OptError(f'invalid IP address in add-host: "{address}"') from None
    return f"{key}:{address}"


def validate_env(value: str, environ: Mapping[str, str] | None = None) -> str:
    """`KEY=value` as given; a bare `KEY` takes our environment's value if it has one."""
    env = os.environ if environ is None else environ
    key, sep, _ = value.partition("=")
    if not key:
        raise OptError(f"invalid environment variable: {value}")
    if sep:
        return value
    return f"{key}={env[key]}" if key in env else value


def validate_label(value: str) -> str:
    key = value.partition("=")[0].lstrip(" \t")
    if not key:
        raise OptError(f"invalid label '{value}': empty name")
    if any(ch in key for ch in " \t"):
        raise OptError(f"label '{key}' contains whitespaces")
    return value


_SYSCTLS = {
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
}


def validate_sysctl(value: str) -> str:
    key, sep, _ = value.partition("=")
    if sep and key and (key in _SYSCTLS or key.startswith(("net.", "fs.mqueue."))):
        return value
    raise OptError(f"sysctl '{value}' is not allowed")


def validate_attach(value: str) -> str:
    lower = value.lower()
    if lower in ("stdin", "stdout", "stderr"):
        return lower
    raise OptError("valid streams are STDIN, STDOUT and STDERR")


def validate_link(value: str) -> str:
    if not value:
        raise OptError("empty string specified for links")
    if len(value.split(":", 2)) > 2:
        raise OptError(f"bad format for links: {value}")
    return value


def parse_filter(value: str) -> tuple[str, str] | None:
    """`--filter name=value`: (lowercased name, value), both trimmed; None for ''."""
    if value == "":
        return None
    if "=" not in value:
        raise OptError("bad format of filter (expected name=value)")
    name, _, val = value.partition("=")
    return name.strip().lower(), val.strip()


_ULIMITS = {
    "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
    "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack",
}


def parse_ulimit(value: str) -> dict[str, Any]:
    """`nofile=1024[:2048]` → {"Name", "Hard", "Soft"}."""
    name, sep, limits = value.partition("=")
    if not sep:
        raise OptError(f"invalid ulimit argument: {value}")
    if name not in _ULIMITS:
        raise OptError(f"invalid ulimit type: {name}")
    parts = limits.split(":")
    if len(parts) > 2:
        raise OptError(
            f"too many limit value arguments - {limits}, can only have up to two, `soft[:hard]`"
        )
    hard = go_int(parts[1]) if len(parts) == 2 else None
    soft = go_int(parts[0])
    if hard is None:
        hard = soft
    if hard != -1:
        if soft == -1:
            raise OptError(
                "ulimit soft limit must be less than or equal to hard limit: "
                f"soft: -1 (unlimited), hard: {hard}"
            )
        if soft > hard:
            raise OptError(
                f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
            )
    return {"Name": name, "Hard": hard, "Soft": soft}


def parse_weight_device(value: str) -> dict[str, Any]:
    path, sep, weight_text = value.partition(":")
    if not sep or not path:
        raise OptError(f"bad format: {value}")
    if not path.startswith("/dev/"):
        raise OptError(f"bad format for device path: {value}")
    try:
        weight = go_uint(weight_text, 16)
    except OptError:
        raise OptError(f"invalid weight for device: {value}") from None
    if weight > 0 and not 10 <= weight <= 1000:
        raise OptError(f"invalid weight for device: {value}")
    return {"Path": path, "Weight": weight}


def parse_throttle_bps(value: str) -> dict[str, Any]:
    path, sep, rate_text = value.partition(":")
    if not sep or not path:
        raise OptError(f"bad format: {value}")
    if not path.startswith("/dev/"):
        raise OptError(f"bad format for device path: {value}")
    try:
        rate = ram_in_bytes(rate_text)
    except OptError:
        rate = -1
    if rate < 0:
        raise OptError(
            f"invalid rate for device: {value}. The correct format is <device-path>:<number>[<unit>]. "
            "Number must be a positive integer. Unit is optional and can be kb, mb, or gb"
        )
    return {"Path": path, "Rate": rate}


def parse_throttle_iops(value: str) -> dict[str, Any]:
    path, sep, rate_text = value.partition(":")
    if not sep or not path:
        raise OptError(f"bad format: {value}")
    if not path.startswith("/dev/"):
        raise OptError(f"bad format for device path: {value}")
    try:
        rate = go_uint(rate_text)
    except OptError:
        raise OptError(
            f"invalid rate for device: {value}. The correct format is <device-path>:<number>. "
            "Number must be a positive integer"
        ) from None
    return {"Path": path, "Rate": rate}


def validate_device_cgroup_rule(value: str) -> str:
    if re.fullmatch(r"[acb] ([0-9]+|\*):([0-9]+|\*) [rwm]{1,3}", value):
        return value
    raise OptError(f"invalid device cgroup format '{value}'")


def parse_device(value: str) -> dict[str, str]:
    """`--device /dev/a[:/dev/b][:rwm]` → a DeviceMapping (checked as Docker does)."""
    if value.count(":") > 2:
        raise OptError(f"bad format for path: {value}")
    split = value.split(":", 2)
    if not split[0]:
        raise OptError(f"bad format for path: {value}")
    if len(split) == 1:
        container_path = split[0]
        value = _clean(container_path)
    elif len(split) == 2:
        if _device_mode(split[1]):
            container_path = split[0]
            value = f"{_clean(container_path)}:{split[1]}"
        else:
            container_path = split[1]
            value = f"{split[0]}:{_clean(container_path)}"
    else:
        container_path = split[1]
        if not _device_mode(split[2]):
            raise OptError(f"bad mode specified: {split[2]}")
    if not container_path.startswith("/"):
        raise OptError(f"{container_path} is not an absolute path")
    parts = value.split(":", 3)
    source, target, permissions = parts[0], "", "rwm"
    if len(parts) == 3:
        permissions = parts[2]
    if len(parts) >= 2:
        if _device_mode(parts[1]):
            permissions = parts[1]
        else:
            target = parts[1]
    return {
        "PathOnHost": source,
        "PathInContainer": target or source,
        "CgroupPermissions": permissions,
    }


def _device_mode(mode: str) -> bool:
    return bool(mode) and all(c in "rwm" for c in mode) and len(set(mode)) == len(mode)


def _clean(path: str) -> str:
    import posixpath

    return posixpath.normpath(path) if path else "."


# --- restart, security, logging --------------------------------------------------------


def parse_restart_policy(value: str) -> dict[str, Any]:
    """`name[:count]`; the name is the daemon's to judge, as with Docker's CLI."""
    if value == "":
        return {"Name": "", "MaximumRetryCount": 0}
    name, sep, count = value.partition(":")
    if sep and not name:
        raise OptError("invalid restart policy format: no policy provided before colon")
    retries = 0
    if count:
        try:
            retries = go_int(count)
        except OptError:
            raise OptError(
                "invalid restart policy format: maximum retry count must be an integer"
            ) from None
    return {"Name": name, "MaximumRetryCount": retries}


def parse_security_opts(values: list[str]) -> list[str]:
    """Check `--security-opt` values; a seccomp profile file is sent as its JSON content."""
    import json

    result = []
    for opt in values:
        key, sep, value = opt.partition("=")
        if not sep and key != "no-new-privileges":
            key, sep, value = opt.partition(":")
        if (not sep or not value) and key != "no-new-privileges":
            raise OptError(f'Invalid --security-opt: "{opt}"')
        if key == "seccomp" and value not in ("builtin", "unconfined"):
            try:
                with open(value, "rb") as handle:
                    profile = json.loads(handle.read())
            except OSError as exc:
                raise OptError(
                    f"opening seccomp profile ({value}) failed: open {value}: "
                    f"{(exc.strerror or str(exc)).lower()}"
                ) from None
            except ValueError as exc:
                raise OptError(
                    f"compacting json for seccomp profile ({value}) failed: {exc}"
                ) from None
            opt = "seccomp=" + json.dumps(profile, separators=(",", ":"))
        result.append(opt)
    return result


# --- files of KEY=value lines -----------------------------------------------------------


def read_kv_file(
    path: str, lookup: Callable[[str], str | None] | None
) -> list[str]:
    """An env or label file: `KEY=value` lines as they are, bare keys looked up with
    `lookup` (dropped when it finds nothing, or when there is no lookup)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise OptError(f"open {path}: {(exc.strerror or str(exc)).lower()}") from None
    entries = []
    for number, line_bytes in enumerate(raw.splitlines(), start=1):
        try:
            line = line_bytes.decode("utf-8")
        except UnicodeDecodeError:
            raise OptError(
                f"invalid env file ({path}): invalid utf8 bytes at line {number}: "
                f"[{' '.join(str(b) for b in line_bytes)}]"
            ) from None
        if number == 1:
            line = line.removeprefix("\ufeff")
        text = line.lstrip()
        if not text or text.startswith("#"):
            continue
        key, sep, _ = text.partition("=")
        if not key:
            raise OptError(f"invalid env file ({path}): no variable name on line '{text}'")
        if any(ch in key for ch in " \t"):
            raise OptError(f"invalid env file ({path}): variable '{key}' contains whitespaces")
        if sep:
            entries.append(text)
        elif lookup is not None:
            found = lookup(text)
            if found is not None:
                entries.append(f"{key}={found}")
    return entries


def read_env(files: list[str], overrides: list[str], environ: Mapping[str, str]) -> list[str]:
    """Environment from --env-file files then -e flags (already validated)."""
    out: list[str] = []
    for path in files:
        out += read_kv_file(path, environ.get)
    return out + list(overrides)


def read_labels(files: list[str], overrides: list[str]) -> list[str]:
    out: list[str] = []
    for path in files:
        out += read_kv_file(path, None)
    return out + list(overrides)


def kv_map(values: list[str]) -> dict[str, str]:
    result: dict[str, str] = {}
    for value in values:
        key, _, val = value.partition("=")
        result[key] = val
    return result


# --- ports (go-connections/nat) ------------------------------------------------------


def port_range(text: str) -> tuple[int, int]:
    """nat.ParsePortRange; raises OptError with strconv's or the range message."""
    if text == "":
        raise OptError("empty string specified for ports")
    if "-" not in text:
        value = go_uint(text, 16)
        return value, value
    parts = text.split("-")
    start = go_uint(parts[0], 16)
    end = go_uint(parts[1], 16)
    if end < start:
        raise OptError(f"invalid range specified for port: {text}")
    return start, end


def split_proto_port(raw: str) -> tuple[str, str]:
    parts = raw.split("/")
    if not raw or not parts[0]:
        return "", ""
    if len(parts) == 1:
        return "tcp", raw
    if not parts[1]:
        return "tcp", parts[0]
    return parts[1], parts[0]


def publish_standard_notation(values: list[str]) -> list[str]:
    """`-p published=8080,target=80,protocol=udp` → `8080:80/udp`."""
    out = []
    for value in values:
        if "=" not in value:
            out.append(value)
            continue
        params = {"protocol": "tcp"}
        for param in value.split(","):
            key, sep, val = param.partition("=")
            if not sep or not key:
                raise OptError(
                    f"invalid publish opts format (should be name=value but got '{param}')"
                )
            params[key] = val
        out.append(f"{params.get('published', '')}:{params.get('target', '')}/{params['protocol']}")
    return out


def parse_port_specs(
    specs: list[str],
) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, str]]]]:
    """nat.ParsePortSpecs: (ExposedPorts, PortBindings) for `-p` values."""
    exposed: dict[str, dict[str, Any]] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for spec in specs:
        for port, binding in parse_port_spec(spec):
            exposed.setdefault(port, {})
            bindings.setdefault(port, []).append(binding)
    return exposed, bindings


def parse_port_spec(raw: str) -> list[tuple[str, dict[str, str]]]:
    parts = raw.split(":")
    container = parts[-1]
    if len(parts) == 1:
        ip, host = "", ""
    elif len(parts) == 2:
        ip, host = "", parts[0]
    elif len(parts) == 3:
        ip, host = parts[0], parts[1]
    else:
        ip, host = ":".join(parts[:-2]), parts[-2]
    proto, container = split_proto_port(container)
    if ip and ip[0] == "[":
        if not ip.endswith("]"):
            raise OptError(f"invalid IP address {ip}: address {ip}: missing ']' in address")
        ip = ip[1:-1]
    if ip and not is_ip(ip):
        raise OptError(f"invalid IP address: {ip}")
    if not container:
        raise OptError(f"no port specified: {raw}<empty>")
    try:
        start, end = port_range(container)
    except OptError:
        raise OptError(f"invalid containerPort: {container}") from None
    host_start = host_end = 0
    if host:
        try:
            host_start, host_end = port_range(host)
        except OptError:
            raise OptError(f"invalid hostPort: {host}") from None
    if host and (end - start) != (host_end - host_start) and end != start:
        raise OptError(
            f"invalid ranges specified for container and host Ports: {container} and {host}"
        )
    if proto.lower() not in ("tcp", "udp", "sctp"):
        raise OptError(f"invalid proto: {proto}")
    result = []
    for i in range(end - start + 1):
        host_port = host
        if host:
            host_port = str(host_start + i)
        if start == end and host_start != host_end:
            host_port = f"{host_port}-{host_end}"
        result.append((f"{start + i}/{proto.lower()}", {"HostIp": ip, "HostPort": host_port}))
    return result


def expose_ports(values: list[str]) -> list[str]:
    """`--expose 80`, `--expose 100-101/udp` → port keys."""
    out = []
    for value in values:
        if ":" in value:
            raise OptError(f"invalid port format for --expose: {value}")
        proto, port = split_proto_port(value)
        try:
            start, end = port_range(port)
        except OptError as exc:
            raise OptError(f"invalid range format for --expose: {value}, error: {exc}") from None
        out += [f"{p}/{proto}" for p in range(start, end + 1)]
    return out


# --- volumes and mounts --------------------------------------------------------------


def parse_volume(spec: str) -> dict[str, Any]:
    """compose's ParseVolume as `-v` uses it: {"Source", "Target", "Type", "ReadOnly"}."""
    volume: dict[str, Any] = {"Source": "", "Target": "", "Type": "", "ReadOnly": False}
    if not spec:
        raise OptError("invalid empty volume spec")
    if len(spec) <= 2:
        volume.update(Target=spec, Type="volume")
        return volume
    buffer = ""
    end = "\0"
    for char in spec + end:
        if char == ":" and len(buffer) == 1 and buffer.isalpha():
            buffer += char  # a Windows drive letter ("c:"), as Docker reads it
        elif char in (":", end):
            error = _volume_field(char, buffer, volume, end)
            if error:
                _volume_type(volume)
                raise OptError(f"invalid spec: {spec}: {error}")
            buffer = ""
        else:
            buffer += char
    _volume_type(volume)
    return volume


def _volume_field(char: str, buffer: str, volume: dict[str, Any], end: str) -> str:
    if not buffer:
        return "empty section between colons"
    if not volume["Source"] and char == end:
        volume["Target"] = buffer
        return ""
    if not volume["Source"]:
        volume["Source"] = buffer
        return ""
    if not volume["Target"]:
        volume["Target"] = buffer
        return ""
    if char == ":":
        return "too many colons"
    for option in buffer.split(","):
        if option == "ro":
            volume["ReadOnly"] = True
        elif option == "rw":
            volume["ReadOnly"] = False
    return ""


def _volume_type(volume: dict[str, Any]) -> None:
    source = volume["Source"]
    if not source:
        volume["Type"] = "volume"
    elif source[0] in "./~" or source.startswith("\\\\") or (
        len(source) > 1 and source[0].isalpha() and source[1] == ":"
    ):
        volume["Type"] = "bind"
    else:
        volume["Type"] = "volume"


def absolute_bind(spec: str, cwd: str | None = None) -> str:
    """`./rel:/x` → `/cwd/rel:/x`, as Docker's CLI sends relative bind sources."""
    host, sep, rest = spec.partition(":")
    if sep and not host.startswith("/") and host.startswith("."):
        base = cwd if cwd is not None else os.getcwd()
        host = os.path.normpath(os.path.join(base, host))
    return host + sep + rest


def _csv_fields(value: str) -> list[str]:
    import csv

    try:
        rows = list(csv.reader([value], strict=True))
    except csv.Error as exc:
        raise OptError(str(exc)) from None
    return rows[0] if rows else []


def _parse_bool(text: str) -> bool:
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ValueError(text)


def parse_mount(value: str, cwd: str | None = None) -> dict[str, Any]:
    """`--mount type=...,source=...,target=...` → a HostConfig.Mounts entry."""
    fields = _csv_fields(value)
    mount: dict[str, Any] = {"Type": "volume"}
    volume_options: dict[str, Any] | None = None
    bind_options: dict[str, Any] | None = None
    tmpfs_options: dict[str, Any] | None = None
    image_options: dict[str, Any] | None = None
    read_only = False
    source = target = consistency = ""

    def volume_opts() -> dict[str, Any]:
        nonlocal volume_options
        if volume_options is None:
            volume_options = {"NoCopy": False, "Labels": {}, "Subpath": "", "DriverConfig": {"Name": "", "Options": None}}
        return volume_options

    def bind_opts() -> dict[str, Any]:
        nonlocal bind_options
        if bind_options is None:
            bind_options = {}
        return bind_options

    def tmpfs_opts() -> dict[str, Any]:
        nonlocal tmpfs_options
        if tmpfs_options is None:
            tmpfs_options = {}
        return tmpfs_options

    for field in fields:
        key, sep, val = field.partition("=")
        key = key.lower()
        if not sep:
            if key in ("readonly", "ro"):
                read_only = True
            elif key == "volume-nocopy":
                volume_opts()["NoCopy"] = True
            elif key == "bind-nonrecursive":
                bind_opts()["NonRecursive"] = True
            else:
                raise OptError(f"invalid field '{field}' must be a key=value pair")
            continue
        if key == "type":
            mount["Type"] = val.lower()
        elif key in ("source", "src"):
            source = val
            if not val.startswith("/") and val.startswith("."):
                source = os.path.normpath(os.path.join(cwd or os.getcwd(), val))
        elif key in ("target", "dst", "destination"):
            target = val
        elif key in ("readonly", "ro"):
            try:
                read_only = _parse_bool(val)
            except ValueError:
                raise OptError(f"invalid value for {key}: {val}") from None
        elif key == "consistency":
            consistency = val.lower()
        elif key == "bind-propagation":
            bind_opts()["Propagation"] = val.lower()
        elif key == "bind-nonrecursive":
            try:
                bind_opts()["NonRecursive"] = _parse_bool(val)
            except ValueError:
                raise OptError(f"invalid value for {key}: {val}") from None
        elif key == "bind-recursive":
            if val == "enabled":
                pass
            elif val == "disabled":
                bind_opts()["NonRecursive"] = True
            elif val == "writable":
                bind_opts()["ReadOnlyNonRecursive"] = True
            elif val == "readonly":
                bind_opts()["ReadOnlyForceRecursive"] = True
            else:
                raise OptError(
                    f'invalid value for {key}: {val} (must be "enabled", "disabled", "writable", or "readonly")'
                )
        elif key == "volume-subpath":
            volume_opts()["Subpath"] = val
        elif key == "volume-nocopy":
            try:
                volume_opts()["NoCopy"] = _parse_bool(val)
            except ValueError:
                raise OptError(f"invalid value for volume-nocopy: {val}") from None
        elif key == "volume-label":
            k, _, v = val.partition("=")
            if k:
                volume_opts()["Labels"][k] = v
        elif key == "volume-driver":
            volume_opts()["DriverConfig"]["Name"] = val
        elif key == "volume-opt":
            options = volume_opts()["DriverConfig"]
            if options["Options"] is None:
                options["Options"] = {}
            k, _, v = val.partition("=")
            if k:
                options["Options"][k] = v
        elif key == "image-subpath":
            image_options = {"Subpath": val}
        elif key == "tmpfs-size":
            try:
                tmpfs_opts()["SizeBytes"] = ram_in_bytes(val)
            except OptError:
                raise OptError(f"invalid value for {key}: {val}") from None
        elif key == "tmpfs-mode":
            try:
                mode = int(val, 8)
                if mode < 0 or mode >= 1 << 32:
                    raise ValueError
            except ValueError:
                raise OptError(f"invalid value for {key}: {val}") from None
            tmpfs_opts()["Mode"] = mode
        else:
            raise OptError(f"unexpected key '{key}' in '{field}'")
    kind = mount["Type"]
    if not kind:
        raise OptError("type is required")
    if not target:
        raise OptError("target is required")
    if volume_options is not None and kind != "volume":
        raise OptError(f"cannot mix 'volume-*' options with mount type '{kind}'")
    if image_options is not None and kind != "image":
        raise OptError(f"cannot mix 'image-*' options with mount type '{kind}'")
    if bind_options is not None and kind != "bind":
        raise OptError(f"cannot mix 'bind-*' options with mount type '{kind}'")
    if tmpfs_options is not None and kind != "tmpfs":
        raise OptError(f"cannot mix 'tmpfs-*' options with mount type '{kind}'")
    if bind_options is not None:
        if bind_options.get("ReadOnlyNonRecursive") and not read_only:
            raise OptError(
                "option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction"
            )
        if bind_options.get("ReadOnlyForceRecursive"):
            if not read_only:
                raise OptError(
                    "option 'bind-recursive=readonly' requires 'readonly' to be specified in conjunction"
                )
            if bind_options.get("Propagation") != "rprivate":
                raise OptError(
                    "option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction"
                )
    # Key order and omitted empties follow Go's JSON encoding of mount.Mount.
    result: dict[str, Any] = {"Type": kind}
    if source:
        result["Source"] = source
    result["Target"] = target
    if read_only:
        result["ReadOnly"] = True
    if consistency:
        result["Consistency"] = consistency
    if bind_options is not None:
        result["BindOptions"] = {
            k: bind_options[k]
            for k in ("Propagation", "NonRecursive", "CreateMountpoint", "ReadOnlyNonRecursive", "ReadOnlyForceRecursive")
            if bind_options.get(k)
        }
    if volume_options is not None:
        vo: dict[str, Any] = {}
        if volume_options["NoCopy"]:
            vo["NoCopy"] = True
        if volume_options["Labels"]:
            vo["Labels"] = volume_options["Labels"]
        if volume_options["Subpath"]:
            vo["Subpath"] = volume_options["Subpath"]
        driver = volume_options["DriverConfig"]
        dc: dict[str, Any] = {}
        if driver["Name"]:
            dc["Name"] = driver["Name"]
        if driver["Options"]:
            dc["Options"] = driver["Options"]
        vo["DriverConfig"] = dc
        result["VolumeOptions"] = vo
    if image_options is not None:
        result["ImageOptions"] = {k: v for k, v in image_options.items() if v}
    if tmpfs_options is not None:
        result["TmpfsOptions"] = {k: tmpfs_options[k] for k in ("SizeBytes", "Mode") if tmpfs_options.get(k)}
    return result


# --- --network (simple and csv syntax) --------------------------------------------------


def parse_network(value: str) -> dict[str, Any]:
    """`--network name` or `--network name=n,alias=a,ip=...` → attachment options."""
    attachment: dict[str, Any] = {
        "Target": value,
        "Aliases": [],
        "DriverOpts": None,
        "Links": [],
        "IPv4Address": "",
        "IPv6Address": "",
        "LinkLocalIPs": [],
        "MacAddress": "",
        "GwPriority": 0,
    }
    if not re.search(r"\w+=\w+(,\w+=\w+)*", value):
        return attachment
    attachment["Target"] = ""
    for field in _csv_fields(value):
        key, sep, val = field.lower().partition("=")
        if not sep or not key:
            raise OptError(f"invalid field {field}")
        key, val = key.strip(), val.strip()
        if key == "name":
            attachment["Target"] = val
        elif key == "alias":
            attachment["Aliases"].append(val)
        elif key == "ip":
            attachment["IPv4Address"] = val
        elif key == "ip6":
            attachment["IPv6Address"] = val
        elif key == "mac-address":
            attachment["MacAddress"] = val
        elif key == "link-local-ip":
            attachment["LinkLocalIPs"].append(val)
        elif key == "driver-opt":
            k, sep2, v = val.partition("=")
            if not sep2 or not k:
                raise OptError("invalid key value pair format in driver options")
            if attachment["DriverOpts"] is None:
                attachment["DriverOpts"] = {}
            attachment["DriverOpts"][k.strip()] = v.strip()
        elif key == "gw-priority":
            try:
                attachment["GwPriority"] = go_int(val)
            except OptError:
                raise OptError(f"invalid gw-priority ({val}): invalid syntax") from None
        else:
            raise OptError(f"invalid field key {key}")
    if not attachment["Target"]:
        raise OptError("network name/id is not specified")
    return attachment

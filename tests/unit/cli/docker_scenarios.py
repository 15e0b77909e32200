# SPDX-License-Identifier: Apache-2.0
"""Command lines replayed against both the docker CLI (record_docker.py) and ours
(test_cli_docker_parity.py), each with the daemon answers it needs.

A scenario is a command line, the routes of a ScriptedEngine, optional stdin, files to
put in the working directory, and environment. What docker sent and printed for it is
in docker_recordings.json; our CLI must send the same requests (method, path, query,
body) and print the same, with `dockyard` in place of `docker`.
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CID = "c0ffee" + "0" * 52 + "123456"
CID2 = "beef" + "1" * 60
EXEC_ID = "e" * 64
IMAGE_ID = "sha256:" + "a" * 64


@dataclass
class Scenario:
    name: str
    args: list[str]
    routes: dict[str, Any] = field(default_factory=dict)
    stdin: bytes = b""
    files: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    # Query keys whose values depend on the clock (compared for presence only).
    volatile: tuple[str, ...] = ()
    # Requests may come in any order (docker runs some verbs in parallel).
    unordered: bool = False
    capture_files: bool = False
    # Known, intended differences: skip comparing these parts.
    skip: tuple[str, ...] = ()


def inspect_json(**overrides: Any) -> dict[str, Any]:
    """A container's inspect answer; `overrides` replace top-level or nested keys (a.b=..)."""
    data: dict[str, Any] = {
        "Id": CID,
        "Created": "2024-01-02T03:04:05.000000000Z",
        "Path": "sh",
        "Args": [],
        "State": {
            "Status": "running",
            "Running": True,
            "Paused": False,
            "Restarting": False,
            "OOMKilled": False,
            "Dead": False,
            "Pid": 4242,
            "ExitCode": 0,
            "Error": "",
            "StartedAt": "2024-01-02T03:04:06.000000000Z",
            "FinishedAt": "0001-01-01T00:00:00Z",
        },
        "Image": IMAGE_ID,
        "Name": "/web",
        "RestartCount": 0,
        "Config": {
            "Hostname": "c0ffee000000",
            "User": "",
            "AttachStdin": False,
            "AttachStdout": True,
            "AttachStderr": True,
            "Tty": False,
            "OpenStdin": False,
            "StdinOnce": False,
            "Env": ["PATH=/usr/bin"],
            "Cmd": ["sh"],
            "Image": "busybox",
            "Labels": {},
        },
        "HostConfig": {"AutoRemove": False, "NetworkMode": "bridge"},
        "NetworkSettings": {
            "Ports": {
                "80/tcp": [
                    {"HostIp": "0.0.0.0", "HostPort": "8080"},
                    {"HostIp": "::", "HostPort": "8080"},
                ],
                "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "5353"}],
                "443/tcp": None,
                "9000/tcp": [{"HostIp": "", "HostPort": "32768"}],
            },
        },
    }
    for key, value in overrides.items():
        target = data
        parts = key.split("__")
        for part in parts[:-1]:
            target = target[part]
        target[parts[-1]] = value
    return data


def ok(json_body: Any = None, status: int = 200) -> dict[str, Any]:
    if json_body is None:
        return {"status": 204 if status == 200 else status, "body": b""}
    return {"status": status, "json": json_body}


def err(status: int, message: str) -> dict[str, Any]:
    return {"status": status, "message": message}


CREATED = {"POST /containers/create": ok({"Id": CID, "Warnings": []}, 201)}
INSPECT = {"GET /containers/*/json": ok(inspect_json())}


def _create(name: str, *flags: str, image: str = "busybox", cmd: tuple[str, ...] = (), **kw: Any) -> Scenario:
    routes = dict(CREATED)
    routes.update(kw.pop("routes", {}))
    return Scenario(name, ["create", *flags, image, *cmd], routes, **kw)


# --- create / run flags --------------------------------------------------------------

CREATE_SCENARIOS = [
    _create("create/plain"),
    _create("create/it", "-it", cmd=("sh",)),
    _create("create/i", "-i"),
    _create("create/t", "-t"),
    _create("create/attach-stdin-tty", "-a", "stdin", "-t"),
    _create("create/attach-out-err", "-a", "stdout", "-a", "STDERR"),
    _create(
        "create/common",
        "--name", "web", "-e", "A=1", "-e", "B", "-e", "UNSET_Q", "--env", "C=x=y", "-w", "/tmp",
        "-u", "1000:1000", "--entrypoint", "/bin/sh", "-l", "x=y", "--label", "z",
        "--hostname", "h", "--restart", "on-failure:3", "--group-add", "10", "--group-add", "audio",
        cmd=("-c", "echo hi"),
        env={"B": "7"},
    ),
    _create("create/rm-i-tag", "--rm", "-i", image="busybox:1.36"),
    _create("create/entrypoint-empty", "--entrypoint", ""),
    _create("create/entrypoint-eq-empty", "--entrypoint="),
    _create("create/restart-always", "--restart", "always"),
    _create("create/restart-unless-stopped", "--restart=unless-stopped"),
    _create("create/restart-no", "--restart", "no"),
    _create("create/restart-on-failure", "--restart", "on-failure"),
    _create("create/restart-bad", "--restart", "sometimes"),
    _create("create/restart-bad-count", "--restart", "on-failure:x"),
    _create("create/restart-always-count", "--restart", "always:3"),
    _create("create/restart-rm", "--rm", "--restart", "always"),
    _create(
        "create/security",
        "--privileged", "--init", "--stop-signal", "SIGINT", "--stop-timeout", "5",
        "--cap-add", "NET_ADMIN", "--cap-add", "cap_sys_time", "--cap-drop", "ALL", "--read-only",
        "--security-opt", "no-new-privileges", "--security-opt", "apparmor=unconfined",
        "--security-opt", "label:disable",
    ),
    _create("create/security-bad", "--security-opt", "seccomp"),
    _create("create/systempaths", "--security-opt", "systempaths=unconfined"),
    _create("create/init-false", "--init=false"),
    _create("create/stop-timeout-zero", "--stop-timeout", "0"),
    _create(
        "create/resources",
        "-m", "64m", "--memory-swap", "128m", "--memory-reservation", "32m", "--cpus", "1.5",
        "--cpu-shares", "512", "--cpuset-cpus", "0-1", "--cpuset-mems", "0", "--pids-limit", "100",
        "--shm-size", "128m", "--oom-kill-disable", "--memory-swappiness", "10",
        "--cpu-period", "100000", "--cpu-quota", "50000", "--oom-score-adj", "100",
        "--blkio-weight", "300",
    ),
    _create("create/memory-swap-unlimited", "-m", "1g", "--memory-swap", "-1"),
    _create("create/memory-bad", "-m", "lots"),
    _create("create/memory-bad-suffix", "-m", "12x"),
    _create("create/cpus-bad", "--cpus", "abc"),
    _create("create/cpus-precise", "--cpus", "0.0000000001"),
    _create("create/swappiness-bad", "--memory-swappiness", "101"),
    _create("create/pids-bad", "--pids-limit", "many"),
    _create(
        "create/ulimits",
        "--ulimit", "nproc=10", "--ulimit", "nofile=1024:2048", "--ulimit", "core=-1",
    ),
    _create("create/ulimit-bad", "--ulimit", "nofile"),
    _create("create/ulimit-bad-type", "--ulimit", "bogus=1"),
    _create("create/ulimit-soft-hard", "--ulimit", "nofile=10:5"),
    _create("create/tmpfs", "--tmpfs", "/run:size=1m,mode=1777", "--tmpfs", "/tmp"),
    _create(
        "create/devices",
        "--device", "/dev/fuse", "--device", "/dev/sda:/dev/xvda:r", "--device", "/dev/null:rw",
        "--device-cgroup-rule", "c 1:3 mr",
    ),
    _create("create/device-bad", "--device", "/dev/sda:/dev/xvda:x"),
    _create("create/device-relative", "--device", "/dev/sda:xvda"),
    _create(
        "create/sysctls", "--sysctl", "net.ipv4.ip_forward=1", "--sysctl", "kernel.shmmax=100",
    ),
    _create("create/sysctl-bad", "--sysctl", "vm.swappiness=1"),
    _create(
        "create/logging",
        "--log-driver", "json-file", "--log-opt", "max-size=1m", "--log-opt", "max-file=3",
    ),
    _create("create/log-none-opts", "--log-driver", "none", "--log-opt", "max-size=1m"),
    _create(
        "create/health",
        "--health-cmd", "curl -f http://localhost/ || exit 1", "--health-interval", "30s",
        "--health-timeout", "1m30s", "--health-retries", "3", "--health-start-period", "500ms",
        "--health-start-interval", "2s",
    ),
    _create("create/health-interval-only", "--health-interval", "5s"),
    _create("create/no-healthcheck", "--no-healthcheck"),
    _create("create/no-healthcheck-conflict", "--no-healthcheck", "--health-cmd", "true"),
    _create("create/health-bad-duration", "--health-interval", "5"),
    _create("create/health-negative", "--health-retries", "-1"),
    _create("create/platform", "--platform", "linux/amd64"),
    _create("create/platform-bad", "--platform", "linux/amd64/v9/x"),
    _create("create/pull-bad", "--pull", "sometimes"),
    _create("create/namespaces", "--ipc", "host", "--pid", "host", "--uts", "host", "--userns", "host", "--cgroupns", "private"),
    _create("create/pid-bad", "--pid", "bogus"),
    _create("create/domainname", "--domainname", "example.org", "--hostname", "web"),
    _create("create/misc", "--runtime", "runc", "--cgroup-parent", "/mine", "--isolation", "default", "--annotation", "a=b", "--storage-opt", "size=1G"),
    _create(
        "create/env-file-label-file",
        "--env-file", "envf", "--label-file", "envf", "-l", "a", "-l", "b=c", "-e", "X=2",
        files={"envf": "X=1\n# c\nY\n\n  Z=a b\nHOME\n"},
        env={"Y": "from-env"},
    ),
    _create("create/env-file-missing", "--env-file", "nope"),
    _create("create/env-file-space", "--env-file", "bad", files={"bad": "BAD NAME=1\n"}),
    _create("create/env-bad", "-e", "=x"),
    _create("create/label-bad", "-l", "=x"),
    _create("create/label-space", "-l", "a b=c"),
    _create("create/args-after-image", cmd=("-it", "ls", "--rm")),
    _create("create/cidfile", "--cidfile", "cid", capture_files=True),
    _create("create/cidfile-exists", "--cidfile", "cid", files={"cid": "old"}),
    _create("create/attach-bad", "-a", "stdio"),
    _create("create/mac", "--mac-address", "92:d0:c6:0a:29:33"),
    _create("create/mac-bad", "--mac-address", "92:d0:c6"),
    _create(
        "create/gpus-and-blkio-device",
        "--blkio-weight-device", "/dev/sda:200", "--device-read-bps", "/dev/sda:1mb",
        "--device-write-iops", "/dev/sda:100",
    ),
    _create("create/warnings", routes={"POST /containers/create": ok({"Id": CID, "Warnings": ["careful", "very"]}, 201)}),
    _create("create/localhost-dns", "--dns", "127.0.0.53"),
    _create("create/name-conflict", "--name", "web", routes={"POST /containers/create": err(409, 'Conflict. The container name "/web" is already in use by container "abc". You have to remove (or rename) that container to be able to reuse that name.')}),
    _create("create/bad-image-ref", image="Bad:Ref"),
    _create(
        "create/no-such-image-never",
        "--pull", "never",
        routes={"POST /containers/create": err(404, "No such image: busybox:latest")},
    ),
]

# --- network flags -------------------------------------------------------------------

NETWORK_SCENARIOS = [
    _create(
        "net/publish",
        "-p", "8080:80", "-p", "127.0.0.1:5000:5000/udp", "-p", "7000-7001:7000-7001", "-p", "80",
        "-p", "127.0.0.1::81", "-p", "9000-9002:90", "-p", "[::1]:6000:6000", "-p", "53:53/UDP",
        "-p", "2000-2001:3000-3001/sctp", "-P",
    ),
    _create("net/publish-long-syntax", "-p", "published=8080,target=80", "-p", "target=53,protocol=udp"),
    _create("net/publish-long-bad", "-p", "published=8080,target"),
    _create("net/publish-bad-format", "-p", "a:b:c:d"),
    _create("net/publish-bad-port", "-p", "x"),
    _create("net/publish-bad-host-port", "-p", "x:80"),
    _create("net/publish-bad-range", "-p", "1000-1002:80-81"),
    _create("net/publish-bad-proto", "-p", "80/xyz"),
    _create("net/publish-bad-ip", "-p", "1.2.3:80:80"),
    _create("net/publish-empty", "-p", "8080:"),
    _create("net/publish-reverse-range", "-p", "90-80"),
    _create("net/publish-too-big", "-p", "70000"),
    _create("net/expose", "--expose", "9000", "--expose", "100-101/udp", "-p", "9000:9000"),
    _create("net/expose-bad", "--expose", "80:80"),
    _create("net/expose-bad-range", "--expose", "a-b"),
    _create("net/network-user", "--network", "net1", "--network-alias", "a1", "--network-alias", "a2", "--ip", "10.0.0.5", "--ip6", "fd00::5", "--link", "db:db"),
    _create("net/network-user-plain", "--network", "net1"),
    _create("net/net-host", "--net", "host", cmd=("ls", "-l")),
    _create("net/network-host", "--network", "host"),
    _create("net/network-bridge", "--network", "bridge"),
    _create("net/network-default", "--network", "default"),
    _create("net/network-none", "--network", "none"),
    _create("net/network-container", "--network", "container:abc"),
    _create("net/alias-on-bridge", "--network-alias", "a"),
    _create("net/link-on-bridge", "--link", "db:alias"),
    _create("net/ip-on-default", "--ip", "172.17.0.9"),
    _create("net/network-long-syntax", "--network", "name=net1,alias=x,alias=y,ip=10.0.0.7,driver-opt=com.x=1"),
    _create("net/network-two", "--network", "net1", "--network", "net2"),
    _create("net/network-mixed", "--network", "host", "--network", "net2"),
    _create("net/network-mac", "--network", "net1", "--mac-address", "92:d0:c6:0a:29:33"),
    _create(
        "net/add-host",
        "--add-host", "h:1.2.3.4", "--add-host", "gw=host-gateway", "--add-host", "v6:[::1]",
        "--add-host", "six:fe80::1",
    ),
    _create("net/add-host-bad", "--add-host", "nohost"),
    _create("net/add-host-bad-ip", "--add-host", "h:999.1.1.1"),
    _create(
        "net/dns",
        "--dns", "8.8.8.8", "--dns", "2001:4860::8888", "--dns-search", "x.org", "--dns-search", ".",
        "--dns-option", "ndots:2", "--dns-opt", "timeout:1",
    ),
    _create("net/dns-bad", "--dns", "dns.google"),
    _create("net/dns-search-bad", "--dns-search", "-bad-"),
]

# --- volume flags --------------------------------------------------------------------

VOLUME_SCENARIOS = [
    _create(
        "vol/v",
        "-v", "vol:/data", "-v", "/host:/c:ro", "-v", "/anon", "-v", "./rel:/r",
        "-v", "../up:/u:rw,z", "-v", ".:/dot", "-v", "named:/n:nocopy",
        "-v", "~/home:/h",
    ),
    _create("vol/v-duplicate", "-v", "/anon", "-v", "/anon", "-v", "a:/x", "-v", "a:/x"),
    _create("vol/v-too-many-colons", "-v", "a:b:c:d"),
    _create("vol/v-empty-section", "-v", "a::b"),
    _create("vol/v-short", "-v", "ab"),
    _create(
        "vol/mount",
        "--mount", "type=volume,source=v1,target=/data,volume-label=a=b,volume-driver=local,volume-opt=o=x,volume-nocopy,volume-subpath=sub",
        "--mount", "type=bind,src=./here,dst=/h,readonly,bind-propagation=rslave",
        "--mount", "type=bind,source=/abs,target=/abs,bind-recursive=disabled",
        "--mount", "type=tmpfs,destination=/t,tmpfs-size=64m,tmpfs-mode=1770",
        "--mount", "target=/anon",
        "--mount", "type=volume,target=/ro,ro=true,consistency=cached",
    ),
    _create("vol/mount-no-target", "--mount", "type=bind,source=/x"),
    _create("vol/mount-bad-key", "--mount", "type=bind,source=/x,target=/y,colour=red"),
    _create("vol/mount-bad-field", "--mount", "type=bind,source=/x,target=/y,rw"),
    _create("vol/mount-mixed", "--mount", "type=bind,source=/x,target=/y,volume-nocopy"),
    _create("vol/mount-bad-size", "--mount", "type=tmpfs,target=/y,tmpfs-size=big"),
    _create("vol/mount-bad-readonly", "--mount", "type=bind,source=/x,target=/y,readonly=maybe"),
    _create("vol/mount-csv-quotes", "--mount", '"type=bind","source=/a,b",target=/c'),
    _create("vol/volumes-from", "--volumes-from", "other", "--volumes-from", "third:ro"),
    _create("vol/volume-driver", "--volume-driver", "local", "-v", "x:/x"),
]


# --- run ---------------------------------------------------------------------------

def _run_routes(frames: list[Any], status: int = 0, tty: bool = False, stdin: bool = False, **extra: Any) -> dict[str, Any]:
    routes = {
        **CREATED,
        "POST /containers/*/attach": {"hijack": True, "frames": frames, "tty": tty, "stdin": stdin},
        "POST /containers/*/wait": ok({"StatusCode": status, "Error": None}),
        "POST /containers/*/start": ok(),
    }
    routes.update(extra)
    return routes


DETACHED = {**CREATED, "POST /containers/*/wait": ok({"StatusCode": 0}), "POST /containers/*/start": ok()}

RUN_SCENARIOS = [
    Scenario("run/detach", ["run", "-d", "busybox"], DETACHED),
    Scenario("run/detach-name", ["run", "-d", "--name", "web", "-p", "80:80", "busybox", "sleep", "9"], DETACHED),
    Scenario("run/detach-it", ["run", "-dit", "busybox", "sh"], DETACHED),
    Scenario("run/detach-rm", ["run", "-d", "--rm", "busybox"], DETACHED),
    Scenario("run/detach-start-fails", ["run", "-d", "busybox", "nope"], {**DETACHED, "POST /containers/*/start": err(400, 'failed to create task for container: exec: "nope": executable file not found in $PATH: unknown')}),
    Scenario("run/echo", ["run", "--rm", "busybox", "echo", "hi"], _run_routes([[1, "hi\n"]])),
    Scenario("run/exit-status", ["run", "busybox", "sh", "-c", "exit 3"], _run_routes([[1, "out\n"], [2, "err\n"]], status=3)),
    Scenario("run/stdin", ["run", "-i", "busybox", "cat"], _run_routes([["stdin", ""]], stdin=True), stdin=b"hello\nworld\n"),
    Scenario("run/attach-stdout", ["run", "-a", "stdout", "busybox"], _run_routes([[1, "o\n"]])),
    Scenario("run/attach-stdin-only", ["run", "-a", "stdin", "-i", "busybox", "cat"], _run_routes([], stdin=True), stdin=b"in\n"),
    Scenario("run/detach-attach-conflict", ["run", "-d", "-a", "stdout", "busybox"], dict(CREATED)),
    Scenario("run/tty-not-terminal", ["run", "-it", "busybox"], dict(CREATED)),
    Scenario("run/tty-no-stdin", ["run", "-t", "busybox", "echo", "x"], _run_routes([[1, "x\r\n"]], tty=True)),
    Scenario(
        "run/start-fails-127",
        ["run", "busybox", "nope"],
        _run_routes([], **{"POST /containers/*/start": err(400, 'failed to create task for container: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "nope": executable file not found in $PATH: unknown')}),
    ),
    Scenario(
        "run/start-fails-126",
        ["run", "busybox", "/etc"],
        _run_routes([], **{"POST /containers/*/start": err(400, "failed to create task for container: OCI runtime create failed: runc create failed: unable to start container process: exec: \"/etc\": permission denied: unknown")}),
    ),
    Scenario(
        "run/pull-missing",
        ["run", "--rm", "alpine", "true"],
        _run_routes(
            [],
            **{
                "POST /containers/create": [err(404, "No such image: alpine:latest"), ok({"Id": CID, "Warnings": []}, 201)],
                "POST /images/create": {
                    "status": 200,
                    "chunks": [
                        {"status": "Pulling from library/alpine", "id": "latest"},
                        {"status": "Pulling fs layer", "id": "aaaa"},
                        {"status": "Pull complete", "id": "aaaa"},
                        {"status": "Digest: sha256:" + "0" * 64},
                        {"status": "Status: Downloaded newer image for alpine:latest"},
                    ],
                },
            },
        ),
    ),
    Scenario(
        "run/pull-always-quiet",
        ["run", "-d", "--pull", "always", "-q", "--platform", "linux/arm64", "alpine:3"],
        {
            **DETACHED,
            "POST /images/create": {"status": 200, "chunks": [{"status": "Status: Image is up to date for alpine:3"}]},
        },
    ),
    Scenario(
        "run/pull-never-missing",
        ["run", "--pull", "never", "alpine"],
        {"POST /containers/create": err(404, "No such image: alpine:latest")},
    ),
    Scenario(
        "run/cidfile",
        ["run", "-d", "--cidfile", "out/cid", "busybox"],
        DETACHED,
        files={"out/.keep": ""},
        capture_files=True,
    ),
    Scenario("run/wait-error", ["run", "busybox", "true"], _run_routes([], **{"POST /containers/*/wait": ok({"StatusCode": 0, "Error": {"Message": "boom"}})}), skip=("stderr",)),
    Scenario("run/name-conflict", ["run", "--name", "web", "busybox"], {"POST /containers/create": err(409, 'Conflict. The container name "/web" is already in use by container "abc". You have to remove (or rename) that container to be able to reuse that name.')}),
    Scenario("run/bad-flag-value", ["run", "-p", "x", "busybox"], {}),
    Scenario("run/unknown-flag", ["run", "--bogus", "busybox"], {}),
    Scenario("run/no-image", ["run"], {}),
    Scenario("run/detach-keys", ["run", "--detach-keys", "ctrl-a,a", "--sig-proxy=false", "busybox", "true"], _run_routes([])),
    Scenario("run/long-form", ["container", "run", "--rm", "busybox", "echo", "hi"], _run_routes([[1, "hi\n"]])),
]


# --- lifecycle verbs -------------------------------------------------------------------

LIFECYCLE_SCENARIOS = [
    Scenario("start/two", ["start", "web", "db"], {"POST /containers/*/start": ok()}),
    Scenario("start/fail", ["start", "web", "ghost", "db"], {"POST /containers/web/start": ok(), "POST /containers/db/start": ok(), "POST /containers/ghost/start": err(404, "No such container: ghost")}),
    Scenario("start/attach", ["start", "-a", "web"], {**INSPECT, "POST /containers/*/attach": {"hijack": True, "frames": [[1, "o\n"], [2, "e\n"]]}, "POST /containers/*/wait": ok({"StatusCode": 4}), "POST /containers/*/start": ok()}),
    Scenario("start/attach-interactive", ["start", "-ai", "--detach-keys", "ctrl-x,x", "web"], {"GET /containers/*/json": ok(inspect_json(Config__OpenStdin=True)), "POST /containers/*/attach": {"hijack": True, "frames": [["stdin", ""]], "stdin": True}, "POST /containers/*/wait": ok({"StatusCode": 0}), "POST /containers/*/start": ok()}, stdin=b"abc\n"),
    Scenario("start/attach-many", ["start", "-a", "web", "db"], {}),
    Scenario("stop/plain", ["stop", "web"], {"POST /containers/*/stop": ok()}),
    Scenario("stop/options", ["stop", "-t", "3", "-s", "SIGINT", "web"], {"POST /containers/*/stop": ok()}),
    Scenario("stop/time-zero", ["stop", "--time", "0", "web"], {"POST /containers/*/stop": ok()}),
    Scenario("stop/errors", ["stop", "web", "ghost"], {"POST /containers/web/stop": ok(), "POST /containers/ghost/stop": err(404, "No such container: ghost")}, unordered=True),
    Scenario("restart/options", ["restart", "-t", "0", "web", "db"], {"POST /containers/*/restart": ok()}),
    Scenario("restart/signal", ["restart", "--signal", "SIGKILL", "web"], {"POST /containers/*/restart": ok()}),
    Scenario("kill/plain", ["kill", "web"], {"POST /containers/*/kill": ok()}),
    Scenario("kill/signal", ["kill", "-s", "HUP", "web", "db"], {"POST /containers/*/kill": ok()}, unordered=True),
    Scenario("kill/not-running", ["kill", "web"], {"POST /containers/*/kill": err(409, "Cannot kill container: web: Container c0ffee is not running")}),
    Scenario("rm/plain", ["rm", "web"], {"DELETE /containers/web": ok()}),
    Scenario("rm/force-volumes", ["rm", "-fv", "web", "ghost"], {"DELETE /containers/web": ok(), "DELETE /containers/ghost": err(404, "No such container: ghost")}, unordered=True),
    Scenario("rm/errors", ["rm", "web", "ghost"], {"DELETE /containers/web": err(409, "cannot remove container \"/web\": container is running: stop the container before removing or force remove"), "DELETE /containers/ghost": err(404, "No such container: ghost")}, unordered=True),
    Scenario("rm/link", ["rm", "--link", "/web/db"], {"DELETE /containers/web/db": ok()}),
    Scenario("rm/empty-name", ["rm", "/"], {}),
    Scenario("pause/two", ["pause", "web", "db"], {"POST /containers/*/pause": ok()}, unordered=True),
    Scenario("pause/fail", ["pause", "web"], {"POST /containers/*/pause": err(409, "container c0ffee is not running")}),
    Scenario("unpause/one", ["unpause", "web"], {"POST /containers/*/unpause": ok()}),
    Scenario("wait/two", ["wait", "web", "db"], {"POST /containers/web/wait": ok({"StatusCode": 0}), "POST /containers/db/wait": ok({"StatusCode": 137})}),
    Scenario("wait/missing", ["wait", "ghost", "web"], {"POST /containers/ghost/wait": err(404, "No such container: ghost"), "POST /containers/web/wait": ok({"StatusCode": 2})}),
    Scenario("rename/ok", ["rename", "web", "site"], {"POST /containers/web/rename": ok()}),
    Scenario("rename/fail", ["rename", "web", "db"], {"POST /containers/web/rename": err(409, 'Conflict. The container name "/db" is already in use by container "x". You have to remove (or rename) that container to be able to reuse that name.')}),
    Scenario("rename/empty", ["rename", "web", " "], {}),
    Scenario("rename/args", ["rename", "web"], {}),
]


# --- ps ------------------------------------------------------------------------------

PS_ROWS = [
    {
        "Id": CID,
        "Names": ["/web"],
        "Image": "nginx:latest",
        "ImageID": IMAGE_ID,
        "Command": "/docker-entrypoint.sh nginx -g 'daemon off;'",
        "Created": 1704164645,
        "Ports": [
            {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
            {"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
            {"PrivatePort": 443, "Type": "tcp"},
        ],
        "SizeRw": 1234,
        "SizeRootFs": 187654321,
        "Labels": {"com.example.app": "web", "tier": "front"},
        "State": "running",
        "Status": "Up 2 hours",
        "HostConfig": {"NetworkMode": "bridge"},
        "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.2"}}},
        "Mounts": [{"Type": "volume", "Name": "0123456789abcdef0123", "Source": "/var/lib/x", "Destination": "/data", "Driver": "local", "RW": True}],
    },
    {
        "Id": CID2,
        "Names": ["/db", "/web/db"],
        "Image": "sha256:" + "b" * 64,
        "ImageID": "sha256:" + "b" * 64,
        "Command": "sh",
        "Created": 1704164000,
        "Ports": [],
        "Labels": {},
        "State": "exited",
        "Status": "Exited (137) 5 minutes ago",
        "HostConfig": {"NetworkMode": "none"},
        "NetworkSettings": {"Networks": {}},
        "Mounts": [],
    },
]

# RunningFor depends on the clock: these formats leave it out.
PS_SCENARIOS = [
    Scenario("ps/quiet", ["ps", "-q"], {"GET /containers/json": ok(PS_ROWS)}),
    Scenario("ps/quiet-all-notrunc", ["ps", "-aq", "--no-trunc"], {"GET /containers/json": ok(PS_ROWS)}),
    Scenario("ps/filters", ["ps", "-a", "--filter", "status=exited", "-f", "label=a=b", "-f", "name=web", "--filter", "Exited=0", "-f", "ancestor=busybox", "-f", "health=healthy", "-f", "before=x", "-f", "since=y", "-f", "id=abc", "-q"], {"GET /containers/json": ok([])}),
    Scenario("ps/filter-bad", ["ps", "--filter", "nonsense"], {}),
    Scenario("ps/last", ["ps", "-n", "3", "-q"], {"GET /containers/json": ok([])}),
    Scenario("ps/latest", ["ps", "-l", "-q"], {"GET /containers/json": ok([])}),
    Scenario("ps/size-format", ["ps", "--format", "{{.Names}} {{.Size}}"], {"GET /containers/json": ok(PS_ROWS)}),
    Scenario("ps/size-flag-false-format", ["ps", "--size=false", "--format", "{{.Size}}"], {"GET /containers/json": ok(PS_ROWS)}),
    Scenario("ps/format-table", ["ps", "--format", "table {{.ID}}\\t{{.Image}}\\t{{.Command}}\\t{{.Status}}\\t{{.Ports}}\\t{{.Names}}"], {"GET /containers/json": ok(PS_ROWS)}),
    Scenario("ps/format-table-notrunc", ["ps", "--no-trunc", "--format", "table {{.ID}}\\t{{.Image}}\\t{{.Command}}\\t{{.Names}}\\t{{.Mounts}}"], {"GET /containers/json": ok(PS_ROWS)}),
    Scenario("ps/format-fields", ["ps", "--format", "{{.ID}}|{{.State}}|{{.Labels}}|{{.Label \"tier\"}}|{{.Networks}}|{{.Mounts}}|{{.LocalVolumes}}|{{.Names}}|{{.Image}}"], {"GET /containers/json": ok(PS_ROWS)}),
    Scenario("ps/format-json", ["ps", "--format", "json"], {"GET /containers/json": ok(PS_ROWS)}, skip=("stdout",)),
    Scenario("ps/format-quiet-warning", ["ps", "-q", "--format", "{{.Names}}"], {"GET /containers/json": ok(PS_ROWS)}),
    Scenario("ps/format-bad", ["ps", "--format", "{{.Nope}}"], {}),
    Scenario("ps/format-unclosed", ["ps", "--format", "{{.ID"], {}),
    Scenario("ps/size-table", ["ps", "-s", "--format", "table {{.Names}}\\t{{.Size}}"], {"GET /containers/json": ok(PS_ROWS)}),
    Scenario("ps/args", ["ps", "extra"], {}),
    Scenario("ps/ports-order", ["ps", "--format", "{{.Ports}}"], {"GET /containers/json": ok([{**PS_ROWS[1], "Ports": [
        {"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
        {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 9090, "Type": "tcp"},
        {"IP": "0.0.0.0", "PrivatePort": 7001, "PublicPort": 7001, "Type": "tcp"},
        {"IP": "0.0.0.0", "PrivatePort": 7000, "PublicPort": 7000, "Type": "tcp"},
        {"IP": "0.0.0.0", "PrivatePort": 7003, "PublicPort": 7003, "Type": "udp"},
        {"PrivatePort": 53, "Type": "udp"},
        {"PrivatePort": 54, "Type": "udp"},
        {"IP": "127.0.0.1", "PrivatePort": 5000, "PublicPort": 5000, "Type": "tcp"},
    ]}])}),
    Scenario("ps/raw", ["ps", "--format", "raw"], {"GET /containers/json": ok([PS_ROWS[1]])}),
    Scenario("ps/long-form-ls", ["container", "ls", "-aq", "--filter", "label=a"], {"GET /containers/json": ok(PS_ROWS)}),
]


# --- logs ---------------------------------------------------------------------------

LOGS_SCENARIOS = [
    Scenario("logs/plain", ["logs", "web"], {**INSPECT, "GET /containers/*/logs": {"status": 200, "frames": [[1, "out\n"], [2, "err\n"]]}}),
    Scenario("logs/options", ["logs", "-f", "--tail", "5", "-t", "--details", "--since", "2024-01-02T03:04:05Z", "--until", "2024-01-02", "web"], {**INSPECT, "GET /containers/*/logs": {"status": 200, "frames": [[1, "a\n"]]}}),
    Scenario("logs/relative-since", ["logs", "--since", "10m", "-n", "2", "web"], {**INSPECT, "GET /containers/*/logs": {"status": 200, "frames": []}}, volatile=("since",)),
    Scenario("logs/unix-since", ["logs", "--since", "1704164645.5", "web"], {**INSPECT, "GET /containers/*/logs": {"status": 200, "frames": []}}),
    Scenario("logs/bad-since", ["logs", "--since", "yesterday", "web"], {**INSPECT}),
    Scenario("logs/tty", ["logs", "web"], {"GET /containers/*/json": ok(inspect_json(Config__Tty=True)), "GET /containers/*/logs": {"status": 200, "chunks": ["raw\r\nbytes\r\n"]}}),
    Scenario("logs/missing", ["logs", "ghost"], {"GET /containers/*/json": err(404, "No such container: ghost")}),
]


# --- exec ---------------------------------------------------------------------------

def _exec_routes(frames: list[Any], code: int = 0, stdin: bool = False, tty: bool = False, **extra: Any) -> dict[str, Any]:
    routes = {
        **INSPECT,
        "POST /containers/*/exec": ok({"Id": EXEC_ID}, 201),
        "POST /exec/*/start": {"hijack": True, "frames": frames, "stdin": stdin, "tty": tty},
        "GET /exec/*/json": ok({"ID": EXEC_ID, "Running": False, "ExitCode": code, "Pid": 1}),
    }
    routes.update(extra)
    return routes


EXEC_SCENARIOS = [
    Scenario("exec/plain", ["exec", "web", "echo", "hi"], _exec_routes([[1, "hi\n"]])),
    Scenario("exec/options", ["exec", "-u", "nobody", "-w", "/tmp", "-e", "A=1", "-e", "B", "--env-file", "envf", "--privileged", "web", "sh", "-c", "exit 3"], _exec_routes([[2, "bad\n"]], code=3), files={"envf": "F=1\n"}, env={"B": "2"}),
    Scenario("exec/interactive", ["exec", "-i", "web", "cat"], _exec_routes([["stdin", ""]], stdin=True), stdin=b"piped\n"),
    Scenario("exec/detach", ["exec", "-d", "web", "sleep", "10"], {**INSPECT, "POST /containers/*/exec": ok({"Id": EXEC_ID}, 201), "POST /exec/*/start": ok()}),
    Scenario("exec/detach-keys", ["exec", "--detach-keys", "ctrl-a,b", "web", "true"], _exec_routes([])),
    Scenario("exec/tty-not-terminal", ["exec", "-it", "web", "sh"], _exec_routes([])),
    Scenario("exec/tty-only", ["exec", "-t", "web", "ls"], _exec_routes([[1, "x\r\n"]], tty=True)),
    Scenario("exec/not-found", ["exec", "web", "nope"], _exec_routes([[1, 'OCI runtime exec failed: exec failed: unable to start container process: exec: "nope": executable file not found in $PATH: unknown\r\n']], code=126)),
    Scenario("exec/detach-fails", ["exec", "-d", "web", "nope"], {**INSPECT, "POST /containers/*/exec": ok({"Id": EXEC_ID}, 201), "POST /exec/*/start": err(400, 'OCI runtime exec failed: exec failed: unable to start container process: exec: "nope": executable file not found in $PATH: unknown')}),
    Scenario("exec/no-container", ["exec", "ghost", "true"], {"GET /containers/*/json": err(404, "No such container: ghost")}),
    Scenario("exec/not-running", ["exec", "web", "true"], {**INSPECT, "POST /containers/*/exec": err(409, "container c0ffee is not running")}),
    Scenario("exec/args", ["exec", "web"], {}),
]


# --- attach ---------------------------------------------------------------------------

ATTACH_SCENARIOS = [
    Scenario("attach/plain", ["attach", "web"], {**INSPECT, "POST /containers/*/wait": ok({"StatusCode": 0}), "POST /containers/*/attach": {"hijack": True, "frames": [[1, "o\n"], [2, "e\n"]]}}),
    Scenario("attach/stdin", ["attach", "--detach-keys", "ctrl-q", "web"], {"GET /containers/*/json": ok(inspect_json(Config__OpenStdin=True)), "POST /containers/*/wait": ok({"StatusCode": 5}), "POST /containers/*/attach": {"hijack": True, "frames": [["stdin", ""]], "stdin": True}}, stdin=b"x\n"),
    Scenario("attach/no-stdin", ["attach", "--no-stdin", "--sig-proxy=false", "web"], {"GET /containers/*/json": ok(inspect_json(Config__OpenStdin=True)), "POST /containers/*/wait": ok({"StatusCode": 0}), "POST /containers/*/attach": {"hijack": True, "frames": [[1, "o\n"]]}}),
    Scenario("attach/stopped", ["attach", "web"], {"GET /containers/*/json": ok(inspect_json(State__Running=False)), "POST /containers/*/wait": ok({"StatusCode": 0})}),
    Scenario("attach/paused", ["attach", "web"], {"GET /containers/*/json": ok(inspect_json(State__Paused=True)), "POST /containers/*/wait": ok({"StatusCode": 0})}),
]


# --- inspect, top, port, diff, export, commit, update, prune -------------------------

INSPECT_SCENARIOS = [
    Scenario("inspect/container", ["container", "inspect", "web"], {**INSPECT}),
    Scenario("inspect/size-format", ["container", "inspect", "-s", "-f", "{{.Name}} {{.State.Status}} {{json .Config.Cmd}}", "web"], {**INSPECT}),
    Scenario("inspect/missing", ["container", "inspect", "web", "ghost"], {"GET /containers/web/json": ok(inspect_json()), "GET /containers/ghost/json": err(404, "No such container: ghost")}),
    Scenario("inspect/format-missing-key", ["container", "inspect", "-f", "{{.Nope}}", "web"], {**INSPECT}),
    Scenario("inspect/type-container", ["inspect", "--type", "container", "-f", "{{.Id}}", "web"], {**INSPECT}),
    Scenario("inspect/type-bad", ["inspect", "--type", "bogus", "web"], {}),
]

TOP_ROWS = {
    "Titles": ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
    "Processes": [
        ["root", "4242", "4200", "0", "10:00", "?", "00:00:00", "sh -c sleep 100"],
        ["root", "4250", "4242", "0", "10:00", "?", "00:00:00", "sleep 100"],
    ],
}

MISC_SCENARIOS = [
    Scenario("top/plain", ["top", "web"], {"GET /containers/*/top": ok(TOP_ROWS)}),
    Scenario("top/args", ["top", "web", "-o", "pid,comm"], {"GET /containers/*/top": ok({"Titles": ["PID", "COMMAND"], "Processes": [["1", "sh"], ["12345678901234567890123", "x"]]})}),
    Scenario("top/not-running", ["top", "web"], {"GET /containers/*/top": err(409, "container c0ffee is not running")}),
    Scenario("port/all", ["port", "web"], {**INSPECT}),
    Scenario("port/one", ["port", "web", "80"], {**INSPECT}),
    Scenario("port/udp", ["port", "web", "53/udp"], {**INSPECT}),
    Scenario("port/none", ["port", "web", "443"], {**INSPECT}),
    Scenario("port/bad", ["port", "web", "http"], {**INSPECT}),
    Scenario("diff/plain", ["diff", "web"], {"GET /containers/*/changes": ok([{"Path": "/tmp", "Kind": 0}, {"Path": "/tmp/new", "Kind": 1}, {"Path": "/etc/old", "Kind": 2}])}),
    Scenario("diff/empty", ["diff", "web"], {"GET /containers/*/changes": ok([])}),
    Scenario("export/file", ["export", "-o", "out.tar", "web"], {"GET /containers/*/export": {"status": 200, "body": "TARDATA", "headers": {"Content-Type": "application/x-tar"}}}, capture_files=True),
    Scenario("export/stdout", ["export", "web"], {"GET /containers/*/export": {"status": 200, "body": "TARDATA", "headers": {"Content-Type": "application/x-tar"}}}),
    Scenario("commit/plain", ["commit", "web"], {"POST /commit": ok({"Id": IMAGE_ID}, 201)}),
    Scenario("commit/options", ["commit", "-m", "msg", "-a", "Me <me@x>", "-c", "ENV A=1", "-c", "CMD [\"sh\"]", "--pause=false", "web", "repo/img:v1"], {"POST /commit": ok({"Id": IMAGE_ID}, 201)}),
    Scenario("commit/repo-only", ["commit", "web", "myimg"], {"POST /commit": ok({"Id": IMAGE_ID}, 201)}),
    Scenario("commit/bad-ref", ["commit", "web", "Bad:Ref:x"], {}),
    Scenario("update/resources", ["update", "-m", "256m", "--memory-swap", "512m", "--cpus", "0.5", "--cpu-shares", "100", "--pids-limit", "50", "--restart", "on-failure:2", "web", "db"], {"POST /containers/*/update": ok({"Warnings": []})}),
    Scenario("update/restart", ["update", "--restart", "always", "web"], {"POST /containers/*/update": ok({"Warnings": ["w1"]})}),
    Scenario("update/no-flags", ["update", "web"], {}),
    Scenario("update/fail", ["update", "--cpus", "1", "web", "ghost"], {"POST /containers/web/update": ok({"Warnings": None}), "POST /containers/ghost/update": err(404, "No such container: ghost")}),
    Scenario("prune/force", ["container", "prune", "-f"], {"POST /containers/prune": ok({"ContainersDeleted": [CID, CID2], "SpaceReclaimed": 123456789})}),
    Scenario("prune/nothing", ["container", "prune", "--force", "--filter", "until=24h", "--filter", "label=a"], {"POST /containers/prune": ok({"ContainersDeleted": None, "SpaceReclaimed": 0})}),
    Scenario("prune/confirm-yes", ["container", "prune"], {"POST /containers/prune": ok({"ContainersDeleted": [CID], "SpaceReclaimed": 1000})}, stdin=b"y\n"),
    Scenario("prune/confirm-no", ["container", "prune"], {}, stdin=b"n\n"),
]


# --- stats ----------------------------------------------------------------------------

def stats_json(name: str, ident: str, cpu: int = 400_000_000, pre_cpu: int = 200_000_000) -> dict[str, Any]:
    return {
        "read": "2024-01-02T03:04:06.000000000Z",
        "preread": "2024-01-02T03:04:05.000000000Z",
        "name": "/" + name,
        "id": ident,
        "pids_stats": {"current": 3, "limit": 100},
        "blkio_stats": {"io_service_bytes_recursive": [
            {"major": 8, "minor": 0, "op": "read", "value": 1048576},
            {"major": 8, "minor": 0, "op": "write", "value": 4096},
        ]},
        "cpu_stats": {"cpu_usage": {"total_usage": cpu}, "system_cpu_usage": 20_000_000_000, "online_cpus": 2},
        "precpu_stats": {"cpu_usage": {"total_usage": pre_cpu}, "system_cpu_usage": 10_000_000_000, "online_cpus": 2},
        "memory_stats": {"usage": 10_485_760, "stats": {"inactive_file": 2_097_152}, "limit": 2_147_483_648},
        "networks": {"eth0": {"rx_bytes": 1500, "tx_bytes": 648}, "eth1": {"rx_bytes": 500, "tx_bytes": 0}},
    }


STATS_SCENARIOS = [
    Scenario(
        "stats/no-stream-named",
        ["stats", "--no-stream", "web", "db"],
        {
            "GET /containers/web/stats": {"status": 200, "chunks": [stats_json("web", CID)]},
            "GET /containers/db/stats": {"status": 200, "chunks": [stats_json("db", CID2, 0, 0)]},
        },
        unordered=True,
    ),
    Scenario(
        "stats/format",
        ["stats", "--no-stream", "--no-trunc", "--format", "{{.Container}}: {{.ID}} {{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.MemPerc}} {{.NetIO}} {{.BlockIO}} {{.PIDs}}", "web"],
        {"GET /containers/web/stats": {"status": 200, "chunks": [stats_json("web", CID)]}},
    ),
    Scenario(
        "stats/format-json",
        ["stats", "--no-stream", "--format", "json", "web"],
        {"GET /containers/web/stats": {"status": 200, "chunks": [stats_json("web", CID)]}},
    ),
    Scenario(
        "stats/format-table",
        ["stats", "--no-stream", "--format", "table {{.Name}}\\t{{.CPUPerc}}\\t{{.MemUsage}}", "web"],
        {"GET /containers/web/stats": {"status": 200, "chunks": [stats_json("web", CID)]}},
    ),
    Scenario(
        "stats/missing",
        ["stats", "--no-stream", "ghost"],
        {"GET /containers/ghost/stats": err(404, "No such container: ghost")},
    ),
    Scenario(
        "stats/all-no-stream",
        ["stats", "--no-stream", "-a", "--format", "{{.Name}} {{.CPUPerc}} {{.PIDs}}"],
        {
            "GET /events": {"status": 200, "chunks": [], "hold_open": 3},
            "GET /containers/json": ok([PS_ROWS[0]]),
            "GET /containers/*/stats": {"status": 200, "chunks": [stats_json("web", CID)]},
        },
    ),
]


# --- events ---------------------------------------------------------------------------

EVENTS = [
    {"status": "create", "id": CID, "from": "busybox", "Type": "container", "Action": "create",
     "Actor": {"ID": CID, "Attributes": {"image": "busybox", "name": "web"}}, "scope": "local",
     "time": 1704164645, "timeNano": 1704164645123456789},
    {"Type": "network", "Action": "connect", "Actor": {"ID": "n" * 64, "Attributes": {"container": CID, "name": "bridge", "type": "bridge"}},
     "scope": "local", "time": 1704164646, "timeNano": 1704164646000000000},
    {"Type": "container", "Action": "die", "Actor": {"ID": CID, "Attributes": {"exitCode": "0", "image": "busybox", "name": "web"}},
     "scope": "local", "time": 1704164647, "timeNano": 0},
]

EVENTS_SCENARIOS = [
    Scenario("events/plain", ["events", "--since", "1704164645", "--until", "1704164700"], {"GET /events": {"status": 200, "chunks": EVENTS}}, env={"TZ": "UTC"}),
    Scenario("events/filters-format", ["events", "--since", "2024-01-02T03:04:05Z", "--until", "1704164700.5", "-f", "type=container", "--filter", "event=die", "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.ID}}"], {"GET /events": {"status": 200, "chunks": EVENTS}}),
    Scenario("events/json", ["events", "--until", "1704164700", "--format", "json"], {"GET /events": {"status": 200, "chunks": EVENTS[:1]}}),
    Scenario("events/format-bad", ["events", "--format", "{{.Nope"], {}),
    Scenario("events/relative", ["events", "--since", "1h", "--until", "0s"], {"GET /events": {"status": 200, "chunks": []}}, volatile=("since", "until")),
    Scenario("events/args", ["events", "x"], {}),
]


# --- cp --------------------------------------------------------------------------------

def _tar(entries: list[tuple[str, str, Any]]) -> bytes:
    """A tar of (name, kind, content-or-target) entries: kind is file, dir or symlink."""
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, content in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1704164645
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif kind == "symlink":
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, content, 0o777
                tar.addfile(info)
            else:
                data = content.encode()
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def path_stat(name: str, kind: str = "file", size: int = 0, link: str = "") -> dict[str, str]:
    import base64
    import json

    mode = {"file": 0o644, "dir": (1 << 31) | 0o755, "symlink": (1 << 27) | 0o777}[kind]
    stat = {"name": name, "size": size, "mode": mode, "mtime": "2024-01-02T03:04:05Z", "linkTarget": link}
    return {"X-Docker-Container-Path-Stat": base64.b64encode(json.dumps(stat).encode()).decode()}


def archive(entries: list[tuple[str, str, Any]], stat: dict[str, str]) -> dict[str, Any]:
    return {"status": 200, "body": _tar(entries), "headers": {"Content-Type": "application/x-tar", **stat}}


HOSTS_TAR = archive([("hosts", "file", "127.0.0.1 localhost\n")], path_stat("hosts", size=20))
ETC_TAR = archive(
    [("etc", "dir", None), ("etc/hosts", "file", "127.0.0.1 localhost\n"), ("etc/sub", "dir", None), ("etc/sub/a", "file", "a\n"), ("etc/link", "symlink", "hosts")],
    path_stat("etc", "dir", 4096),
)
NOT_FOUND = err(404, "Could not find the file /nope in container web")
SRC_FILES = {"src/a.txt": "alpha\n", "src/sub/b.txt": "beta\n", "file.txt": "file\n"}
DIR_STAT = {"status": 200, "body": b"", "headers": path_stat("dst", "dir", 4096)}
FILE_STAT = {"status": 200, "body": b"", "headers": path_stat("f", "file", 4)}
PUT_OK = ok(status=200)

CP_SCENARIOS = [
    Scenario("cp/from-file-to-new", ["cp", "web:/etc/hosts", "out"], {"GET /containers/web/archive": HOSTS_TAR}, capture_files=True),
    Scenario("cp/from-file-into-dir", ["cp", "web:/etc/hosts", "dir"], {"GET /containers/web/archive": HOSTS_TAR}, files={"dir/.keep": ""}, capture_files=True),
    Scenario("cp/from-file-to-existing-file", ["cp", "web:/etc/hosts", "old"], {"GET /containers/web/archive": HOSTS_TAR}, files={"old": "old content\n"}, capture_files=True),
    Scenario("cp/from-dir-to-new", ["cp", "web:/etc", "copy"], {"GET /containers/web/archive": ETC_TAR}, capture_files=True),
    Scenario("cp/from-dir-into-dir", ["cp", "web:/etc", "dir"], {"GET /containers/web/archive": ETC_TAR}, files={"dir/.keep": ""}, capture_files=True),
    Scenario("cp/from-dir-contents", ["cp", "web:/etc/.", "dir"], {"GET /containers/web/archive": archive([(".", "dir", None), ("./hosts", "file", "x\n")], path_stat(".", "dir", 4096))}, files={"dir/.keep": ""}, capture_files=True),
    Scenario("cp/from-dir-onto-file", ["cp", "web:/etc", "old"], {"GET /containers/web/archive": ETC_TAR}, files={"old": "old\n"}, capture_files=True),
    Scenario("cp/from-to-stdout", ["cp", "web:/etc/hosts", "-"], {"GET /containers/web/archive": HOSTS_TAR}, skip=("stdout",)),
    Scenario("cp/from-missing", ["cp", "web:/nope", "out"], {"GET /containers/web/archive": NOT_FOUND}),
    Scenario("cp/from-bad-dest-dir", ["cp", "web:/etc/hosts", "nodir/out"], {}),
    Scenario("cp/from-file-to-slash-missing", ["cp", "web:/etc/hosts", "newdir/"], {"GET /containers/web/archive": HOSTS_TAR}, capture_files=True),
    Scenario("cp/from-follow-link", ["cp", "-L", "web:/etc/link", "out"], {
        "HEAD /containers/web/archive": {"status": 200, "body": b"", "headers": path_stat("link", "symlink", 5, "hosts")},
        "GET /containers/web/archive": HOSTS_TAR}, capture_files=True),
    Scenario("cp/to-dir", ["cp", "src", "web:/dst"], {"HEAD /containers/web/archive": DIR_STAT, "PUT /containers/web/archive": PUT_OK}, files=SRC_FILES),
    Scenario("cp/to-dir-contents", ["cp", "src/.", "web:/dst"], {"HEAD /containers/web/archive": DIR_STAT, "PUT /containers/web/archive": PUT_OK}, files=SRC_FILES),
    Scenario("cp/to-new-name", ["cp", "src", "web:/dst/new"], {"HEAD /containers/web/archive": err(404, "Could not find the file /dst/new in container web"), "PUT /containers/web/archive": PUT_OK}, files=SRC_FILES),
    Scenario("cp/file-to-dir", ["cp", "-a", "file.txt", "web:/dst"], {"HEAD /containers/web/archive": DIR_STAT, "PUT /containers/web/archive": PUT_OK}, files=SRC_FILES),
    Scenario("cp/file-to-file", ["cp", "file.txt", "web:/f"], {"HEAD /containers/web/archive": FILE_STAT, "PUT /containers/web/archive": PUT_OK}, files=SRC_FILES),
    Scenario("cp/file-to-new", ["cp", "file.txt", "web:/renamed.txt"], {"HEAD /containers/web/archive": err(404, "Could not find the file /renamed.txt in container web"), "PUT /containers/web/archive": PUT_OK}, files=SRC_FILES),
    Scenario("cp/file-to-missing-dir", ["cp", "file.txt", "web:/nodir/"], {"HEAD /containers/web/archive": err(404, "Could not find the file /nodir in container web")}, files=SRC_FILES),
    Scenario("cp/dir-onto-file", ["cp", "src", "web:/f"], {"HEAD /containers/web/archive": FILE_STAT}, files=SRC_FILES),
    Scenario("cp/to-symlink-dir", ["cp", "file.txt", "web:/lnk"], {"HEAD /containers/web/archive": [{"status": 200, "body": b"", "headers": path_stat("lnk", "symlink", 3, "dst")}, DIR_STAT], "PUT /containers/web/archive": PUT_OK}, files=SRC_FILES),
    Scenario("cp/stdin", ["cp", "-", "web:/dst"], {"HEAD /containers/web/archive": DIR_STAT, "PUT /containers/web/archive": PUT_OK}, stdin=_tar([("x.txt", "file", "x\n")])),
    Scenario("cp/stdin-not-dir", ["cp", "-", "web:/f"], {"HEAD /containers/web/archive": FILE_STAT}, stdin=b""),
    Scenario("cp/missing-source", ["cp", "nope", "web:/dst"], {"HEAD /containers/web/archive": DIR_STAT}),
    Scenario("cp/no-container", ["cp", "a", "b"], {}),
    Scenario("cp/across", ["cp", "web:/a", "db:/b"], {}),
    Scenario("cp/empty-source", ["cp", "", "web:/b"], {}),
    Scenario("cp/put-error", ["cp", "file.txt", "web:/dst"], {"HEAD /containers/web/archive": DIR_STAT, "PUT /containers/web/archive": err(403, "copy to a container with read-only rootfs is not allowed")}, files=SRC_FILES),
    Scenario("cp/long-form", ["container", "cp", "web:/etc/hosts", "-"], {"GET /containers/web/archive": HOSTS_TAR}, skip=("stdout",)),
]


SCENARIOS: list[Scenario] = [
    *CREATE_SCENARIOS,
    *NETWORK_SCENARIOS,
    *VOLUME_SCENARIOS,
    *RUN_SCENARIOS,
    *LIFECYCLE_SCENARIOS,
    *PS_SCENARIOS,
    *LOGS_SCENARIOS,
    *EXEC_SCENARIOS,
    *ATTACH_SCENARIOS,
    *INSPECT_SCENARIOS,
    *MISC_SCENARIOS,
    *STATS_SCENARIOS,
    *EVENTS_SCENARIOS,
    *CP_SCENARIOS,
]


def prepare_workdir(scenario: Scenario, root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in scenario.files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


def normalise(result: dict[str, Any], cwd: str, prog: str) -> dict[str, Any]:
    """Make a run comparable: the scratch directory becomes {CWD}, the program `docker`."""
    result = copy.deepcopy(result)
    home = os.path.dirname(cwd)

    def fix(value: Any) -> Any:
        if isinstance(value, str):
            value = value.replace(cwd, "{CWD}").replace(home, "{HOME}")
            if prog != "docker":
                value = re.sub(rf"\b{prog}\b", "docker", value)
            return value
        if isinstance(value, list):
            return [fix(v) for v in value]
        if isinstance(value, dict):
            return {fix(k): fix(v) for k, v in value.items()}
        return value

    for key in ("stdout", "stderr", "requests", "files"):
        result[key] = fix(result[key])
    # Go's logging noise (logrus and log lines with a timestamp) is not part of the interface.
    result["stderr"] = "".join(
        line
        for line in result["stderr"].splitlines(keepends=True)
        if not re.match(r'(time="[^"]*" level=|\d{4}/\d\d/\d\d \d\d:\d\d:\d\d )', line)
    )
    return result

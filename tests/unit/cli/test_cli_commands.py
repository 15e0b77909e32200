# SPDX-License-Identifier: Apache-2.0
"""The CLI's flows end to end against a scripted Engine API server on a unix socket.

The server (fake_engine.py) speaks real HTTP, attach upgrades and stdcopy framing, so
these tests exercise parsing, the client, hijacking, demultiplexing, pulling on a
missing image, the wait-before-start ordering and exit codes together.
"""

from __future__ import annotations

import io

import pytest

from dockyard.cli.command import Cli
from dockyard.cli.main import dispatch, main
from dockyard.cli.run import exit_code_for
from tests.unit.cli.fake_engine import FakeEngine


class Streams:
    def __init__(self, stdin: bytes = b""):
        self.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
        self.stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
        self.stderr = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)

    @property
    def out(self) -> str:
        return self.stdout.buffer.getvalue().decode()

    @property
    def err(self) -> str:
        return self.stderr.buffer.getvalue().decode()


@pytest.fixture
def engine():
    fake = FakeEngine()
    yield fake
    fake.close()


def run_cli(engine: FakeEngine, *args: str, stdin: bytes = b"") -> tuple[int, Streams]:
    streams = Streams(stdin)
    cli = Cli(host=engine.url, stdin=streams.stdin, stdout=streams.stdout, stderr=streams.stderr)
    return dispatch(cli, list(args)), streams


def test_run_foreground_attaches_and_waits_before_start(engine):
    status, io_ = run_cli(engine, "run", "busybox", "echo", "hello", "world")
    assert status == 0
    assert io_.out == "hello world\n"
    cid = next(iter(engine.containers))
    assert engine.paths()[1:] == [
        "POST /containers/create",
        f"POST /containers/{cid}/attach",
        f"POST /containers/{cid}/wait",
        f"POST /containers/{cid}/start",
    ]
    assert engine.requests[2].query == {"stderr": ["1"], "stdout": ["1"], "stream": ["1"]}
    assert engine.requests[3].query == {"condition": ["next-exit"]}


def test_run_exit_status_and_stderr_are_the_containers(engine):
    status, io_ = run_cli(engine, "run", "--rm", "busybox", "fail", "3")
    assert status == 3
    assert io_.out == "partial\n"
    assert io_.err == "boom\n"
    wait = next(r for r in engine.requests if r.path.endswith("/wait"))
    assert wait.query == {"condition": ["removed"]}


def test_run_pulls_a_missing_image_and_retries(engine):
    status, io_ = run_cli(engine, "run", "alpine", "echo", "hi")
    assert status == 0 and io_.out == "hi\n"
    assert io_.err.splitlines() == [
        "Unable to find image 'alpine:latest' locally",
        "latest: Pulling from library/alpine",
        "aaaa: Pulling fs layer",
        "aaaa: Pull complete",
        "Digest: sha256:" + "0" * 64,
        "Status: Downloaded newer image for alpine:latest",
    ]
    assert engine.paths()[1:4] == [
        "POST /containers/create",
        "POST /images/create",
        "POST /containers/create",
    ]
    assert engine.requests[2].query == {"fromImage": ["docker.io/library/alpine"], "tag": ["latest"]}


def test_run_pull_failure_is_a_daemon_error(engine):
    status, io_ = run_cli(engine, "run", "nosuch")
    assert status == 125
    assert io_.err.splitlines()[-3:] == [
        "dockyard: Error response from daemon: pull access denied for nosuch, repository does not exist",
        "",
        "Run 'dockyard run --help' for more information",
    ]


def test_run_missing_executable_exits_127(engine):
    status, io_ = run_cli(engine, "run", "busybox", "missing")
    assert status == 127
    assert io_.err.startswith(
        'dockyard: Error response from daemon: failed to create task: exec: "missing": executable file not found'
    )


def test_run_interactive_copies_stdin_and_half_closes(engine):
    status, io_ = run_cli(engine, "run", "-i", "busybox", "cat", stdin=b"line one\nline two\n")
    assert status == 0
    assert io_.out == "line one\nline two\n"
    attach = next(r for r in engine.requests if r.path.endswith("/attach"))
    assert attach.query["stdin"] == ["1"]


def test_run_tty_output_is_raw(engine):
    status, io_ = run_cli(engine, "run", "-t", "busybox", "echo", "raw")
    assert status == 0 and io_.out == "raw\n"
    assert engine.containers[next(iter(engine.containers))].config["Tty"] is True


def test_run_detached_prints_the_full_id(engine):
    status, io_ = run_cli(engine, "run", "-d", "--name", "web", "busybox", "echo", "x")
    cid = next(iter(engine.containers))
    assert status == 0 and io_.out == cid + "\n"
    # Docker registers a wait before the start even when detached.
    assert engine.paths()[1:] == [
        "POST /containers/create",
        f"POST /containers/{cid}/wait",
        f"POST /containers/{cid}/start",
    ]
    assert engine.requests[1].query == {"name": ["web"]}


def test_create_prints_id_and_start_attach(engine):
    status, io_ = run_cli(engine, "create", "busybox", "fail", "4")
    cid = io_.out.strip()
    assert status == 0 and cid in engine.containers
    status, io_ = run_cli(engine, "start", "-a", cid)
    assert status == 4 and io_.out == "partial\n" and io_.err == "boom\n"


def test_multi_container_verbs_report_each_and_fail_at_the_end(engine):
    run_cli(engine, "create", "--name", "one", "busybox")
    run_cli(engine, "create", "--name", "two", "busybox")
    status, io_ = run_cli(engine, "rm", "one", "ghost")
    assert status == 1
    assert io_.out == "one\n"
    assert io_.err == "Error response from daemon: No such container: ghost\n"
    # With -f a container that is gone already is reported but is not a failure.
    status, io_ = run_cli(engine, "rm", "-f", "two", "ghost")
    assert status == 0 and io_.out == "two\n"
    assert io_.err == "Error response from daemon: No such container: ghost\n"
    assert engine.requests[-2].query == {"force": ["1"]}


def test_stop_and_kill_pass_their_options(engine):
    run_cli(engine, "create", "--name", "c", "busybox")
    assert run_cli(engine, "stop", "-t", "3", "-s", "SIGINT", "c")[0] == 0
    assert engine.requests[-1].query == {"signal": ["SIGINT"], "t": ["3"]}
    assert run_cli(engine, "kill", "-s", "HUP", "c")[0] == 0
    assert engine.requests[-1].query == {"signal": ["HUP"]}


def test_wait_prints_exit_codes(engine):
    _, io_ = run_cli(engine, "create", "busybox", "fail", "9")
    cid = io_.out.strip()
    run_cli(engine, "start", cid)
    status, io_ = run_cli(engine, "wait", cid)
    assert status == 0 and io_.out == "9\n"


def test_logs_demultiplex_to_stdout_and_stderr(engine):
    run_cli(engine, "run", "--name", "l", "busybox", "fail", "1")
    status, io_ = run_cli(engine, "logs", "--tail", "10", "-t", "l")
    assert status == 0 and io_.out == "partial\n" and io_.err == "boom\n"
    logs = engine.requests[-1]
    assert logs.query == {"stdout": ["1"], "stderr": ["1"], "timestamps": ["1"], "tail": ["10"]}


def test_container_and_image_long_forms(engine):
    engine.canned["GET /images/json"] = (200, [])
    status, io_ = run_cli(engine, "image", "ls")
    assert status == 0 and io_.out.startswith("REPOSITORY   TAG       IMAGE ID   CREATED   SIZE")
    status, io_ = run_cli(engine, "container", "ls", "-a", "-q")
    assert status == 0 and io_.out == ""
    assert engine.requests[-1].query == {"all": ["1"]}


def test_rmi_prints_untagged_and_deleted(engine):
    engine.canned["DELETE /images/busybox"] = (
        200,
        [{"Untagged": "busybox:latest"}, {"Deleted": "sha256:" + "a" * 64}],
    )
    status, io_ = run_cli(engine, "rmi", "busybox")
    assert status == 0
    assert io_.out == f"Untagged: busybox:latest\nDeleted: sha256:{'a' * 64}\n"


def test_tag_splits_repository_and_tag(engine):
    engine.canned["POST /images/busybox/tag"] = (201, b"")
    assert run_cli(engine, "tag", "busybox", "localhost:5000/me/box:v2")[0] == 0
    assert engine.requests[-1].query == {"repo": ["localhost:5000/me/box"], "tag": ["v2"]}
    assert run_cli(engine, "tag", "busybox", "localhost:5000/me/box")[0] == 0
    assert engine.requests[-1].query == {"repo": ["localhost:5000/me/box"], "tag": ["latest"]}


def test_load_from_stdin_and_import_from_file(engine, tmp_path):
    engine.canned["POST /images/load"] = (200, b'{"stream":"Loaded image: busybox:latest\\n"}\r\n')
    status, io_ = run_cli(engine, "load", stdin=b"tar bytes")
    assert status == 0 and io_.out == "Loaded image: busybox:latest\n"
    assert engine.requests[-1].body == b"tar bytes" and engine.requests[-1].query == {
        "quiet": ["1"]
    }

    engine.canned["POST /images/create"] = (200, b'{"status":"sha256:' + b"f" * 64 + b'"}\r\n')
    archive = tmp_path / "rootfs.tar"
    archive.write_bytes(b"rootfs")
    status, io_ = run_cli(
        engine, "import", "-c", 'CMD ["sh"]', "-m", "msg", str(archive), "me/img:1"
    )
    assert status == 0 and io_.out == "sha256:" + "f" * 64 + "\n"
    req = engine.requests[-1]
    assert req.body == b"rootfs"
    assert req.query == {
        "fromSrc": ["-"],
        "repo": ["me/img:1"],
        "message": ["msg"],
        "changes": ['CMD ["sh"]'],
    }


def test_save_refuses_a_terminal(engine, monkeypatch):
    streams = Streams()
    monkeypatch.setattr(streams.stdout, "isatty", lambda: True)
    cli = Cli(host=engine.url, stdin=streams.stdin, stdout=streams.stdout, stderr=streams.stderr)
    assert dispatch(cli, ["save", "busybox"]) == 1
    assert streams.err == "cowardly refusing to save to a terminal. Use the -o flag or redirect\n"


def test_save_to_file(engine, tmp_path):
    engine.canned["GET /images/get"] = (200, b"TARDATA")
    target = tmp_path / "out.tar"
    assert run_cli(engine, "save", "-o", str(target), "busybox")[0] == 0
    assert target.read_bytes() == b"TARDATA"
    assert engine.requests[-1].query == {"names": ["busybox"]}


def test_inspect_falls_back_from_container_to_image(engine):
    engine.canned["GET /images/busybox/json"] = (200, {"Id": "sha256:abc", "Size": 5})
    status, io_ = run_cli(engine, "inspect", "-f", "{{.Size}}", "busybox")
    assert status == 0 and io_.out == "5\n"
    status, io_ = run_cli(engine, "inspect", "nothing")
    assert status == 1 and io_.out == "[]\n" and io_.err == "Error: No such object: nothing\n"


def test_usage_errors_and_unknown_commands(engine):
    status, io_ = run_cli(engine, "ps", "--bogus")
    assert status == 125 and io_.err.startswith(
        "unknown flag: --bogus\n\nUsage:  dockyard ps [OPTIONS]"
    )
    status, io_ = run_cli(engine, "frobnicate")
    assert status == 1 and io_.err.startswith("dockyard: unknown command: dockyard frobnicate")
    status, io_ = run_cli(engine, "run")
    assert status == 1 and "'dockyard run' requires at least 1 argument" in io_.err


def test_daemon_not_running_message(tmp_path):
    streams = Streams()
    cli = Cli(host=f"unix://{tmp_path}/none.sock", stdout=streams.stdout, stderr=streams.stderr)
    assert dispatch(cli, ["ps"]) == 1
    assert (
        streams.err
        == f"Cannot connect to the dockyard daemon at unix://{tmp_path}/none.sock. Is the dockyard daemon running?\n"
    )


def test_version_flag(capsys):
    assert main(["--version"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("dockyard version 0.1.0, build ")


@pytest.mark.parametrize(
    "message, code",
    [
        ('exec: "foo": executable file not found in $PATH', 127),
        ("open /bin/nope: no such file or directory", 127),
        ("exec /etc/passwd: permission denied", 126),
        ("exec: /tmp: is a directory", 126),
        ("No such image: foo:latest", 125),
        ('Conflict. The container name "/web" is already in use', 125),
    ],
)
def test_exit_codes_follow_docker(message, code):
    assert exit_code_for(message) == code

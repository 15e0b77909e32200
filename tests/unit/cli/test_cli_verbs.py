# SPDX-License-Identifier: Apache-2.0
"""Container verbs: the parts a docker recording does not pin down by itself — the live
stats table, events in a time zone, cp's path rules and extraction safety, port sorting,
and flows that need a script with timing (streams that keep going, detaching)."""

from __future__ import annotations

import io
import os
import tarfile
import threading
import time

import pytest

from dockyard.cli import cp
from dockyard.cli.command import Cli
from dockyard.cli.containers import _natural_key
from dockyard.cli.events import EventMessage, pretty_event
from dockyard.cli.main import dispatch
from dockyard.cli.stats import StatsRow, bytes_size, compute, redraw
from tests.unit.cli.docker_scenarios import CID, EVENTS, inspect_json, ok, stats_json
from tests.unit.cli.scripted_engine import ScriptedEngine
from tests.unit.cli.test_cli_docker_parity import Streams


def run(routes, *args, stdin=b""):
    with ScriptedEngine(routes) as engine:
        streams = Streams(stdin)
        cli = Cli(host=engine.url, stdin=streams.stdin, stdout=streams.stdout, stderr=streams.stderr)
        status = dispatch(cli, list(args))
        return status, streams.out(), streams.err(), list(engine.requests)


# --- stats --------------------------------------------------------------------------


def test_stats_numbers_follow_dockers_formulas():
    entry = compute(stats_json("web", CID))
    assert entry["CPUPercentage"] == pytest.approx(4.0)  # 0.2e9 / 10e9 * 2 CPUs * 100
    assert entry["Memory"] == 8 * 1024**2  # usage minus inactive_file
    row = StatsRow({"Container": "web", **entry})
    assert (row.CPUPerc, row.MemUsage, row.MemPerc) == ("4.00%", "8MiB / 2GiB", "0.39%")
    assert (row.NetIO, row.BlockIO, row.PIDs) == ("2kB / 648B", "1.05MB / 4.1kB", "3")
    cgroup_v1 = compute({"memory_stats": {"usage": 100, "limit": 1000, "stats": {"total_inactive_file": 40}}})
    assert cgroup_v1["Memory"] == 60


def test_stats_invalid_rows_show_dashes():
    row = StatsRow({"Container": "ghost", "IsInvalid": True})
    assert (row.Name, row.CPUPerc, row.MemUsage, row.NetIO, row.PIDs) == ("--", "--", "-- / --", "--", "--")


def test_bytes_size_is_go_units():
    assert bytes_size(0) == "0B"
    assert bytes_size(8 * 1024**2) == "8MiB"
    assert bytes_size(2_000_000_000) == "1.863GiB"


def test_live_frames_clear_lines_and_screen():
    assert redraw("A   B\nx   y\n") == "\x1b[HA   B\x1b[K\nx   y\x1b[K\n\x1b[J"


def test_stats_stream_redraws_until_interrupted():
    routes = {
        "GET /containers/web/stats": {
            "status": 200,
            "chunks": [stats_json("web", CID), stats_json("web", CID, 900_000_000)],
            "chunk_delay": 0.3,
            "hold_open": 5,
        }
    }
    with ScriptedEngine(routes) as engine:
        streams = Streams()
        cli = Cli(host=engine.url, stdin=streams.stdin, stdout=streams.stdout, stderr=streams.stderr)
        def stats() -> None:
            try:
                dispatch(cli, ["stats", "--format", "{{.Name}} {{.CPUPerc}}", "web"])
            except ValueError:
                pass  # the test closed stdout to stop it, as a user's Ctrl-C would

        worker = threading.Thread(target=stats, daemon=True)
        worker.start()
        time.sleep(1.6)
        frames = streams.out().split("\x1b[H")
        streams.stdout.close()
        worker.join(2)
        assert engine.requests[0]["query"] == {"stream": ["1"]}
    assert len(frames) >= 3
    assert frames[1] == "web 4.00%\x1b[K\n\x1b[J"
    assert "web 14.00%\x1b[K\n" in frames[-1]


# --- events ---------------------------------------------------------------------------


def test_events_pretty_in_a_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        line = pretty_event(EventMessage(EVENTS[0]))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert line.startswith("2024-01-02T08:34:05.123456789+05:30 container create ")
    assert line.endswith("(image=busybox, name=web)")


def test_events_json_uses_dockers_field_order():
    event = EventMessage({"Action": "die", "Type": "container", "time": 5, "Actor": {"ID": "x", "Attributes": {"b": "2", "a": "1"}}})
    assert list(event.to_json()) == ["Type", "Action", "Actor", "time"]
    assert list(event.to_json()["Actor"]["Attributes"]) == ["a", "b"]


def test_events_stream_until_the_daemon_ends_it():
    status, out, _, requests = run({"GET /events": {"status": 200, "chunks": EVENTS, "chunk_delay": 0.05}}, "events", "--format", "{{.Action}}")
    assert status == 0 and out == "create\nconnect\ndie\n"
    assert requests[0]["query"] == {}


# --- cp path rules -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "arg, expected",
    [
        ("web:/etc", ("web", "/etc")),
        ("/abs:path", ("", "/abs:path")),
        ("./web:x", ("", "./web:x")),
        ("file", ("", "file")),
        ("web:", ("web", "")),
    ],
)
def test_split_cp_arg(arg, expected):
    assert cp.split_cp_arg(arg) == expected


def test_local_paths_keep_trailing_dot_and_slash(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cp.resolve_local_path("dir/.") == f"{tmp_path}/dir/."
    assert cp.resolve_local_path("dir/") == f"{tmp_path}/dir/"
    assert cp.resolve_local_path("./a/../b") == f"{tmp_path}/b"
    assert cp.split_path_dir_entry("/etc/.") == ("/etc", ".")
    assert cp.split_path_dir_entry("/etc/hosts") == ("/etc", "hosts")
    assert cp.split_path_dir_entry("/") == ("/", "/")


def test_prepare_archive_copy_cases():
    file_src = {"Path": "/src/f", "IsDir": False}
    dir_src = {"Path": "/src/d", "IsDir": True}
    assert cp.prepare_archive_copy(file_src, {"Path": "/dst", "Exists": True, "IsDir": True}) == ("/dst", None)
    assert cp.prepare_archive_copy(file_src, {"Path": "/dst/g", "Exists": True, "IsDir": False}) == ("/dst", ("f", "g"))
    assert cp.prepare_archive_copy(dir_src, {"Path": "/dst/new", "Exists": False, "IsDir": False}) == ("/dst", ("d", "new"))
    with pytest.raises(cp.CopyError, match="cannot copy directory"):
        cp.prepare_archive_copy(dir_src, {"Path": "/dst/g", "Exists": True, "IsDir": False})
    with pytest.raises(cp.CopyError, match="no such directory"):
        cp.prepare_archive_copy(file_src, {"Path": "/dst/new/", "Exists": False, "IsDir": False})


def _tar(*entries):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, kind, data in entries:
            info = tarfile.TarInfo(name)
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, data
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def test_untar_refuses_to_escape_the_destination(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(cp.CopyError, match="outside of"):
        cp.untar(_tar(("../evil", "file", b"x")), str(tmp_path / "d"), [])
    assert not (tmp_path / "evil").exists()
    with pytest.raises(cp.CopyError, match="invalid symlink"):
        cp.untar(_tar(("link", "sym", "../../etc/passwd")), str(tmp_path / "d"), [])


def test_untar_keeps_directories_and_files_apart(tmp_path):
    (tmp_path / "dir").mkdir()
    with pytest.raises(cp.CopyError, match="cannot overwrite directory"):
        cp.untar(_tar(("dir", "file", b"x")), str(tmp_path), [])
    (tmp_path / "file").write_text("f")
    with pytest.raises(cp.CopyError, match="cannot overwrite non-directory"):
        cp.untar(_tar(("file", "dir", None)), str(tmp_path), [])


def test_untar_renames_the_first_occurrence_and_creates_parents(tmp_path):
    cp.untar(_tar(("etc/etc/x", "file", b"1")), str(tmp_path), [("etc", "copy")])
    assert (tmp_path / "copy" / "etc" / "x").read_bytes() == b"1"


def test_tar_resource_walks_depth_first_with_rebase(tmp_path):
    (tmp_path / "src" / "b").mkdir(parents=True)
    (tmp_path / "src" / "a.txt").write_text("a")
    (tmp_path / "src" / "b" / "c.txt").write_text("c")
    (tmp_path / "src" / "z.txt").write_text("z")
    info = cp.copy_info_source_path(str(tmp_path / "src"), False)
    data = b"".join(cp.tar_resource(info, ("src", "dst")))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.getnames() == ["dst", "dst/a.txt", "dst/b", "dst/b/c.txt", "dst/z.txt"]


def test_cp_follow_link_source_is_rebased(tmp_path):
    (tmp_path / "real").write_text("r")
    os.symlink("real", tmp_path / "alias")
    info = cp.copy_info_source_path(str(tmp_path / "alias"), True)
    assert info["Path"] == str(tmp_path / "real") and info["RebaseName"] == "alias"
    data = b"".join(cp.tar_resource(info, None))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.getnames() == ["alias"]


def test_cp_prints_success_only_on_a_terminal(tmp_path, monkeypatch):
    routes = {
        "GET /containers/web/archive": {
            "status": 200,
            "body": _tar(("hosts", "file", b"x\n")).getvalue(),
            "headers": {"X-Docker-Container-Path-Stat": "eyJuYW1lIjoiaG9zdHMiLCJzaXplIjoyLCJtb2RlIjo0MjB9"},
        }
    }
    monkeypatch.chdir(tmp_path)
    with ScriptedEngine(routes) as engine:
        streams = Streams()
        monkeypatch.setattr(cp, "_isatty", lambda stream: stream is streams.stdout)
        cli = Cli(host=engine.url, stdin=streams.stdin, stdout=streams.stdout, stderr=streams.stderr)
        assert dispatch(cli, ["cp", "web:/etc/hosts", "out"]) == 0
    # The count is of tar bytes received (this tar is padded to a 10 kB record).
    assert streams.err() == f"Successfully copied 10.2kB to {tmp_path}/out\n"
    assert (tmp_path / "out").read_text() == "x\n"


# --- port, attach, exec -------------------------------------------------------------------


def test_port_lines_sort_naturally():
    lines = ["9000/tcp -> :1", "80/tcp -> 0.0.0.0:8080", "443/tcp -> 0.0.0.0:8443", "80/tcp -> [::]:8080"]
    assert sorted(lines, key=_natural_key) == [
        "80/tcp -> 0.0.0.0:8080",
        "80/tcp -> [::]:8080",
        "443/tcp -> 0.0.0.0:8443",
        "9000/tcp -> :1",
    ]


def test_attach_wait_error_is_reported():
    routes = {
        "GET /containers/*/json": ok(inspect_json()),
        "POST /containers/*/wait": ok({"StatusCode": 0, "Error": {"Message": "gone"}}),
        "POST /containers/*/attach": {"hijack": True, "frames": [[1, "o\n"]]},
    }
    status, out, err, _ = run(routes, "attach", "web")
    assert (status, out, err) == (1, "o\n", "gone\n")


def test_exec_exit_code_comes_from_exec_inspect():
    routes = {
        "GET /containers/*/json": ok(inspect_json()),
        "POST /containers/*/exec": ok({"Id": "e1"}, 201),
        "POST /exec/*/start": {"hijack": True, "frames": [[2, "denied\n"]]},
        "GET /exec/*/json": ok({"ExitCode": 126}),
    }
    status, out, err, requests = run(routes, "exec", "web", "/etc/passwd")
    assert (status, out, err) == (126, "", "denied\n")
    assert [r["path"] for r in requests][-1] == "/exec/e1/json"


def test_deprecated_flag_spelling_is_announced_once():
    status, out, _, requests = run({"POST /containers/*/stop": ok()}, "stop", "--time", "2", "web")
    assert status == 0 and out == "Flag --time has been deprecated, use --timeout instead\nweb\n"
    assert requests[0]["query"] == {"t": ["2"]}


def test_prune_reads_the_answer_from_stdin():
    status, out, _, requests = run({"POST /containers/prune": ok({"ContainersDeleted": None, "SpaceReclaimed": 0})}, "container", "prune", stdin=b"Y\n")
    assert status == 0 and out.endswith("[y/N] Total reclaimed space: 0B\n")
    assert requests[0]["path"] == "/containers/prune"

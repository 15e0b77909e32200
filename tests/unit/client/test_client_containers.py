# SPDX-License-Identifier: Apache-2.0
"""The client's container endpoints beyond the basics: exec, archive (HEAD/GET/PUT),
stats, events, commit, update, prune — requests as Docker's client sends them, and
answers read the way it reads them."""

from __future__ import annotations

import base64
import json

import pytest

from dockyard.client.api import APIClient, _query, decode_path_stat
from dockyard.client.errors import APIError
from tests.unit.cli.scripted_engine import ScriptedEngine


def stat_header(**stat):
    return {"X-Docker-Container-Path-Stat": base64.b64encode(json.dumps(stat).encode()).decode()}


@pytest.fixture
def engine():
    routes = {
        "HEAD /containers/web/archive": {"status": 200, "body": b"x" * 10, "headers": stat_header(name="etc", mode=2147484141)},
        "HEAD /containers/ghost/archive": {"status": 404, "message": "No such container: ghost"},
        "GET /containers/web/archive": {"status": 200, "body": b"TAR", "headers": stat_header(name="hosts", size=3, mode=420)},
        "PUT /containers/web/archive": {"status": 200, "body": b""},
        "POST /containers/web/exec": {"status": 201, "json": {"Id": "e1"}},
        "POST /exec/e1/start": [{"status": 200, "body": b""}],
        "GET /exec/e1/json": {"status": 200, "json": {"ExitCode": 3}},
        "GET /containers/web/stats": {"status": 200, "chunks": [{"id": "a"}, {"id": "b"}], "headers": {"Server": "Docker/28.2.2 (linux)"}},
        "GET /events": {"status": 200, "chunks": [{"Type": "container"}]},
        "POST /commit": {"status": 201, "json": {"Id": "sha256:abc"}},
        "POST /containers/web/update": {"status": 200, "json": {"Warnings": ["w"]}},
        "POST /containers/prune": {"status": 200, "json": {"ContainersDeleted": ["a"], "SpaceReclaimed": 5}},
        "GET /containers/web/changes": {"status": 200, "json": None},
        "GET /containers/web/top": {"status": 200, "json": {"Titles": ["PID"], "Processes": [["1"]]}},
    }
    with ScriptedEngine(routes) as scripted:
        yield scripted


def test_head_answers_are_read_without_a_body(engine):
    client = APIClient(engine.url)
    assert client.stat_path("web", "/etc")["mode"] == 2147484141
    # A second request on a fresh connection still works: nothing was left unread.
    assert client.stat_path("web", "/etc")["name"] == "etc"
    with pytest.raises(APIError) as info:
        client.stat_path("ghost", "/x")
    assert info.value.status == 404
    assert engine.requests[0]["query"] == {"path": ["/etc"]}


def test_archive_get_and_put(engine):
    client = APIClient(engine.url)
    chunks, stat = client.get_archive("web", "/etc/hosts")
    assert b"".join(chunks) == b"TAR" and stat == {"name": "hosts", "size": 3, "mode": 420}
    client.put_archive("web", "/dst", iter([b"ab", b"cd"]), copy_uid_gid=True)
    put = engine.requests[-1]
    assert put["query"] == {"path": ["/dst"], "noOverwriteDirNonDir": ["true"], "copyUIDGID": ["true"]}
    assert put["content_type"] == "text/plain" and put["body"] == {"text": "abcd"}


def test_exec_create_start_inspect(engine):
    client = APIClient(engine.url)
    assert client.exec_create("web", {"Cmd": ["true"]}) == {"Id": "e1"}
    client.exec_start("e1", {"Detach": True, "Tty": False})
    assert client.exec_inspect("e1")["ExitCode"] == 3
    start = engine.requests[1]
    assert start["body"] == {"Detach": True, "Tty": False} and start["content_type"] == "application/json"


def test_stats_events_commit_update_prune(engine):
    client = APIClient(engine.url)
    documents, os_type = client.stats("web", stream=False)
    assert [d["id"] for d in documents] == ["a", "b"] and os_type == "linux"
    assert engine.requests[-1]["query"] == {"stream": ["0"]}
    assert list(client.events(since="1", filters={"type": ["container"]})) == [{"Type": "container"}]
    assert engine.requests[-1]["query"] == {"since": ["1"], "filters": ['{"type": {"container": true}}']}
    assert client.commit("web", "docker.io/library/x", "v1", pause=False)["Id"] == "sha256:abc"
    assert engine.requests[-1]["query"] == {
        "container": ["web"], "repo": ["docker.io/library/x"], "tag": ["v1"],
        "comment": [""], "author": [""], "pause": ["0"],
    }
    assert client.update_container("web", {"Memory": 1}) == {"Warnings": ["w"]}
    assert client.prune_containers({"label": ["a"]})["SpaceReclaimed"] == 5
    assert client.diff("web") == []
    assert client.top("web", "-o pid")["Titles"] == ["PID"]
    assert engine.requests[-1]["query"] == {"ps_args": ["-o pid"]}


def test_query_encoding_matches_urlencode():
    from urllib.parse import urlencode

    items = {"filters": '{"a b": {"x/y=z&q": true}}', "name": "wé b", "x": ["1", "2"], "t": 0, "no": False, "none": None}
    expected = urlencode([("filters", items["filters"]), ("name", "wé b"), ("x", "1"), ("x", "2"), ("t", "0")])
    assert _query(items) == "?" + expected


def test_path_stat_header_errors():
    with pytest.raises(APIError, match="unable to decode container path stat header"):
        decode_path_stat(base64.b64encode(b"{not json").decode())
    with pytest.raises(APIError):
        decode_path_stat(None)

# SPDX-License-Identifier: Apache-2.0
"""The API client against real sockets: negotiation, errors, streams, hijack, chunked uploads."""

from __future__ import annotations

import io
import json
import os
import socket
import tempfile
import threading
import time

import pytest

from dockyard.client.api import APIClient, iter_json
from dockyard.client.errors import APIError, DaemonUnavailable
from tests.unit.cli.fake_engine import FakeEngine


class RawServer:
    """Accepts connections on a unix socket and hands each to `handler(conn)`."""

    def __init__(self, handler):
        self.dir = tempfile.mkdtemp()
        self.path = os.path.join(self.dir, "s.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(8)
        self.handler = handler
        self.seen: list[bytes] = []
        threading.Thread(target=self._loop, daemon=True).start()

    @property
    def url(self) -> str:
        return "unix://" + self.path

    def _loop(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                data = conn.recv(4096)
                if not data:
                    return
                head += data
            self.seen.append(head)
            self.handler(conn, head)

    def close(self) -> None:
        self.sock.close()
        os.unlink(self.path)
        os.rmdir(self.dir)


def _reply(conn, status: str, body: bytes, headers: str = "") -> None:
    conn.sendall(
        f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{headers}\r\n".encode() + body
    )


@pytest.fixture
def engine():
    fake = FakeEngine()
    yield fake
    fake.close()


def test_negotiates_down_to_the_daemons_version():
    fake = FakeEngine(api_version="1.41")
    try:
        client = APIClient(fake.url)
        assert client.api_version == "1.41"
        client.version()
        assert fake.requests[0].path == "/_ping"
        assert fake.requests[1].path == "/v1.41/version"
    finally:
        fake.close()


def test_never_negotiates_above_our_version(engine):
    engine.api_version = "1.99"
    client = APIClient(engine.url)
    assert client.api_version == "1.45"


def test_error_body_message_becomes_api_error(engine):
    client = APIClient(engine.url)
    with pytest.raises(APIError) as info:
        client.inspect_container("nope")
    assert info.value.status == 404
    assert info.value.message == "No such container: nope"
    assert str(info.value) == "Error response from daemon: No such container: nope"


def test_plain_text_error_body():
    server = RawServer(
        lambda conn, head: (
            _reply(conn, "500 Oops", b"it broke\n", "Api-Version: 1.45\r\n")
            if b"_ping" not in head
            else _reply(conn, "200 OK", b"OK", "Api-Version: 1.45\r\n")
        )
    )
    try:
        with pytest.raises(APIError) as info:
            APIClient(server.url).info()
        assert (info.value.status, info.value.message) == (500, "it broke")
    finally:
        server.close()


def test_no_daemon_is_daemon_unavailable_without_autostart():
    path = os.path.join(tempfile.mkdtemp(), "none.sock")
    client = APIClient("unix://" + path, autostart=True)  # not the default host: no autostart
    with pytest.raises(DaemonUnavailable) as info:
        client.ping()
    assert "Cannot connect to the dockyard daemon at unix://" in str(info.value)


def test_filters_and_booleans_use_dockers_query_encoding(engine):
    engine.canned["GET /containers/json"] = (200, [])
    APIClient(engine.url).containers(all=True, limit=3, filters={"status": ["exited"]})
    req = engine.requests[-1]
    assert req.query == {"all": ["1"], "limit": ["3"], "filters": ['{"status": {"exited": true}}']}


def test_json_stream_split_anywhere():
    docs = [
        {"status": "Pulling", "id": "a"},
        {"status": "Downloading \u00e9\u4e2d"},
        {"aux": {"ID": "x"}},
    ]
    raw = b"".join(json.dumps(d, ensure_ascii=False).encode() + b"\r\n" for d in docs)
    for size in (1, 2, 3, 7, len(raw)):
        chunks = [raw[i : i + size] for i in range(0, len(raw), size)]
        assert list(iter_json(chunks)) == docs
    # Concatenated without separators, as some daemons send them.
    assert list(iter_json([b'{"a":1}{"b":2}'])) == [{"a": 1}, {"b": 2}]


def test_truncated_json_stream_is_an_error():
    with pytest.raises(APIError):
        list(iter_json([b'{"status": "Pull']))


def test_pull_streams_progress_messages(engine):
    messages = list(APIClient(engine.url).pull("alpine", tag="3.19"))
    assert messages[0] == {"status": "Pulling from library/alpine", "id": "3.19"}
    assert messages[-1]["status"] == "Status: Downloaded newer image for alpine:3.19"
    assert engine.requests[-1].query == {"fromImage": ["alpine"], "tag": ["3.19"]}


def test_file_bodies_are_sent_chunked():
    received = {}

    def handler(conn, head):
        if b"_ping" in head:
            return _reply(conn, "200 OK", b"OK", "Api-Version: 1.45\r\n")
        head, data = head.split(b"\r\n\r\n", 1)
        while not data.endswith(b"\r\n0\r\n\r\n"):
            data += conn.recv(65536)
        received["head"] = head
        received["body"] = data
        _reply(conn, "200 OK", b'{"stream":"Loaded image: x:latest\\n"}\n')

    server = RawServer(handler)
    try:
        payload = os.urandom(200_000)
        out = list(APIClient(server.url).load_image(io.BytesIO(payload), quiet=True))
        assert out == [{"stream": "Loaded image: x:latest\n"}]
        head = received["head"].decode()
        assert head.startswith("POST /v1.45/images/load?quiet=1 HTTP/1.1")
        assert "Transfer-Encoding: chunked" in head
        assert "Content-Type: application/x-tar" in head
        # De-chunk what the server got and compare.
        body, data = b"", received["body"]
        while True:
            size_line, _, data = data.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                break
            body, data = body + data[:size], data[size + 2 :]
        assert body == payload
    finally:
        server.close()


def test_hijack_keeps_bytes_that_came_with_the_headers():
    def handler(conn, head):
        if b"_ping" in head:
            return _reply(conn, "200 OK", b"OK", "Api-Version: 1.45\r\n")
        # The 101 and the first output in one write: the client must not lose "early".
        conn.sendall(b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nearly|")
        data = b""
        while True:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        conn.sendall(b"echo:" + data)

    server = RawServer(handler)
    try:
        conn = APIClient(server.url).attach_socket("abc", stdin=True)
        head = server.seen[-1].decode()
        assert head.startswith(
            "POST /v1.45/containers/abc/attach?stream=1&stdin=1&stdout=1&stderr=1 "
        )
        assert "Upgrade: tcp" in head and "Connection: Upgrade" in head
        conn.sendall(b"input")
        conn.close_write()
        got = b""
        while True:
            chunk = conn.recv(3)
            if not chunk:
                break
            got += chunk
        conn.close()
        assert got == b"early|echo:input"
    finally:
        server.close()


def test_hijack_refused_raises_api_error(engine):
    with pytest.raises(APIError) as info:
        APIClient(engine.url).attach_socket("nope")
    assert info.value.message == "No such container: nope"


def test_wait_begin_returns_once_headers_arrive(engine):
    client = APIClient(engine.url)
    cid = client.create_container({"Image": "busybox", "Cmd": ["fail", "7"]})["Id"]
    started = time.monotonic()
    pending = client.wait_begin(cid, "next-exit")
    assert time.monotonic() - started < 2
    assert engine.paths()[-1] == f"POST /containers/{cid}/wait"
    client.start(cid)
    assert pending.result(5)["StatusCode"] == 7

# SPDX-License-Identifier: Apache-2.0
"""A small scripted Engine API server on a unix socket, for driving the CLI in unit tests.

It speaks real HTTP/1.1 (Content-Length and chunked bodies, `101` upgrades for attach,
wait responses whose headers go out before the container exits) so that the client's
transport and the CLI's flows run unchanged; only the container behaviour is scripted:
`Cmd` `["echo", ...]` prints its arguments, `["fail", "N"]` writes to stderr and exits N,
`["cat"]` echoes stdin until EOF, `["missing"]` fails to start like an unknown binary.
Every request is recorded in order in `requests`.
"""

from __future__ import annotations

import json
import os
import socket
import socketserver
import struct
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeContainer:
    id: str
    name: str
    config: dict[str, Any]
    started: threading.Event = field(default_factory=threading.Event)
    exited: threading.Event = field(default_factory=threading.Event)
    exit_code: int = 0
    output: list[tuple[int, bytes]] = field(default_factory=list)


class FakeEngine:
    """Start with `FakeEngine()`; `url` is its `unix://` address; `close()` when done."""

    def __init__(self, api_version: str = "1.45", images: tuple[str, ...] = ("busybox:latest",)):
        self.api_version = api_version
        self.images = set(images)
        self.containers: dict[str, FakeContainer] = {}
        self.requests: list[Request] = []
        self.resizes: list[tuple[int, int]] = []
        self.canned: dict[str, Any] = {}
        self._counter = 0
        self._dir = tempfile.mkdtemp(prefix="fake-engine-")
        self.path = os.path.join(self._dir, "engine.sock")
        engine = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                engine._serve(self.connection, self.rfile)

        class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True

        self._server = Server(self.path, Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        for c in self.containers.values():
            c.started.set()
            c.exited.set()
        try:
            os.unlink(self.path)
            os.rmdir(self._dir)
        except OSError:
            pass

    def paths(self) -> list[str]:
        """`METHOD /path` of every request, version prefix removed."""
        return [f"{r.method} {_unversioned(r.path)}" for r in self.requests]

    # --- HTTP -------------------------------------------------------------------------

    def _serve(self, conn: socket.socket, rfile: Any) -> None:
        while True:
            line = rfile.readline()
            if not line:
                return
            method, target, _ = line.decode("latin-1").split(" ", 2)
            headers: dict[str, str] = {}
            while True:
                h = rfile.readline().decode("latin-1").rstrip("\r\n")
                if not h:
                    break
                k, _, v = h.partition(":")
                headers[k.strip().lower()] = v.strip()
            body = self._read_body(rfile, headers)
            parts = urlsplit(target)
            req = Request(method, unquote(parts.path), parse_qs(parts.query), headers, body)
            self.requests.append(req)
            keep = self._dispatch(conn, rfile, req)
            if not keep:
                return

    @staticmethod
    def _read_body(rfile: Any, headers: dict[str, str]) -> bytes:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    rfile.readline()
                    return data
                data += rfile.read(size)
                rfile.readline()
        length = int(headers.get("content-length") or 0)
        return rfile.read(length) if length else b""

    def _send(
        self, conn: socket.socket, status: int, body: Any = b"", ctype: str = "application/json"
    ) -> bool:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        reason = {
            200: "OK",
            201: "Created",
            204: "No Content",
            404: "Not Found",
            400: "Bad Request",
            409: "Conflict",
            500: "Internal Server Error",
        }.get(status, "X")
        head = (
            f"HTTP/1.1 {status} {reason}\r\nApi-Version: {self.api_version}\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {len(data)}\r\n\r\n"
        )
        conn.sendall(head.encode() + data)
        return True

    def _error(self, conn: socket.socket, status: int, message: str) -> bool:
        return self._send(conn, status, {"message": message})

    def _start_chunked(self, conn: socket.socket, ctype: str = "application/json") -> None:
        conn.sendall(
            f"HTTP/1.1 200 OK\r\nApi-Version: {self.api_version}\r\nContent-Type: {ctype}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )

    @staticmethod
    def _chunk(conn: socket.socket, data: bytes) -> None:
        conn.sendall(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    def _dispatch(self, conn: socket.socket, rfile: Any, req: Request) -> bool:
        path = _unversioned(req.path)
        key = f"{req.method} {path}"
        if key in self.canned:
            status, body = self.canned[key]
            return self._send(conn, status, body)
        if path == "/_ping":
            return self._send(conn, 200, b"OK", "text/plain")
        if key == "GET /version":
            return self._send(
                conn,
                200,
                {
                    "Version": "0.1.0",
                    "ApiVersion": self.api_version,
                    "MinAPIVersion": "1.24",
                    "Os": "linux",
                    "Arch": "amd64",
                },
            )
        if key == "POST /containers/create":
            return self._create(conn, req)
        if key == "POST /images/create":
            return self._pull(conn, req)
        if key == "GET /containers/json":
            return self._send(
                conn,
                200,
                [
                    {
                        "Id": c.id,
                        "Names": ["/" + c.name],
                        "Image": c.config["Image"],
                        "Command": " ".join(c.config.get("Cmd") or []),
                        "Created": 0,
                        "Ports": [],
                        "State": "exited",
                        "Status": "Exited (0) 1 second ago",
                    }
                    for c in self.containers.values()
                ],
            )
        if path.startswith("/containers/"):
            rest = path[len("/containers/") :]
            ident, _, action = rest.partition("/")
            container = self._find(ident)
            if container is None:
                return self._error(conn, 404, f"No such container: {ident}")
            return self._container(conn, req, container, action)
        return self._error(conn, 404, f"page not found: {key}")

    def _find(self, ident: str) -> FakeContainer | None:
        for c in self.containers.values():
            if c.id.startswith(ident) or c.name == ident:
                return c
        return None

    # --- containers ------------------------------------------------------------------

    def _create(self, conn: socket.socket, req: Request) -> bool:
        body = req.json()
        image = body["Image"] if ":" in body["Image"] else body["Image"] + ":latest"
        if image not in self.images:
            return self._error(conn, 404, f"No such image: {image}")
        self._counter += 1
        cid = f"{self._counter:x}".rjust(64, "c")
        name = (req.query.get("name") or [f"c{self._counter}"])[0]
        self.containers[cid] = FakeContainer(cid, name, body)
        return self._send(conn, 201, {"Id": cid, "Warnings": []})

    def _container(self, conn: socket.socket, req: Request, c: FakeContainer, action: str) -> bool:
        if action == "json":
            return self._send(
                conn,
                200,
                {
                    "Id": c.id,
                    "Name": "/" + c.name,
                    "Config": c.config,
                    "HostConfig": c.config.get("HostConfig", {}),
                    "State": {"Status": "exited", "ExitCode": c.exit_code},
                },
            )
        if action == "start":
            cmd = c.config.get("Cmd") or []
            if cmd[:1] == ["missing"]:
                return self._error(
                    conn,
                    400,
                    'failed to create task: exec: "missing": executable file not found in $PATH',
                )
            self._run(c)
            return self._send(conn, 204, b"")
        if action == "wait":
            self._start_chunked(conn)
            c.exited.wait(10)
            self._chunk(conn, json.dumps({"StatusCode": c.exit_code, "Error": None}).encode())
            self._chunk(conn, b"")
            return True
        if action == "attach":
            return self._attach(conn, req, c)
        if action == "resize":
            self.resizes.append((int(req.query["h"][0]), int(req.query["w"][0])))
            return self._send(conn, 200, b"")
        if action == "logs":
            c.exited.wait(10)
            tty = c.config.get("Tty")
            data = b"".join(p if tty else _frame(s, p) for s, p in c.output)
            return self._send(conn, 200, data, "application/vnd.docker.multiplexed-stream")
        if action == "" and req.method == "DELETE":
            del self.containers[c.id]
            return self._send(conn, 204, b"")
        if action in ("stop", "kill", "restart"):
            return self._send(conn, 204, b"")
        return self._error(conn, 404, f"unknown action {action}")

    def _run(self, c: FakeContainer) -> None:
        cmd = c.config.get("Cmd") or []
        if cmd[:1] == ["echo"]:
            c.output.append((1, (" ".join(cmd[1:]) + "\n").encode()))
            c.exit_code = 0
        elif cmd[:1] == ["fail"]:
            c.output.append((1, b"partial\n"))
            c.output.append((2, b"boom\n"))
            c.exit_code = int(cmd[1])
        c.started.set()
        if cmd[:1] != ["cat"]:
            c.exited.set()

    def _attach(self, conn: socket.socket, req: Request, c: FakeContainer) -> bool:
        conn.sendall(
            b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
        )
        tty = bool(c.config.get("Tty"))
        c.started.wait(10)
        if (c.config.get("Cmd") or [])[:1] == ["cat"]:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                c.output.append((1, data))
                conn.sendall(data if tty else _frame(1, data))
            c.exit_code = 0
            c.exited.set()
        else:
            c.exited.wait(10)
            for stream, payload in c.output:
                conn.sendall(payload if tty else _frame(stream, payload))
        conn.shutdown(socket.SHUT_RDWR)
        return False

    # --- images ----------------------------------------------------------------------

    def _pull(self, conn: socket.socket, req: Request) -> bool:
        # Docker's CLI sends the normalized name (docker.io/library/alpine).
        name = req.query["fromImage"][0].removeprefix("docker.io/").removeprefix("library/")
        tag = (req.query.get("tag") or ["latest"])[0]
        if name == "nosuch":
            return self._error(
                conn, 404, "pull access denied for nosuch, repository does not exist"
            )
        self._start_chunked(conn)
        for message in (
            {"status": f"Pulling from library/{name}", "id": tag},
            {"status": "Pulling fs layer", "id": "aaaa"},
            {
                "status": "Downloading",
                "progressDetail": {"current": 1, "total": 2},
                "progress": "[==>   ]",
                "id": "aaaa",
            },
            {"status": "Pull complete", "id": "aaaa"},
            {"status": "Digest: sha256:" + "0" * 64},
            {"status": f"Status: Downloaded newer image for {name}:{tag}"},
        ):
            self._chunk(conn, json.dumps(message).encode() + b"\r\n")
        self._chunk(conn, b"")
        self.images.add(f"{name}:{tag}")
        return True


def _frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(payload)) + payload


def _unversioned(path: str) -> str:
    if path.startswith("/v") and "/" in path[1:]:
        head, _, rest = path[1:].partition("/")
        if head[1:].replace(".", "").isdigit():
            return "/" + rest
    return path

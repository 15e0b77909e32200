# SPDX-License-Identifier: Apache-2.0
"""An Engine API server on a unix socket that answers from a script and records requests.

Used two ways: `record_docker.py` points the official docker CLI at it to capture what
Docker sends and prints for a command line, and `test_cli_docker_parity.py` points our
CLI at the same script and checks that we send and print the same.

A script maps `"METHOD /path"` (unversioned; `*` matches one path segment) to a
response, or to a list of responses used in turn (the last one repeats):

    {"status": 200, "json": {...}}                      JSON body
    {"status": 200, "body": "text", "headers": {...}}   raw body (str or bytes)
    {"status": 200, "chunks": ["..", ".."]}             chunked streaming body
    {"status": 200, "frames": [[1, "out"], [2, "err"]]} stdcopy-framed log body
    {"hijack": True, "frames": [[1, "out"]], "stdin": True, "tty": False}
                                                        101 upgrade (attach, exec start)
    {"status": 404, "message": "No such container: x"}  an error

Anything unscripted answers 404 `page not found`, which shows up in a test's failure.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import os
import socket
import socketserver
import struct
import tempfile
import threading
import time
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

PING_HEADERS = {
    "Api-Version": "1.45",
    "Builder-Version": "2",
    "Docker-Experimental": "false",
    "Ostype": "linux",
    "Server": "Docker/28.2.2 (linux)",
}

DEFAULT_ROUTES: dict[str, Any] = {
    "GET /version": {
        "status": 200,
        "json": {
            "Version": "28.2.2",
            "ApiVersion": "1.45",
            "MinAPIVersion": "1.24",
            "Os": "linux",
            "Arch": "amd64",
        },
    },
}

_REASONS = {
    101: "Switching Protocols",
    200: "OK",
    201: "Created",
    204: "No Content",
    304: "Not Modified",
    400: "Bad Request",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
}


class ScriptedEngine:
    """Serve `routes` on a fresh unix socket; `requests` lists what came in (pings left out)."""

    def __init__(self, routes: dict[str, Any] | None = None):
        self.routes = {**DEFAULT_ROUTES, **(routes or {})}
        self.requests: list[dict[str, Any]] = []
        self._used: dict[str, int] = {}
        self._lock = threading.Lock()
        self._dir = tempfile.mkdtemp(prefix="scripted-engine-")
        self.path = os.path.join(self._dir, "engine.sock")
        engine = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                try:
                    engine._serve(self.connection, self.rfile)
                except (ConnectionError, OSError):
                    pass

        class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True

        self._server = Server(self.path, Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.005}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        try:
            os.unlink(self.path)
            os.rmdir(self._dir)
        except OSError:
            pass

    def __enter__(self) -> ScriptedEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- HTTP ---------------------------------------------------------------------

    def _serve(self, conn: socket.socket, rfile: Any) -> None:
        while True:
            line = rfile.readline()
            if not line or not line.strip():
                return
            method, target, _ = line.decode("latin-1").split(" ", 2)
            headers: dict[str, str] = {}
            while True:
                raw = rfile.readline().decode("latin-1").rstrip("\r\n")
                if not raw:
                    break
                key, _, value = raw.partition(":")
                headers[key.strip().lower()] = value.strip()
            parts = urlsplit(target)
            path = _unversioned(unquote(parts.path))
            upgrade = headers.get("upgrade", "").lower() == "tcp"
            body = b"" if upgrade else _read_body(rfile, headers)
            if path == "/_ping":
                self._send(conn, 200, b"OK" if method == "GET" else b"", "text/plain", PING_HEADERS)
                continue
            record = {
                "method": method,
                "path": path,
                "query": parse_qs(parts.query, keep_blank_values=True),
                "content_type": headers.get("content-type", ""),
                "body": _decode_body(body, headers),
            }
            if upgrade:
                # Hijacked requests carry a small JSON body (exec start); read it now.
                length = int(headers.get("content-length") or 0)
                record["body"] = _decode_body(rfile.read(length) if length else b"", headers)
            with self._lock:
                self.requests.append(record)
                spec = self._response_for(method, path)
            if spec.get("delay"):
                time.sleep(spec["delay"])
            if spec.get("hijack"):
                self._hijack(conn, rfile, spec, record)
                return
            if not self._respond(conn, method, spec):
                return

    def _response_for(self, method: str, path: str) -> dict[str, Any]:
        key = f"{method} {path}"
        chosen = None
        if key in self.routes:
            chosen = key
        else:
            for pattern in self.routes:
                if fnmatch.fnmatchcase(key, pattern) and _segments(pattern) == _segments(key):
                    chosen = pattern
                    break
        if chosen is None:
            return {"status": 404, "message": f"page not found: {key}"}
        spec = self.routes[chosen]
        if isinstance(spec, list):
            index = self._used.get(chosen, 0)
            self._used[chosen] = index + 1
            spec = spec[min(index, len(spec) - 1)]
        return spec

    def _respond(self, conn: socket.socket, method: str, spec: dict[str, Any]) -> bool:
        status = spec.get("status", 200)
        headers = dict(spec.get("headers") or {})
        if "message" in spec:
            data = json.dumps({"message": spec["message"]}).encode() + b"\n"
            if method == "HEAD":
                return self._send(conn, status, b"", "application/json", headers, length=len(data))
            return self._send(conn, status, data, "application/json", headers)
        if "chunks" in spec or "frames" in spec:
            ctype = headers.pop("Content-Type", "application/json")
            if "frames" in spec:
                ctype = "application/vnd.docker.multiplexed-stream"
            head = (
                f"HTTP/1.1 {status} {_REASONS.get(status, 'X')}\r\nApi-Version: 1.45\r\n"
                f"Content-Type: {ctype}\r\nTransfer-Encoding: chunked\r\n"
                + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
                + "\r\n"
            )
            conn.sendall(head.encode())
            pieces = [_bytes(c) for c in spec.get("chunks", [])]
            pieces += [_frame(s, _bytes(p)) for s, p in spec.get("frames", [])]
            for piece in pieces:
                if spec.get("chunk_delay"):
                    time.sleep(spec["chunk_delay"])
                conn.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            if spec.get("hold_open"):
                time.sleep(spec["hold_open"])
            conn.sendall(b"0\r\n\r\n")
            return True
        if "json" in spec:
            data = json.dumps(spec["json"]).encode() + b"\n"
            return self._send(conn, status, data, "application/json", headers)
        data = _bytes(spec.get("body", b""))
        ctype = headers.pop("Content-Type", "text/plain; charset=utf-8")
        if method == "HEAD":
            return self._send(conn, status, b"", ctype, headers, length=len(data))
        return self._send(conn, status, data, ctype, headers)

    def _send(
        self,
        conn: socket.socket,
        status: int,
        data: bytes,
        ctype: str,
        headers: dict[str, str] | None = None,
        length: int | None = None,
    ) -> bool:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'X')}", "Api-Version: 1.45"]
        if status not in (204, 304):
            lines.append(f"Content-Type: {ctype}")
            lines.append(f"Content-Length: {len(data) if length is None else length}")
        lines += [f"{k}: {v}" for k, v in (headers or {}).items() if k != "Api-Version"]
        body = b"" if status in (204, 304) or length is not None else data
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        return True

    def _hijack(self, conn: socket.socket, rfile: Any, spec: dict[str, Any], record: dict[str, Any]) -> None:
        tty = spec.get("tty", False)
        conn.sendall(
            b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker."
            + (b"raw-stream" if tty else b"multiplexed-stream")
            + b"\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
        )
        stdin = b""
        if spec.get("stdin"):
            # Read what the client sends until it half-closes, then answer.
            while True:
                data = rfile.read1(65536) if hasattr(rfile, "read1") else conn.recv(65536)
                if not data:
                    break
                stdin += data
            record["stdin"] = stdin.decode("utf-8", "replace")
        for stream, payload in spec.get("frames", []):
            data = _bytes(payload)
            if stream == "stdin":
                data = stdin
                stream = 1
            conn.sendall(data if tty else _frame(stream, data))
        if spec.get("hold_open"):
            time.sleep(spec["hold_open"])
        try:
            conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _read_body(rfile: Any, headers: dict[str, str]) -> bytes:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        data = b""
        while True:
            size = int(rfile.readline().strip().split(b";")[0] or b"0", 16)
            if size == 0:
                while rfile.readline().strip():
                    pass
                return data
            data += rfile.read(size)
            rfile.readline()
    length = int(headers.get("content-length") or 0)
    return rfile.read(length) if length else b""


def _decode_body(body: bytes, headers: dict[str, str]) -> Any:
    if not body:
        return None
    if "json" in headers.get("content-type", "") or body[:1] in (b"{", b"["):
        try:
            return json.loads(body)
        except ValueError:
            pass
    if headers.get("content-type", "") == "application/x-tar" or len(body) >= 512 and body[257:262] == b"ustar":
        return {"tar": tar_members(body)}
    try:
        return {"text": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(body).decode()}


def tar_members(data: bytes) -> list[list[Any]]:
    """[name, type, mode, size, linkname, content-if-small] for each member of a tar."""
    import io
    import tarfile

    members = []
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            for info in tar:
                content = ""
                if info.isfile() and info.size <= 256:
                    extracted = tar.extractfile(info)
                    content = extracted.read().decode("utf-8", "replace") if extracted else ""
                members.append(
                    [info.name, info.type.decode(), info.mode, info.size, info.linkname, content]
                )
    except tarfile.TarError as exc:
        return [["<bad tar>", str(exc)]]
    return members


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value).encode() + b"\n"
    return str(value).encode()


def _frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(payload)) + payload


def _segments(text: str) -> int:
    return text.count("/")


def _unversioned(path: str) -> str:
    if path.startswith("/v") and "/" in path[1:]:
        head, _, rest = path[1:].partition("/")
        if head[1:].replace(".", "").isdigit():
            return "/" + rest
    return path

"""A loopback HTTP mirror for download tests: serves a folder, honours Range, can misbehave.

    with MirrorServer(folder) as mirror:
        download_mnist(cache, mirrors=(mirror.url,))

`requests` logs (method, file name, Range header) of every request; `drop_halfway` holds file
names whose next GET sends half its body and hangs up; `ignore_range` answers Range with 200.
`misbehave` maps file names to what a hostile or broken mirror does instead of serving them:
    "huge"      declares HUGE bytes (HEAD and GET) and sends zeros until the client leaves
    "huge-get"  answers HEAD truthfully, then declares HUGE bytes on GET and sends zeros
    "endless"   declares no length and sends zeros until the client leaves
    "overlong"  declares the file's length but sends the file followed by 1 MB of zeros
    "trickle"   declares the file's length and sends one byte every `trickle_interval` seconds
    "mute"      accepts the connection and never answers (HEAD and GET)
"""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HUGE = 5_000_000_000
ZEROS = bytes(1 << 16)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def do_GET(self) -> None:
        self._serve(send_body=True)

    def _serve(self, send_body: bool) -> None:
        mirror = self.server.mirror
        name = Path(self.path).name  # no way out of the folder
        range_header = self.headers.get("Range")
        with mirror.lock:
            mirror.requests.append((self.command, name, range_header))
            drop = send_body and name in mirror.drop_halfway
            if drop:
                mirror.drop_halfway.discard(name)
        path = mirror.folder / name
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        mode = mirror.misbehave.get(name)
        if mode is not None and (send_body or mode != "huge-get"):
            self._misbehave(mode, data, send_body)
            return
        match = re.fullmatch(r"bytes=(\d+)-", range_header or "")
        start = int(match[1]) if match and not mirror.ignore_range else 0
        if start >= len(data) > 0:
            self.send_error(416)
            return
        self.send_response(206 if match and not mirror.ignore_range else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        if send_body:
            body = data[start:]
            self.wfile.write(body[: len(body) // 2] if drop else body)
            self.close_connection = True

    def _misbehave(self, mode: str, data: bytes, send_body: bool) -> None:
        mirror = self.server.mirror
        if mode == "mute":
            mirror.closing.wait()
            return
        self.send_response(200)
        if mode in ("huge", "huge-get"):
            self.send_header("Content-Length", str(HUGE))
        elif mode != "endless":
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.close_connection = True
        if not send_body:
            return
        if mode == "overlong":
            self.wfile.write(data + bytes(1 << 20))
        elif mode == "trickle":
            for i in range(len(data)):
                if mirror.closing.wait(mirror.trickle_interval):
                    return
                self.wfile.write(data[i : i + 1])
                self.wfile.flush()
        else:  # zeros until the client hangs up (a broken pipe) or the server closes
            while not mirror.closing.is_set():
                self.wfile.write(ZEROS)
                with mirror.lock:
                    mirror.zeros_sent += len(ZEROS)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output clean


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # so server_close() joins every handler thread
    mirror: MirrorServer

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that cancels mid-body breaks the pipe; that is expected here


class MirrorServer:
    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.requests: list[tuple[str, str, str | None]] = []
        self.drop_halfway: set[str] = set()
        self.ignore_range = False
        self.misbehave: dict[str, str] = {}
        self.trickle_interval = 1.0
        self.zeros_sent = 0
        self.closing = threading.Event()  # ends endless and trickling answers on exit
        self.lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.mirror = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,))

    def gets(self, name: str) -> list[str | None]:
        """The Range header of each GET of `name`, in order (None: no Range)."""
        with self.lock:
            return [r for method, n, r in self.requests if method == "GET" and n == name]

    def __enter__(self) -> MirrorServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        assert not self._thread.is_alive(), "mirror server thread did not stop"

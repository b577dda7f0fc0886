"""Fetching one URL into a file, bounded in size and in time, and cancellable within POLL seconds.

Why a thread per request: a socket timeout bounds each recv, not a whole download (a server that
sends one byte a second never trips it), and a recv blocked in one thread cannot be interrupted
from that thread. So each request runs in a daemon thread that hands its answer over a small
queue; the caller only ever waits on that queue in POLL steps and checks the cancel flag and the
deadline between them. On cancel or timeout the caller shuts the request's socket down, which
ends the thread's blocked recv at once (a thread still resolving a name or connecting ends at its
socket timeout; nothing waits for it).
"""

from __future__ import annotations

import queue
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from email.message import Message
from http.client import HTTPConnection, HTTPSConnection
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.request import (
    HTTPDefaultErrorHandler,
    HTTPErrorProcessor,
    HTTPHandler,
    HTTPRedirectHandler,
    HTTPSHandler,
    OpenerDirector,
    ProxyHandler,
    Request,
)

from mlp_studio.core.errors import DataFormatError, DownloadCancelled

POLL = 0.1  # seconds between checks of cancel and the deadline
CHUNK = 1 << 16
QUEUE_CHUNKS = 16  # read-ahead between the network thread and the writer (1 MB)

Cancel = Callable[[], bool]


@dataclass(frozen=True)
class Limits:
    """How long a download may take. A file's deadline covers connecting and all its reads."""

    stall: float = 20.0  # socket timeout: connecting, or waiting for the next byte
    grace: float = 20.0  # seconds per request on top of the transfer time (and for a HEAD)
    min_rate: float = 100_000.0  # bytes/s a file must average; a slower mirror is given up on

    def deadline(self, max_bytes: int) -> float:
        """Seconds allowed for a file of at most max_bytes."""
        return self.grace + max_bytes / self.min_rate


DEFAULT_LIMITS = Limits()


def check_cancel(cancel: Cancel | None) -> None:
    if cancel is not None and cancel():
        raise DownloadCancelled("Download cancelled; the next download resumes where it stopped.")


def remote_size(url: str, max_bytes: int, limits: Limits, cancel: Cancel | None = None) -> int:
    """The Content-Length a HEAD request declares (0 if none); refused above max_bytes."""
    with _Request(url, "HEAD", {}, limits.stall, limits.grace, cancel) as request:
        _, headers = request.response()
    size = _content_length(headers) or 0
    _check_declared(size, max_bytes)
    return size


def fetch(
    url: str,
    part: Path,
    size: int,
    max_bytes: int,
    limits: Limits,
    cancel: Cancel | None = None,
) -> Iterator[int]:
    """Complete `part` from url (resuming with a Range request); yields its length as it grows.

    size is what a HEAD request declared (0: unknown). Nothing is written when the answer declares
    more than max_bytes; a body that grows past it is cut off there and `part` deleted. The whole
    request must end within limits.deadline(max_bytes) seconds.
    """
    have = part.stat().st_size if part.exists() else 0
    if have > max(size, 0) > 0 or have > max_bytes:  # longer than the file: not a prefix of it
        part.unlink()
        have = 0
    yield have
    if have == size > 0:  # finished earlier but not yet verified
        return
    headers = {"Range": f"bytes={have}-"} if have else {}
    seconds = limits.deadline(max_bytes)
    with _Request(url, "GET", headers, limits.stall, seconds, cancel) as request:
        status, answer = request.response()
        if status != 206:  # a fresh download, or a server that ignored Range
            have = 0
        length = _content_length(answer)
        end = None if length is None else have + length
        _check_declared(end or 0, max_bytes)  # before anything is written
        too_long = False
        with open(part, "ab" if have else "wb") as f:
            for chunk in request.body():
                if have + len(chunk) > max_bytes:
                    too_long = True
                    break
                f.write(chunk)
                have += len(chunk)
                yield have
        if too_long:
            part.unlink()
            raise DataFormatError(
                f"sent more than {max_bytes:,} bytes, more than any copy of this file takes; "
                "stopped there and deleted what came"
            )
    # http.client returns b"" rather than raising when a server hangs up early.
    if end is not None and have < end:
        raise ConnectionError(f"connection closed after {have:,} of {end:,} bytes (kept to resume)")


def _content_length(headers: Message) -> int | None:
    value = headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None  # http.client reads such a body to the end of the connection; capped anyway


def _check_declared(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise DataFormatError(
            f"declares {size:,} bytes, more than the {max_bytes:,} any copy of this file takes; "
            "refused before writing anything"
        )


class _Request:
    """One HTTP(S) request running in a daemon thread; its answer and body come over a queue."""

    def __init__(
        self,
        url: str,
        method: str,
        headers: Mapping[str, str],
        stall: float,
        seconds: float,
        cancel: Cancel | None,
    ) -> None:
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=QUEUE_CHUNKS)
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []  # appended by the thread as it connects
        self._seconds = seconds
        self._deadline = time.monotonic() + seconds
        self._cancel = cancel
        check_cancel(cancel)
        request = Request(url, method=method, headers=dict(headers))
        threading.Thread(
            target=self._run, args=(request, stall), name=f"download {url}", daemon=True
        ).start()

    def response(self) -> tuple[int, Message]:
        """The status and headers; raises what the request raised (URLError, HTTPError...)."""
        kind, value = self._get()
        assert kind == "response"
        return value

    def body(self) -> Iterator[bytes]:
        while (item := self._get())[0] == "data":
            yield item[1]

    def close(self) -> None:
        """Stop the thread: shutting its socket down ends a recv blocked in it at once."""
        self._stop.set()
        for sock in list(self._sockets):
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)  # not SSLSocket's: no TLS goodbye
            except OSError:
                pass  # already closed

    def __enter__(self) -> _Request:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self) -> tuple[str, Any]:
        while True:
            try:
                check_cancel(self._cancel)
            except DownloadCancelled:
                self.close()
                raise
            left = self._deadline - time.monotonic()
            if left <= 0:
                self.close()
                raise TimeoutError(
                    f"not done within {self._seconds:.3g} s, the limit for this file; the mirror "
                    "is too slow"
                )
            try:
                kind, value = self._queue.get(timeout=min(POLL, left))
            except queue.Empty:
                continue
            if kind == "error":
                raise value
            return kind, value

    def _run(self, request: Request, stall: float) -> None:
        try:
            with _opener(self._sockets, self._stop).open(request, timeout=stall) as response:
                self._put("response", (response.status, response.headers))
                while not self._stop.is_set() and (chunk := response.read1(CHUNK)):
                    self._put("data", chunk)
            self._put("end", None)
        except BaseException as e:  # handed to the caller, which reports it
            if isinstance(e, HTTPError):
                e.close()  # it holds the connection open
            self._put("error", e)

    def _put(self, kind: str, value: object) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put((kind, value), timeout=POLL)
                return
            except queue.Full:
                continue


def _opener(sockets: list[socket.socket], stop: threading.Event) -> OpenerDirector:
    """urllib's opener for http and https only (proxies from the environment, redirects), whose
    connections put their socket in `sockets` so that another thread can shut it down."""

    def recording(base: type[HTTPConnection]) -> type[HTTPConnection]:
        class Connection(base):  # type: ignore[misc, valid-type]
            def connect(self) -> None:
                super().connect()
                sockets.append(self.sock)
                if stop.is_set():  # stopped while this thread was connecting
                    self.sock.close()
                    raise ConnectionAbortedError("download stopped")

        return Connection

    context = ssl.create_default_context()

    class Http(HTTPHandler):
        def http_open(self, req: Request) -> Any:
            return self.do_open(recording(HTTPConnection), req)

    class Https(HTTPSHandler):
        def https_open(self, req: Request) -> Any:
            return self.do_open(recording(HTTPSConnection), req, context=context)

    opener = OpenerDirector()
    for handler in (ProxyHandler(), Http(), Https(context=context), HTTPDefaultErrorHandler(),
                    HTTPRedirectHandler(), HTTPErrorProcessor()):  # fmt: skip
        opener.add_handler(handler)
    return opener

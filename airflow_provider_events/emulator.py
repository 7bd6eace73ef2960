"""Local emulator of the Custom Events Analytics REST API, for demos, tests, benchmarks and offline DAG tests.

It serves ``GET /events/data_series`` and ``GET /events/list`` with deterministic counts, checks the
bearer key, enforces a rate limit, and can be scripted to fail (:class:`Fault`). It uses the standard
library only, so importing it is cheap.

In a pytest fixture::

    @pytest.fixture
    def emulator(monkeypatch):
        with EventsEmulator(events=600) as emu:
            monkeypatch.setenv("AIRFLOW_CONN_EVENTS_ANALYTICS_DEFAULT", emu.connection_json())
            yield emu

    def test_retries_a_503(emulator):
        emulator.enqueue(Fault(503), times=2)
        hook = EventsAnalyticsHook(retry_delay=0.01)
        points = hook.get_series("purchase", length=7, ending_at="2024-01-31T00:00:00Z")
        assert points == emulator.series("purchase", 7, ending_at="2024-01-31T00:00:00Z")
        assert emulator.request_count("/events/data_series") == 3

From a shell: ``python -m airflow_provider_events.emulator --port 8080 --api-key KEY``.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import dataclasses
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import socketserver
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

DEFAULT_EVENTS = ["add_to_cart", "app_open", "checkout_started", "purchase", "signup"]
DEFAULT_API_KEY = "emulator-key"
MAX_LENGTH = 100
PAGE_SIZE = 250
UNITS = ("day", "hour")
MANGLES = frozenset({"short", "long", "no_count", "no_data", "not_json", "disconnect"})
_STEP = {"day": timedelta(days=1), "hour": timedelta(hours=1)}
_MAX_COUNT = {"day": 10_000, "hour": 1_000}
_OFFSET = r"(Z|[+-]\d{2}(?::?\d{2})?)"
_OFFSET_RE = re.compile(_OFFSET, re.ASCII | re.IGNORECASE)
_DATETIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?" + _OFFSET + "?",
    re.ASCII | re.IGNORECASE,
)
_ENDING_AT_ERROR = (
    "ending_at must be an ISO 8601 date-time with an explicit offset or Z, e.g. 2014-12-10T23:59:59-05:00"
    " (a '+' in a query string must be sent as %2B)"
)
_SeriesKey = tuple[str, str | None, str | None]


# --- bucket arithmetic (pure) ---------------------------------------------------------------------


def parse_offset(text: str) -> timezone:
    """``"Z"``, ``"+05:30"``, ``"-0700"`` or ``"+05"`` as a fixed-offset timezone, else ``ValueError``."""
    if not _OFFSET_RE.fullmatch(text):
        raise ValueError(f"not a UTC offset: {text!r}")
    if text.upper() == "Z":
        return timezone.utc
    digits = text[1:].replace(":", "")
    delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
    return timezone(-delta if text[0] == "-" else delta)


def parse_ending_at(text: str) -> datetime:
    """Parse an ISO 8601 date-time that carries an offset; naive or malformed values raise ``ValueError``."""
    match = _DATETIME_RE.fullmatch(text)
    if not match or match.group(8) is None:
        raise ValueError(_ENDING_AT_ERROR)
    year, month, day, hour, minute, second = (int(g or 0) for g in match.groups()[:6])
    micros = int((match.group(7) or "0")[:6].ljust(6, "0"))
    try:
        return datetime(year, month, day, hour, minute, second, micros, parse_offset(match.group(8)))
    except ValueError:
        raise ValueError(_ENDING_AT_ERROR) from None


def as_fixed(moment: datetime | date) -> datetime:
    """An aware datetime in a fixed offset: naive and plain dates are UTC, zones with DST are pinned."""
    if not isinstance(moment, datetime):
        return datetime(moment.year, moment.month, moment.day, tzinfo=timezone.utc)
    offset = moment.utcoffset()
    if offset is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone(offset))


def floor_bucket(moment: datetime, unit: str) -> datetime:
    """Start of the bucket that contains ``moment``, in ``moment``'s own offset."""
    if unit == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def shift(start: datetime, unit: str, buckets: int) -> datetime:
    """Move a bucket start by ``buckets`` units (negative: back); offsets are fixed, so a day is 24 h."""
    return start + _STEP[unit] * buckets


def bucket_starts(ending_at: datetime, length: int, unit: str) -> list[datetime]:
    """The ``length`` bucket starts ending with the bucket that contains ``ending_at``, oldest first."""
    last = floor_bucket(ending_at, unit)
    return [shift(last, unit, index - length + 1) for index in range(length)]


def format_bucket(start: datetime, unit: str, out_tz: timezone | None = None) -> str:
    """``YYYY-MM-DD`` for days; for hours ISO 8601 extended with offset, in ``out_tz`` if given."""
    if unit == "day":
        return start.date().isoformat()
    return (start.astimezone(out_tz) if out_tz else start).isoformat()


def _base_count(key: _SeriesKey, start: datetime, unit: str) -> int:
    # Hours are keyed by their UTC instant and days by their calendar date, so the same bucket asked
    # in another offset gets the same count; blake2b keeps it stable across processes, unlike hash().
    bucket = start.date().isoformat() if unit == "day" else str(int(start.timestamp()))
    text = "\x1f".join((unit, key[0], key[1] or "", key[2] or "", bucket))
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % _MAX_COUNT[unit]


# --- scripted behaviour ---------------------------------------------------------------------------


@dataclass
class Fault:
    """
    One scripted answer, consumed by the next request it matches (see :meth:`EventsEmulator.enqueue`).

    A fault with another status or a body replaces the response, before the rate limit and the key
    are checked, and carries only the headers given here. A fault with status 200 and no body keeps
    the normal response (rate limit, key and parameter checks included) and adds ``headers``,
    ``delay`` and ``mangle`` to it; a mangle other than ``disconnect`` only alters a 200.

    :param status: HTTP status to answer.
    :param body: dict (sent as JSON), str or bytes (sent as text/plain); None gives the normal body
        for 200 and ``{"message": <reason>, "errors": [<reason>]}`` otherwise.
    :param headers: extra response headers, sent with their case as given.
    :param delay: seconds to wait before answering, e.g. to provoke a client read timeout.
    :param mangle: ``short`` drops the oldest point, ``long`` appends the next bucket, ``no_count``
        drops one point's count, ``no_data`` drops ``data`` (or ``events``), ``not_json`` sends HTML,
        ``disconnect`` sends half the body and closes the connection.
    :param path: consume the fault only on this path; None matches any request.
    """

    status: int = 200
    body: bytes | str | dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    mangle: str | None = None
    path: str | None = None

    def __post_init__(self) -> None:
        if not 100 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP status code, got {self.status!r}")
        if self.mangle is not None and self.mangle not in MANGLES:
            raise ValueError(f"mangle must be one of {sorted(MANGLES)}, got {self.mangle!r}")


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the emulator received it, and the status it answered (0 for a disconnect)."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str] = field(repr=False)
    status: int
    at: float


@dataclass
class _Reply:
    status: int
    payload: dict[str, Any] | None = None
    raw: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    delay: float = 0.0
    disconnect: bool = False
    query: _SeriesQuery | None = None

    def render(self, close: bool) -> tuple[bytes, bytes]:
        body = (
            json.dumps(self.payload, separators=(",", ":")).encode() if self.payload is not None else self.raw
        )
        lines = [f"HTTP/1.1 {self.status} {_reason(self.status)}", f"Content-Length: {len(body)}"]
        if not any(name.lower() == "content-type" for name, _ in self.headers):
            lines.append(f"Content-Type: {self.content_type}")
        lines += [f"{name}: {value}" for name, value in self.headers]
        if close:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), body

    def add_headers(self, extra: dict[str, str]) -> None:
        """Add headers, replacing ours of the same name in any case (Content-Length is always ours)."""
        names = {name.lower() for name in extra}
        kept = [(name, value) for name, value in self.headers if name.lower() not in names]
        self.headers = kept + [(n, v) for n, v in extra.items() if n.lower() != "content-length"]


@dataclass(frozen=True)
class _SeriesQuery:
    event: str
    length: int
    unit: str
    ending_at: datetime
    app_id: str | None = None
    segment_id: str | None = None

    @property
    def key(self) -> _SeriesKey:
        return (self.event, self.app_id or None, self.segment_id or None)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _error(status: int, message: str, errors: list[str] | None = None) -> _Reply:
    return _Reply(status, {"message": message, "errors": errors or [message]})


def _scripted_reply(fault: Fault) -> _Reply:
    if fault.body is None:
        return _error(fault.status, _reason(fault.status))
    if isinstance(fault.body, dict):
        return _Reply(fault.status, fault.body)
    raw = fault.body.encode() if isinstance(fault.body, str) else fault.body
    return _Reply(fault.status, raw=raw, content_type="text/plain; charset=utf-8")


def _parse_count(text: str | None) -> int | None:
    return int(text) if text is not None and text.isascii() and text.isdigit() else None


def _series_query(params: dict[str, str], now: datetime) -> tuple[_SeriesQuery | None, list[str]]:
    errors = []
    event = params.get("event", "")
    if not event:
        errors.append("event is required and must be a non-empty string")
    length = _parse_count(params.get("length"))
    if length is None or not 1 <= length <= MAX_LENGTH:
        errors.append(f"length must be an integer between 1 and {MAX_LENGTH}")
    unit = params.get("unit", "day")
    if unit not in UNITS:
        errors.append('unit must be "day" or "hour"')
    ending_at = now
    if "ending_at" in params:
        try:
            ending_at = parse_ending_at(params["ending_at"])
        except ValueError as exc:
            errors.append(str(exc))
    if errors or length is None:
        return None, errors
    query = _SeriesQuery(event, length, unit, ending_at, params.get("app_id"), params.get("segment_id"))
    return query, []


# --- the emulator ---------------------------------------------------------------------------------


class EventsEmulator:
    """
    An in-process server speaking the Custom Events Analytics API on ``host:port``.

    :param api_key: the only key accepted, as ``Authorization: Bearer <api_key>``.
    :param events: names served by ``/events/list``; an int N gives ``event_0000`` .. ``event_{N-1}``.
    :param latency: seconds from a request's arrival to its answer (may be changed while running);
        the emulator's own work happens within it.
    :param rate_limit: requests allowed per window, shared by all endpoints.
    :param rate_window: window length in seconds, aligned to multiples of it in epoch time.
    :param response_offset: render hourly time strings in this fixed offset (e.g. ``"-05:00"``);
        None renders them in the offset of ``ending_at``.
    :param host: address to bind.
    :param port: port to bind; 0 picks a free one.
    :param verbose: log one line per request (method, path, status; never headers) to stderr.
    """

    def __init__(
        self,
        api_key: str = DEFAULT_API_KEY,
        *,
        events: list[str] | int | None = None,
        latency: float = 0.0,
        rate_limit: int = 250_000,
        rate_window: int = 3600,
        response_offset: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        verbose: bool = False,
    ) -> None:
        if rate_window < 1 or rate_limit < 0:
            raise ValueError("rate_window must be >= 1 second and rate_limit >= 0")
        self.api_key = api_key
        if isinstance(events, int):
            events = [f"event_{index:04d}" for index in range(events)]
        self.events: list[str] = list(DEFAULT_EVENTS if events is None else events)
        self.latency = latency
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.response_tz = parse_offset(response_offset) if response_offset else None
        self.host = host
        self.verbose = verbose
        self._requested_port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self._log: list[list[Any]] = []
        self._recorded: dict[_SeriesKey, tuple[list[float], list[int]]] = {}
        self._rate_index, self._rate_used = -1, 0

    # lifecycle

    def start(self) -> EventsEmulator:
        """Serve in a daemon thread until :meth:`stop`; returns self."""
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        self._server = _Server((self.host, self._requested_port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.name = f"events-emulator-{self.port}"
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections and close the socket; safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.drop_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> EventsEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the emulator is not running: call start() or use it as a context manager")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def connection_json(self, conn_type: str = "events_analytics") -> str:
        """JSON for an ``AIRFLOW_CONN_*`` environment variable pointing at this emulator."""
        return json.dumps({"conn_type": conn_type, "host": self.url, "password": self.api_key})

    # data

    def count(
        self,
        event: str,
        bucket_start: datetime | date,
        unit: str,
        app_id: str | None = None,
        segment_id: str | None = None,
    ) -> int:
        """Count of the ``unit`` bucket holding ``bucket_start`` (naive = UTC), recorded events included."""
        if unit not in UNITS:
            raise ValueError(f'unit must be "day" or "hour", got {unit!r}')
        start = floor_bucket(as_fixed(bucket_start), unit)
        return self._bucket_count((event, app_id or None, segment_id or None), start, unit)

    def _bucket_count(self, key: _SeriesKey, start: datetime, unit: str) -> int:
        base = _base_count(key, start, unit)
        with self._lock:
            entry = self._recorded.get(key)
            if entry is None:
                return base
            times, counts = entry
            first = bisect.bisect_left(times, start.timestamp())
            end = bisect.bisect_left(times, shift(start, unit, 1).timestamp())
            return base + sum(counts[first:end])

    def record(
        self,
        event: str,
        n: int = 1,
        *,
        at: datetime | None = None,
        app_id: str | None = None,
        segment_id: str | None = None,
    ) -> None:
        """
        Add ``n`` occurrences at ``at`` (default now; naive = UTC).

        They count in the hour and day buckets holding ``at``, in series asked with the same
        ``app_id`` and ``segment_id`` (None and "" both meaning none).
        """
        stamp = as_fixed(at).timestamp() if at is not None else time.time()
        with self._lock:
            times, counts = self._recorded.setdefault((event, app_id or None, segment_id or None), ([], []))
            index = bisect.bisect_right(times, stamp)
            times.insert(index, stamp)
            counts.insert(index, n)

    def series(
        self,
        event: str,
        length: int,
        unit: str = "day",
        ending_at: str | datetime | None = None,
        app_id: str | None = None,
        segment_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """The ``data`` one request for this window would return, without the cap of 100 on ``length``."""
        if not event or length < 1 or unit not in UNITS:
            raise ValueError("series() needs a non-empty event, length >= 1 and unit 'day' or 'hour'")
        if ending_at is None:
            moment = datetime.now(timezone.utc)
        else:
            moment = parse_ending_at(ending_at) if isinstance(ending_at, str) else as_fixed(ending_at)
        return self._points(_SeriesQuery(event, length, unit, moment, app_id, segment_id))

    def _points(self, query: _SeriesQuery) -> list[dict[str, Any]]:
        return [
            {
                "time": format_bucket(start, query.unit, self.response_tz),
                "count": self._bucket_count(query.key, start, query.unit),
            }
            for start in bucket_starts(query.ending_at, query.length, query.unit)
        ]

    # scripting and inspection

    def enqueue(self, *faults: Fault, times: int = 1) -> None:
        """Queue faults (each ``times`` times in a row), consumed first in, first out."""
        with self._lock:
            for fault in faults:
                self._faults.extend([fault] * times)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order (status -1 while one is still being answered)."""
        with self._lock:
            return [RecordedRequest(*entry) for entry in self._log]

    def request_count(self, path: str | None = None) -> int:
        with self._lock:
            return sum(1 for entry in self._log if path is None or entry[1] == path)

    def reset(self) -> None:
        """Forget the request log, queued faults, recorded events and rate-limit usage."""
        with self._lock:
            self._log.clear()
            self._faults.clear()
            self._recorded.clear()
            self._rate_index, self._rate_used = -1, 0

    # request pipeline

    def _handle(self, method: str, path: str, params: dict[str, str], headers: dict[str, str]) -> _Reply:
        entry: list[Any] = [method, path, params, headers, -1, time.time()]
        with self._lock:
            self._log.append(entry)
            fault = self._faults.popleft() if self._faults and self._faults[0].path in (None, path) else None
        if fault is not None and (fault.status != 200 or fault.body is not None):
            reply = _scripted_reply(fault)
        else:
            reply = self._normal_reply(method, path, params, headers)
        if fault is not None:
            if fault.mangle and fault.status == reply.status == 200 and fault.body is None:
                self._mangle(reply, fault.mangle)
            reply.add_headers(fault.headers)
            reply.delay, reply.disconnect = fault.delay, fault.mangle == "disconnect"
        entry[4] = 0 if reply.disconnect else reply.status
        return reply

    def _normal_reply(
        self, method: str, path: str, params: dict[str, str], headers: dict[str, str]
    ) -> _Reply:
        allowed, rate_headers = self._take_rate_budget()
        if not allowed:
            reset = rate_headers[-1][1]
            reply = _error(429, "Over rate limit", [f"{self.rate_limit} requests allowed until {reset}"])
        elif not self._authorized(headers):
            reply = _error(
                401,
                "Unknown or missing REST API Key",
                ["send the REST API key as 'Authorization: Bearer <key>'"],
            )
        else:
            reply = self._route(method, path, params)
        reply.headers = rate_headers + reply.headers
        return reply

    def _take_rate_budget(self) -> tuple[bool, list[tuple[str, str]]]:
        window, limit = self.rate_window, self.rate_limit
        index = int(time.time() // window)
        with self._lock:
            if index != self._rate_index:
                self._rate_index, self._rate_used = index, 0
            self._rate_used += 1
            used = self._rate_used
        headers = [
            ("X-RateLimit-Limit", str(limit)),
            ("X-RateLimit-Remaining", str(max(0, limit - used))),
            ("X-RateLimit-Reset", str((index + 1) * window)),
        ]
        return used <= limit, headers

    def _authorized(self, headers: dict[str, str]) -> bool:
        sent = next((value for name, value in headers.items() if name.lower() == "authorization"), "")
        return hmac.compare_digest(sent.encode(), f"Bearer {self.api_key}".encode())

    def _route(self, method: str, path: str, params: dict[str, str]) -> _Reply:
        if path not in ("/events/data_series", "/events/list"):
            return _Reply(404, {"message": "Not found"})
        if method != "GET":
            reply = _error(405, "Method not allowed", [f"{path} accepts GET only"])
            reply.headers.append(("Allow", "GET"))
            return reply
        if path == "/events/list":
            page = _parse_count(params.get("page", "0"))
            if page is None:
                return _error(400, "page must be an integer >= 0")
            names = sorted(self.events)[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
            return _Reply(200, {"message": "success", "events": names})
        query, errors = _series_query(params, datetime.now(timezone.utc))
        if query is None:
            return _error(400, errors[0], errors)
        try:
            return _Reply(200, {"message": "success", "data": self._points(query)}, query=query)
        except (OverflowError, ValueError):
            return _error(400, "ending_at is out of the supported range of dates")

    def _mangle(self, reply: _Reply, mode: str) -> None:
        payload = reply.payload or {}
        data = payload.get("data")
        if mode == "no_data":
            payload.pop("data", None)
            payload.pop("events", None)
        elif mode == "not_json":
            reply.payload, reply.raw, reply.content_type = None, b"<html>oops</html>", "text/html"
        elif data and mode == "short":
            payload["data"] = data[1:]
        elif data and mode == "no_count":
            data[len(data) // 2].pop("count")
        elif data and mode == "long" and reply.query is not None:
            after = shift(floor_bucket(reply.query.ending_at, reply.query.unit), reply.query.unit, 1)
            data += self._points(dataclasses.replace(reply.query, length=1, ending_at=after))


# --- HTTP plumbing --------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], emulator: EventsEmulator) -> None:
        self.emulator = emulator
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn), which can stall for seconds offline.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def drop_connections(self) -> None:
        # Keep-alive connections would otherwise go on being served after stop().
        with self.connections_lock:
            for connection in self.connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "EventsEmulator"
    timeout = 300
    server: _Server

    def setup(self) -> None:
        super().setup()
        # With Nagle on, a keep-alive response can wait ~40 ms for the client's delayed ACK.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def do_GET(self) -> None:
        arrived = time.monotonic()
        self._drain_body()
        emulator = self.server.emulator
        target = urlsplit(self.path)
        params = dict(parse_qsl(target.query, keep_blank_values=True))
        reply = emulator._handle(self.command, target.path, params, dict(self.headers.items()))
        head, body = reply.render(close=self.close_connection)
        # Latency counts from arrival, so the work above hides inside it instead of adding to it.
        time.sleep(max(0.0, arrived + emulator.latency - time.monotonic()) + reply.delay)
        if reply.disconnect:
            body, self.close_connection = body[: len(body) // 2], True
        elif self.command == "HEAD":
            body = b""
        try:
            self.wfile.write(head + body)  # one write: a split response stalls on delayed ACKs
        except OSError:
            self.close_connection = True
        self.log_message('"%s %s" %s', self.command, target.path, 0 if reply.disconnect else reply.status)

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def _drain_body(self) -> None:
        # An unread request body would be parsed as the next request on a keep-alive connection.
        length = _parse_count(self.headers.get("Content-Length"))
        if self.headers.get("Transfer-Encoding") or (length or 0) > 1 << 20:
            self.close_connection = True
        elif length:
            self.rfile.read(length)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.emulator.verbose:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")


# --- command line ---------------------------------------------------------------------------------


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_events.emulator",
        description="Serve a local emulator of the Custom Events Analytics REST API.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("EVENTS_EMULATOR_API_KEY", DEFAULT_API_KEY),
        help="the accepted key (default: $EVENTS_EMULATOR_API_KEY or %(default)s)",
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="milliseconds from arrival to answer")
    parser.add_argument("--rate-limit", type=int, default=250_000, help="requests per window")
    parser.add_argument("--rate-window", type=int, default=3600, help="window length in seconds")
    parser.add_argument("--events", type=int, default=None, help="serve N generated event names")
    parser.add_argument("--port-file", help="write the port here once listening (atomically)")
    parser.add_argument("--verbose", action="store_true", help="log one line per request to stderr")
    return parser.parse_args(argv)


def _write_atomically(path: str, text: str) -> None:
    partial = f"{path}.{os.getpid()}.tmp"
    with open(partial, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(partial, path)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run the emulator until SIGINT or SIGTERM."""
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    args = _parse_args(argv)
    emulator = EventsEmulator(
        args.api_key,
        events=args.events,
        latency=args.latency_ms / 1000,
        rate_limit=args.rate_limit,
        rate_window=args.rate_window,
        host=args.host,
        port=args.port,
        verbose=args.verbose,
    )
    with emulator:
        print(f"Events emulator listening on {emulator.url}", flush=True)
        if args.port_file:
            _write_atomically(args.port_file, f"{emulator.port}\n")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            if args.port_file:
                with contextlib.suppress(OSError):
                    os.remove(args.port_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())

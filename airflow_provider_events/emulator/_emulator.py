"""The emulator's server object: state, scripting and the request pipeline (public through the package)."""

from __future__ import annotations

import bisect
import dataclasses
import hmac
import json
import math
import os
import ssl
import sys
import threading
import time
from collections import deque
from datetime import date, datetime, timezone
from typing import Any

from airflow_provider_events.emulator._http import EmulatorServer
from airflow_provider_events.emulator._protocol import (
    CONTROL_EVENTS_PATH,
    DEFAULT_API_KEY,
    DEFAULT_EVENTS,
    PAGE_SIZE,
    UNITS,
    EmulatorQuery,
    Fault,
    RecordedRequest,
    Reply,
    SeriesKey,
    as_fixed,
    base_counts,
    bucket_starts,
    error_reply,
    floor_bucket,
    format_bucket,
    parse_count,
    parse_ending_at,
    parse_offset,
    parse_record_body,
    parse_series_query,
    scripted_reply,
    shift,
)


class EventsEmulator:
    """
    An in-process server speaking the Custom Events Analytics API on ``host:port``.

    :param api_key: the only key accepted, as ``Authorization: Bearer <api_key>``.
    :param events: names served by ``/events/list``; an int N gives ``event_0000`` .. ``event_{N-1}``.
        Any other name counts zero in every bucket, recorded events included: what the real
        service answers for a name it does not know is not documented, and zeros are the answer
        that hides a typo best, which is what a client must not trust.
    :param latency: seconds from a request's arrival to its answer (may be changed while running);
        the emulator's own work happens within it.
    :param rate_limit: requests allowed per window, shared by all endpoints not in ``rate_limits``.
    :param rate_limits: requests allowed per window for one path, counted apart from the others,
        e.g. ``{"/events/list": 1000}`` (the real listing's limit is far below the series').
    :param rate_window: window length in seconds, aligned to multiples of it in epoch time.
    :param response_offset: render hourly time strings in this fixed offset (e.g. ``"-05:00"``);
        None renders them in the offset of ``ending_at``.
    :param host: address to bind.
    :param port: port to bind; 0 picks a free one.
    :param verbose: log one line per request (method, path, status; never headers) to stderr.
    :param tls_cert: serve HTTPS with this PEM certificate (chain); the emulator's URL is then https.
    :param tls_key: the PEM private key of ``tls_cert``; None when ``tls_cert`` holds it too.
    :param background: serve the generated counts, deterministic but different from hour to hour;
        False serves only what was recorded (:meth:`record`, ``POST /_emulator/events``), zero
        elsewhere: a threshold on "the last N hours" then holds whatever the hour of day.
    """

    def __init__(
        self,
        api_key: str = DEFAULT_API_KEY,
        *,
        events: list[str] | int | None = None,
        latency: float = 0.0,
        rate_limit: int = 250_000,
        rate_window: int = 3600,
        rate_limits: dict[str, int] | None = None,
        response_offset: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        verbose: bool = False,
        tls_cert: str | os.PathLike[str] | None = None,
        tls_key: str | os.PathLike[str] | None = None,
        background: bool = True,
    ) -> None:
        if rate_window < 1 or rate_limit < 0:
            raise ValueError("rate_window must be >= 1 second and rate_limit >= 0")
        if tls_key is not None and tls_cert is None:
            raise ValueError("tls_key needs tls_cert: pass the certificate the key belongs to")
        self.api_key = api_key
        if isinstance(events, int):
            events = [f"event_{index:04d}" for index in range(events)]
        self.events: list[str] = list(DEFAULT_EVENTS if events is None else events)
        self.latency = latency
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.rate_limits = dict(rate_limits or {})
        self.response_tz = parse_offset(response_offset) if response_offset else None
        self.host = host
        self.verbose = verbose
        self.tls_cert, self.tls_key = tls_cert, tls_key
        self.background = background
        self._requested_port = port
        self._server: EmulatorServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self._log: list[list[Any]] = []
        self._recorded: dict[SeriesKey, tuple[list[float], list[int]]] = {}
        self._rate_index, self._rate_used = -1, 0
        self._path_rate: dict[str, tuple[int, int]] = {}  # path -> (window index, used)

    # lifecycle

    def start(self) -> EventsEmulator:
        """Serve in a daemon thread until :meth:`stop`; returns self."""
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        tls = self._tls_context()  # before binding: a bad certificate or key fails without a stray socket
        self._server = EmulatorServer((self.host, self._requested_port), self)
        if tls is not None:
            # The handshake happens in the handler's thread: a slow or failing client cannot stall accept().
            self._server.socket = tls.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False
            )
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.name = f"events-emulator-{self.port}"
        self._thread.start()
        return self

    def _tls_context(self) -> ssl.SSLContext | None:
        if self.tls_cert is None:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.tls_cert, self.tls_key)
        return context

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
        scheme = "http" if self.tls_cert is None else "https"
        return f"{scheme}://{self.host}:{self.port}"

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
        if event not in self.events:
            return 0
        return self._bucket_count((event, app_id or None, segment_id or None), start, unit)

    def _bucket_count(self, key: SeriesKey, start: datetime, unit: str) -> int:
        return self._bucket_counts(key, [start], unit)[0]

    def _bucket_counts(self, key: SeriesKey, starts: list[datetime], unit: str) -> list[int]:
        counts = base_counts(key, starts, unit) if self.background else [0] * len(starts)
        with self._lock:
            entry = self._recorded.get(key)
            if entry is None:
                return counts
            times, recorded = entry
            for index, start in enumerate(starts):
                first = bisect.bisect_left(times, start.timestamp())
                end = bisect.bisect_left(times, shift(start, unit, 1).timestamp())
                counts[index] += sum(recorded[first:end])
        return counts

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
        Add ``n`` occurrences at ``at`` (default now; naive = UTC); a negative ``n`` takes events back.

        They count in the hour and day buckets holding ``at``, in series asked with the same
        ``app_id`` and ``segment_id`` (None and "" both meaning none). Taking back more than the
        (UTC) hour holding ``at`` counts raises ValueError and changes nothing: no count goes below 0.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n == 0:
            raise ValueError(f"n must be a non-zero integer (negative takes events back), got {n!r}")
        moment = as_fixed(at) if at is not None else datetime.now(timezone.utc)
        key: SeriesKey = (event, app_id or None, segment_id or None)
        hour = floor_bucket(moment.astimezone(timezone.utc), "hour")
        # The generated part is computed outside the lock; the check and the insert happen under it,
        # so two concurrent take-backs cannot both pass on the same count.
        generated = base_counts(key, [hour], "hour")[0] if self.background else 0
        with self._lock:
            times, counts = self._recorded.setdefault(key, ([], []))
            if n < 0:
                first = bisect.bisect_left(times, hour.timestamp())
                end = bisect.bisect_left(times, shift(hour, "hour", 1).timestamp())
                held = generated + sum(counts[first:end])
                if held + n < 0:
                    raise ValueError(
                        f"cannot take back {-n} {event!r} events: the hour from {hour.isoformat()}"
                        f" holds {held}"
                    )
            index = bisect.bisect_right(times, moment.timestamp())
            times.insert(index, moment.timestamp())
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
        return self._points(EmulatorQuery(event, length, unit, moment, app_id, segment_id))

    def _points(self, query: EmulatorQuery) -> list[dict[str, Any]]:
        starts = bucket_starts(query.ending_at, query.length, query.unit)
        listed = query.event in self.events  # once a request: the list may hold thousands of names
        counts = self._bucket_counts(query.key, starts, query.unit) if listed else [0] * len(starts)
        return [
            {"time": format_bucket(start, query.unit, self.response_tz), "count": count}
            for start, count in zip(starts, counts, strict=True)
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
            self._path_rate.clear()

    # control from outside the process

    def _control(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        """``POST /_emulator/events``: record events, as :meth:`record` does in-process."""
        if path != CONTROL_EVENTS_PATH:
            return error_reply(404, "Not found", [f"the control endpoint is POST {CONTROL_EVENTS_PATH}"])
        if method != "POST":
            reply = error_reply(405, "Method not allowed", [f"{path} accepts POST only"])
            reply.headers.append(("Allow", "POST"))
            return reply
        if not self._authorized(headers):
            return error_reply(401, "Unknown or missing REST API Key", ["send 'Authorization: Bearer <key>'"])
        record, errors = parse_record_body(body)
        if record is None:
            return error_reply(400, errors[0], errors)
        at = record["at"] or datetime.now(timezone.utc)
        try:
            self.record(
                record["event"], record["n"], at=at, app_id=record["app_id"], segment_id=record["segment_id"]
            )
        except ValueError as exc:
            return error_reply(400, str(exc))
        if self.verbose:
            print(f"recorded {record['n']} {record['event']!r} at {at.isoformat()}", file=sys.stderr)
        return Reply(
            200, {"message": "recorded", "event": record["event"], "count": record["n"], "at": at.isoformat()}
        )

    # request pipeline

    def _handle(self, method: str, path: str, params: dict[str, str], headers: dict[str, str]) -> Reply:
        entry: list[Any] = [method, path, params, headers, -1, time.time()]
        with self._lock:
            self._log.append(entry)
            fault = self._faults.popleft() if self._faults and self._faults[0].path in (None, path) else None
        if fault is not None and (fault.status != 200 or fault.body is not None):
            reply = scripted_reply(fault)
        else:
            reply = self._normal_reply(method, path, params, headers)
        if fault is not None:
            if fault.mangle and fault.status == reply.status == 200 and fault.body is None:
                self._mangle(reply, fault.mangle)
            reply.add_headers(fault.headers)
            reply.delay, reply.disconnect = fault.delay, fault.mangle == "disconnect"
        entry[4] = 0 if reply.disconnect else reply.status
        return reply

    def _normal_reply(self, method: str, path: str, params: dict[str, str], headers: dict[str, str]) -> Reply:
        allowed, rate_headers = self._take_rate_budget(path)
        if not allowed:
            reset, limit = rate_headers[-1][1], rate_headers[0][1]
            reply = error_reply(429, "Over rate limit", [f"{limit} requests allowed until {reset}"])
            # Whole seconds, as HTTP sends them, rounded up so a retry lands in the next window.
            reply.headers.append(("Retry-After", str(max(1, math.ceil(int(reset) - time.time())))))
        elif not self._authorized(headers):
            reply = error_reply(
                401,
                "Unknown or missing REST API Key",
                ["send the REST API key as 'Authorization: Bearer <key>'"],
            )
        else:
            reply = self._route(method, path, params)
        reply.headers = rate_headers + reply.headers
        return reply

    def _take_rate_budget(self, path: str = "") -> tuple[bool, list[tuple[str, str]]]:
        window, limit = self.rate_window, self.rate_limits.get(path, self.rate_limit)
        index = int(time.time() // window)
        with self._lock:
            if path in self.rate_limits:
                counted, used = self._path_rate.get(path, (-1, 0))
                used = used + 1 if counted == index else 1
                self._path_rate[path] = (index, used)
            else:
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

    def _route(self, method: str, path: str, params: dict[str, str]) -> Reply:
        if path not in ("/events/data_series", "/events/list"):
            return Reply(404, {"message": "Not found"})
        if method != "GET":
            reply = error_reply(405, "Method not allowed", [f"{path} accepts GET only"])
            reply.headers.append(("Allow", "GET"))
            return reply
        if path == "/events/list":
            page = parse_count(params.get("page", "0"))
            if page is None:
                return error_reply(400, "page must be an integer >= 0")
            names = sorted(self.events)[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
            return Reply(200, {"message": "success", "events": names})
        query, errors = parse_series_query(params, datetime.now(timezone.utc))
        if query is None:
            return error_reply(400, errors[0], errors)
        try:
            return Reply(200, {"message": "success", "data": self._points(query)}, query=query)
        except (OverflowError, ValueError):
            return error_reply(400, "ending_at is out of the supported range of dates")

    def _mangle(self, reply: Reply, mode: str) -> None:
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

"""How the emulator answers a request: a queued fault, the rate budget, the key, the route, a mangle.

It keeps what those steps remember between requests (the queued faults, the request log, the rate
budget's usage) and serves the control endpoint too. It reads the emulator that owns it only
through :class:`Backend`, so it does not import it.
"""

from __future__ import annotations

import dataclasses
import hmac
import math
import sys
import threading
import time
from collections import deque
from datetime import datetime, timezone
from typing import Any, Protocol

from airflow_provider_events.emulator._messages import (
    Fault,
    RecordedRequest,
    Reply,
    error_reply,
    scripted_reply,
)
from airflow_provider_events.emulator._protocol import (
    PAGE_SIZE,
    EmulatorQuery,
    floor_bucket,
    parse_count,
    parse_record_body,
    parse_series_query,
    shift,
)

SERIES_PATH = "/events/data_series"
LIST_PATH = "/events/list"
CONTROL_PREFIX = "/_emulator/"
CONTROL_EVENTS_PATH = CONTROL_PREFIX + "events"
_UNAUTHORIZED = "Unknown or missing REST API Key"
_BEARER = "'Authorization: Bearer <key>'"


class Backend(Protocol):
    """The emulator as the pipeline reads it at each request: its settings, and the counts it serves."""

    api_key: str
    events: list[str]
    latency: float
    rate_limit: int
    rate_limits: dict[str, int]
    rate_window: int
    verbose: bool

    def series(
        self,
        event: str,
        length: int,
        unit: str,
        ending_at: datetime,
        app_id: str | None,
        segment_id: str | None,
    ) -> list[dict[str, Any]]: ...

    def record(
        self, event: str, n: int, *, at: datetime | None, app_id: str | None, segment_id: str | None
    ) -> None: ...


class RequestPipeline:
    """
    Answers the requests of one emulator, and keeps its queued faults, request log and rate budget.

    :param backend: the emulator whose settings and counts the answers come from.
    """

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self._log: list[list[Any]] = []
        # Requests counted in the current window: per path in rate_limits, the rest together ("").
        self._rate_used: dict[str, tuple[int, int]] = {}  # counter -> (window index, used)

    # scripting and inspection, public through EventsEmulator

    def enqueue(self, faults: tuple[Fault, ...], times: int) -> None:
        with self._lock:
            for fault in faults:
                self._faults.extend([fault] * times)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [RecordedRequest(*entry) for entry in self._log]

    def request_count(self, path: str | None) -> int:
        with self._lock:
            return sum(1 for entry in self._log if path is None or entry[1] == path)

    def reset(self) -> None:
        with self._lock:
            self._log.clear()
            self._faults.clear()
            self._rate_used.clear()

    # what the transport asks for (see _http.Responder)

    def respond(
        self, method: str, path: str, params: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Reply:
        """The reply to one request, with the latency in force when it was answered."""
        if path.startswith(CONTROL_PREFIX):
            # Control requests are not API traffic: no fault, rate budget or request log applies.
            reply = self._control(method, path, headers, body)
        else:
            reply = self._answer(method, path, params, headers)
        reply.latency = self._backend.latency
        return reply

    def log(self, line: str) -> None:
        """Write one line to stderr, if the emulator is verbose."""
        if self._backend.verbose:
            sys.stderr.write(f"{line}\n")

    # API requests

    def _answer(self, method: str, path: str, params: dict[str, str], headers: dict[str, str]) -> Reply:
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
            reply = error_reply(401, _UNAUTHORIZED, [f"send the REST API key as {_BEARER}"])
        else:
            reply = self._route(method, path, params)
        reply.headers = rate_headers + reply.headers
        return reply

    def _take_rate_budget(self, path: str) -> tuple[bool, list[tuple[str, str]]]:
        own = path in self._backend.rate_limits
        window = self._backend.rate_window
        limit = self._backend.rate_limits[path] if own else self._backend.rate_limit
        index = int(time.time() // window)
        counter = path if own else ""
        with self._lock:
            counted, used = self._rate_used.get(counter, (index, 0))
            used = used + 1 if counted == index else 1
            self._rate_used[counter] = (index, used)
        headers = [
            ("X-RateLimit-Limit", str(limit)),
            ("X-RateLimit-Remaining", str(max(0, limit - used))),
            ("X-RateLimit-Reset", str((index + 1) * window)),
        ]
        return used <= limit, headers

    def _authorized(self, headers: dict[str, str]) -> bool:
        sent = next((value for name, value in headers.items() if name.lower() == "authorization"), "")
        return hmac.compare_digest(sent.encode(), f"Bearer {self._backend.api_key}".encode())

    def _route(self, method: str, path: str, params: dict[str, str]) -> Reply:
        if path not in (SERIES_PATH, LIST_PATH):
            return Reply(404, {"message": "Not found"})
        if method != "GET":
            return _not_allowed(path, "GET")
        if path == LIST_PATH:
            page = parse_count(params.get("page", "0"))
            if page is None:
                return error_reply(400, "page must be an integer >= 0")
            names = sorted(self._backend.events)[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
            return Reply(200, {"message": "success", "events": names})
        query, errors = parse_series_query(params, datetime.now(timezone.utc))
        if query is None:
            return error_reply(400, errors[0], errors)
        try:
            return Reply(200, {"message": "success", "data": self._series(query)}, query=query)
        except (OverflowError, ValueError):
            return error_reply(400, "ending_at is out of the supported range of dates")

    def _series(self, query: EmulatorQuery) -> list[dict[str, Any]]:
        q = query
        return self._backend.series(q.event, q.length, q.unit, q.ending_at, q.app_id, q.segment_id)

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
            data += self._series(dataclasses.replace(reply.query, length=1, ending_at=after))

    # the control endpoint

    def _control(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        """``POST /_emulator/events``: record events, as :meth:`EventsEmulator.record` does in-process."""
        if path != CONTROL_EVENTS_PATH:
            return error_reply(404, "Not found", [f"the control endpoint is POST {CONTROL_EVENTS_PATH}"])
        if method != "POST":
            return _not_allowed(path, "POST")
        if not self._authorized(headers):
            return error_reply(401, _UNAUTHORIZED, [f"send {_BEARER}"])
        record, errors = parse_record_body(body)
        if record is None:
            return error_reply(400, errors[0], errors)
        event, n, at = record["event"], record["n"], record["at"] or datetime.now(timezone.utc)
        try:
            self._backend.record(event, n, at=at, app_id=record["app_id"], segment_id=record["segment_id"])
        except ValueError as exc:
            return error_reply(400, str(exc))
        self.log(f"recorded {n} {event!r} at {at.isoformat()}")
        return Reply(200, {"message": "recorded", "event": event, "count": n, "at": at.isoformat()})


def _not_allowed(path: str, method: str) -> Reply:
    reply = error_reply(405, "Method not allowed", [f"{path} accepts {method} only"])
    reply.headers.append(("Allow", method))
    return reply

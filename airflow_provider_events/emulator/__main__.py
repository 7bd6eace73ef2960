"""``python -m airflow_provider_events.emulator``: serve the emulator until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
from types import FrameType

from airflow_provider_events.emulator._emulator import DEFAULT_API_KEY, EventsEmulator
from airflow_provider_events.emulator._pipeline import CONTROL_EVENTS_PATH

_EPILOG = f"""\
Add events while it runs, from another shell (they count in the hour and day holding "at"):

  curl -sS -X POST http://127.0.0.1:PORT{CONTROL_EVENTS_PATH} \\
       -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \\
       -d '{{"event": "purchase", "count": 50}}'

Body fields: event (required), count (default 1; negative takes events back, never below
zero in the hour holding "at"), at (ISO 8601 with offset, default now), app_id, segment_id.
It answers {{"message": "recorded", ...}}, or 400 naming the bad field.
"""


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_events.emulator",
        description="Serve a local emulator of the Custom Events Analytics REST API.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    # The default is resolved after parsing: --help must never print the environment's key.
    parser.add_argument(
        "--api-key",
        default=None,
        help=f"the accepted key (default: $EVENTS_EMULATOR_API_KEY if set, else {DEFAULT_API_KEY!r})",
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="milliseconds from arrival to answer")
    parser.add_argument("--rate-limit", type=int, default=250_000, help="requests per window")
    parser.add_argument("--rate-window", type=int, default=3600, help="window length in seconds")
    parser.add_argument("--events", type=int, default=None, help="serve N generated event names")
    parser.add_argument("--port-file", help="write the port here once listening (atomically)")
    parser.add_argument("--verbose", action="store_true", help="log one line per request to stderr")
    parser.add_argument("--tls-cert", help="serve HTTPS with this PEM certificate (chain)")
    parser.add_argument("--tls-key", help="the PEM private key of --tls-cert, unless that file holds it")
    parser.add_argument(
        "--no-background",
        dest="background",
        action="store_false",
        help="count only the events posted to the control endpoint (zero elsewhere), whatever the hour",
    )
    args = parser.parse_args(argv)
    if args.api_key is None:
        args.api_key = os.environ.get("EVENTS_EMULATOR_API_KEY") or DEFAULT_API_KEY
    return args


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
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        background=args.background,
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

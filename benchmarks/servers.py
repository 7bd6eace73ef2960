"""The emulator as a subprocess on a free loopback port, and the two connections the benchmarks use."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
API_KEY = "bench-key-5f1c9a7e"
EVENTS_CONN_ID = "events_analytics_default"
HTTP_CONN_ID = "events_bench_http"
_STATUS_RE = re.compile(r'"GET [^"]*" (\d{3})$')


class EmulatorProcess:
    """``python -m airflow_provider_events.emulator`` on a free loopback port; a context manager."""

    def __init__(
        self,
        *,
        latency_ms: float = 0.0,
        events: int | None = None,
        rate_limit: int | None = None,
        rate_window: int | None = None,
        verbose: bool = False,
    ) -> None:
        self._workdir = tempfile.TemporaryDirectory(prefix="events-bench-")
        self.port_file = Path(self._workdir.name) / "port"
        self.log_file = Path(self._workdir.name) / "stderr.log"
        self.argv = [sys.executable, "-m", "airflow_provider_events.emulator", "--port", "0"]
        self.argv += [
            "--port-file",
            str(self.port_file),
            "--api-key",
            API_KEY,
            "--latency-ms",
            str(latency_ms),
        ]
        for flag, value in (
            ("--events", events),
            ("--rate-limit", rate_limit),
            ("--rate-window", rate_window),
        ):
            if value is not None:
                self.argv += [flag, str(value)]
        if verbose:
            self.argv.append("--verbose")
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def __enter__(self) -> EmulatorProcess:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self, timeout: float = 30.0) -> None:
        with self.log_file.open("wb") as log:
            self.process = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=log, cwd=REPO)
        deadline = time.monotonic() + timeout
        while not self.port_file.exists():
            if self.process.poll() is not None:
                raise RuntimeError(f"the emulator exited early: {self.log_file.read_text(errors='replace')}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the emulator did not start within {timeout:.0f} s")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{int(self.port_file.read_text())}"

    def stop(self) -> None:
        """Terminate (then kill) the subprocess; safe to call twice and on every exit path."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def statuses(self) -> Counter[int]:
        """Statuses answered so far, from the ``--verbose`` log (one line per request)."""
        text = self.log_file.read_text(errors="replace")
        return Counter(
            int(match.group(1)) for line in text.splitlines() if (match := _STATUS_RE.search(line))
        )

    def cpu_seconds(self) -> float | None:
        """User + system CPU seconds of the emulator so far (Linux ``/proc``; None elsewhere)."""
        if self.process is None:
            return None
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def cleanup(self) -> None:
        self.stop()
        self._workdir.cleanup()


@contextlib.contextmanager
def emulator(**options: Any) -> Iterator[EmulatorProcess]:
    """Start an :class:`EmulatorProcess`, point both benchmark connections at it, stop it whatever happens."""
    process = EmulatorProcess(**options)
    try:
        with process, connections(process.url):
            yield process
    finally:
        process.cleanup()


@contextlib.contextmanager
def connections(url: str) -> Iterator[None]:
    """The ``events_analytics`` default connection and a plain ``http`` one, both to ``url``, via the env."""
    values = {
        f"AIRFLOW_CONN_{EVENTS_CONN_ID.upper()}": json.dumps(
            {"conn_type": "events_analytics", "host": url, "password": API_KEY}
        ),
        f"AIRFLOW_CONN_{HTTP_CONN_ID.upper()}": json.dumps({"conn_type": "http", "host": url}),
    }
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

"""
The asset-watcher scenarios: ``example_events_surge`` started by its own crossings, on the live Airflow.

The example runs as shipped, steered by its environment (see :mod:`e2e.deployment`): its watcher
polls an emulator of its own (``surge-emulator``, ``--no-background``: only what is recorded
counts, whatever the hour) every 2 s, over the last 3 hours, against a threshold of 100. The
scenarios move that total through the control endpoint (a negative count takes events back) and
count the DAG's runs through the REST API. They run in order, each from where the previous left
the total; each returns its summary line: run counts and, for a crossing, crossing -> run start.
"""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import datetime, timezone
from typing import Any

from e2e.deployment import SURGE_SETTINGS, Deployment, wait_for

DAG_ID = "example_events_surge"
EMULATOR = "surge-emulator"
EVENT = "purchase"
THRESHOLD, HOURS = SURGE_SETTINGS["THRESHOLD"], SURGE_SETTINGS["HOURS"]
# "No run" is believed only after the watcher has polled this often since the change...
QUIET_POLLS = 3
# ... and after this many seconds more: the scheduler turns an asset event into a run in a loop or two.
RUN_DELAY = 5.0
_anchor: list[str] = []


def _at() -> str:
    # Every change goes into the hour the scenarios began: it stays in the 3-hour window for two hours
    # and events taken back are taken from the hour that holds them, even across a change of hour.
    if not _anchor:
        _anchor.append(datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0).isoformat())
    return _anchor[0]


def window_total(dep: Deployment) -> int:
    now = datetime.now(timezone.utc).isoformat()
    return sum(point["count"] for point in dep.series(EVENT, HOURS, "hour", now, url=dep.surge_url))


def set_total(dep: Deployment, target: int) -> datetime:
    """Record what makes the window's total ``target``; returns when it took effect."""
    change = target - window_total(dep)
    if change:
        dep.record_events(EVENT, change, at=_at(), url=dep.surge_url)
    return datetime.now(timezone.utc)


def watcher_polls(dep: Deployment) -> int:
    """API requests the surge emulator answered: the watcher's polls, once our own reads are done."""
    return len(dep.emulator_statuses(EMULATOR))


def watcher_runs(dep: Deployment) -> list[dict[str, Any]]:
    runs = dep.api("GET", f"/dags/{DAG_ID}/dagRuns", params={"limit": 100})["dag_runs"]
    assert all(run["run_type"] == "asset_triggered" for run in runs), runs
    return sorted(runs, key=lambda run: run["queued_at"])


def _failures(dep: Deployment) -> tuple[int, int]:
    """What the triggerer logged so far: requests the hook retried, and polls that failed after retries."""
    log = (dep.logs / "triggerer.log").read_text(errors="replace")
    return log.count("GET /events/data_series failed (attempt"), log.count(f"Polling '{EVENT}' failed")


def quiet(dep: Deployment) -> int:
    """Let the watcher poll ``QUIET_POLLS`` more times, then wait for a run they might have caused."""
    start = watcher_polls(dep)

    def polled() -> bool:
        return watcher_polls(dep) >= start + QUIET_POLLS

    wait_for(f"{QUIET_POLLS} more polls of the watcher", polled, 120)
    time.sleep(RUN_DELAY)
    return len(watcher_runs(dep))


def started_run(dep: Deployment, count: int, crossed: datetime) -> tuple[str, float]:
    """Wait for the ``count``-th run to start; its id and the seconds from the crossing to its start."""

    def started() -> dict[str, Any] | None:
        runs = watcher_runs(dep)
        return runs[count - 1] if len(runs) >= count and runs[count - 1]["start_date"] else None

    run = wait_for(f"run {count} of {DAG_ID} to start", started, timeout=90)
    start = datetime.fromisoformat(run["start_date"].replace("Z", "+00:00"))
    return str(run["dag_run_id"]), (start - crossed).total_seconds()


def _check_run(dep: Deployment, run_id: str, total: int) -> dict[str, Any]:
    """The run succeeded, read its crossing and exported a window with that total; returns the payload."""
    dep.triggered.append((DAG_ID, run_id))  # the last scenario checks its logs for the key
    assert dep.wait_for_run(DAG_ID, run_id)["state"] == "success", run_id
    path = f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/read_crossing/xcomEntries/return_value"
    value = dep.api("GET", path, params={"deserialize": "true"})["value"]
    crossing = json.loads(value) if isinstance(value, str) else dict(value)
    expected = {"event": EVENT, "threshold": THRESHOLD, "total": total, "unit": "hour", "length": HOURS}
    assert {key: crossing.get(key) for key in expected} == expected, crossing
    rows = list(csv.DictReader(io.StringIO((dep.exports / "surge" / crossing["file"]).read_text())))
    assert len(rows) == HOURS and sum(int(row["count"]) for row in rows) == total, rows
    return crossing


def _schedule_on_assets_only(dep: Deployment) -> None:
    """
    Let the scheduler create asset-triggered runs, and no other.

    The deployment starts it with ``use_job_schedule = False`` so that the other scenarios' runs
    are only their own; that setting also stops runs for asset events. The other DAGs are paused
    first, so that turning it on starts none of their scheduled runs.
    """
    for dag in dep.api("GET", "/dags", params={"limit": 100})["dags"]:
        if dag["dag_id"] != DAG_ID:
            dep.api("PATCH", f"/dags/{dag['dag_id']}", json={"is_paused": True})
    restarted = datetime.now(timezone.utc)
    dep.configure(SCHEDULER__USE_JOB_SCHEDULE=True)
    dep.restart("scheduler")

    def heartbeat() -> bool:
        beat = dep.api("GET", "/monitor/health")["scheduler"]["latest_scheduler_heartbeat"]
        return bool(beat) and datetime.fromisoformat(beat.replace("Z", "+00:00")) > restarted

    wait_for("the restarted scheduler's heartbeat", heartbeat, timeout=120)


def watcher_below_the_threshold_starts_no_run(dep: Deployment) -> str:
    _schedule_on_assets_only(dep)
    wait_for("the watcher's first poll", lambda: watcher_polls(dep) > 0, timeout=120)
    total = THRESHOLD // 2
    set_total(dep, total)
    runs = quiet(dep)
    assert runs == 0, f"{runs} run(s) below the threshold"
    return f"total {total}/{THRESHOLD} for {QUIET_POLLS} polls: runs {runs} (expected 0)"


def watcher_one_crossing_starts_exactly_one_run(dep: Deployment) -> str:
    before, total = len(watcher_runs(dep)), THRESHOLD + 10
    crossed = set_total(dep, total)
    run_id, seconds = started_run(dep, before + 1, crossed)
    polls = watcher_polls(dep)
    time.sleep(20)
    polled, later = watcher_polls(dep) - polls, len(watcher_runs(dep))
    assert later == before + 1 and polled >= 5, f"{later} runs, {polled} polls in 20 s"
    crossing = _check_run(dep, run_id, total)
    print(f"      payload {run_id} read: {json.dumps(crossing)}")
    return (
        f"total {total}/{THRESHOLD}: runs {before} -> {before + 1}, still {later} 20 s later "
        f"({polled} polls); crossing->run start {seconds:.1f} s"
    )


def watcher_falls_below_then_crosses_again(dep: Deployment) -> str:
    before = len(watcher_runs(dep))
    set_total(dep, THRESHOLD - 20)
    below = quiet(dep)
    assert below == before, f"{below - before} run(s) on falling below"
    total = THRESHOLD + 20
    crossed = set_total(dep, total)
    run_id, seconds = started_run(dep, before + 1, crossed)
    _check_run(dep, run_id, total)
    after = len(watcher_runs(dep))
    assert after == before + 1, f"{after - before} new runs for one crossing"
    return (
        f"{THRESHOLD - 20} then {total}/{THRESHOLD}: runs {before} -> {below} below -> {after} "
        f"(expected {before + 1}); crossing->run start {seconds:.1f} s"
    )


def watcher_triggerer_restart_while_above_starts_no_run(dep: Deployment) -> str:
    total, before = window_total(dep), len(watcher_runs(dep))
    assert total >= THRESHOLD, f"this scenario needs the total above {THRESHOLD}; it is {total}"
    began = time.monotonic()
    dep.restart("triggerer")
    polls = watcher_polls(dep)
    wait_for("the new triggerer's watcher to poll", lambda: watcher_polls(dep) > polls, timeout=180)
    first_poll = time.monotonic() - began
    after = quiet(dep)
    assert after == before, f"{after - before} run(s) after a triggerer restart while above"
    return (
        f"total {total}/{THRESHOLD} across a triggerer restart (first poll {first_poll:.1f} s after it): "
        f"runs {before} -> {after} (expected {before})"
    )


def watcher_crossing_after_a_15s_api_outage_starts_a_run(dep: Deployment) -> str:
    before = len(watcher_runs(dep))
    set_total(dep, THRESHOLD - 20)
    below = quiet(dep)
    assert below == before, f"{below - before} run(s) on falling below"
    failures = _failures(dep)
    dep.stop_component(EMULATOR)
    time.sleep(15)
    dep.start_component(EMULATOR)  # on its old port, with nothing recorded: the total is 0 again
    total = THRESHOLD + 20
    crossed = set_total(dep, total)
    run_id, seconds = started_run(dep, before + 1, crossed)
    retried, failed = (now - then for now, then in zip(_failures(dep), failures, strict=True))
    assert retried + failed > 0, "the triggerer logged no failed request: was the API really down?"
    _check_run(dep, run_id, total)
    after = len(watcher_runs(dep))
    assert after == before + 1, f"{after - before} new runs for one crossing after the outage"
    return (
        f"emulator down 15 s ({retried} requests retried, {failed} polls failed), then {total}/{THRESHOLD}: "
        f"runs {before} -> {after} (expected {before + 1}); crossing->run start {seconds:.1f} s"
    )


WATCHER_SCENARIOS = [
    watcher_below_the_threshold_starts_no_run,
    watcher_one_crossing_starts_exactly_one_run,
    watcher_falls_below_then_crosses_again,
    watcher_triggerer_restart_while_above_starts_no_run,
    watcher_crossing_after_a_15s_api_outage_starts_a_run,
]

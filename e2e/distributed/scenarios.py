"""
Scenarios on the distributed deployment, in order; each raises AssertionError to fail.

Each returns the figures of its PASS line: who was killed or stopped, how long until the other
triggerer took over, runs before and after, and what the S3 objects hold. The watcher scenarios
drive ``example_events_surge`` through its own emulator, as :mod:`e2e.watcher` does.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from e2e.deployment import wait_for
from e2e.distributed.deployment import (
    BUCKET,
    S3_SECRET_KEY,
    SLOW_LATENCY_MS,
    TRIGGERER_SETTINGS,
    TRIGGERERS,
    WORKERS,
    DistributedDeployment,
)
from e2e.watcher import THRESHOLD, quiet, set_total, watcher_polls, watcher_runs, window_total

EXPORT_DAG, SLOW_DAG, SENSOR_DAG, SURGE_DAG = (
    "e2e_dist_s3_export", "e2e_dist_slow_export", "e2e_dist_deferred_sensor", "example_events_surge",
)  # fmt: skip
DAG_IDS = [EXPORT_DAG, SLOW_DAG, SENSOR_DAG, SURGE_DAG]
EVENTS = ("add_to_cart", "app_open", "checkout_started", "purchase", "signup")
EXPORT_END = "2024-06-01T23:00:00+00:00"
SLOW_END, SLOW_HOURS = "2024-06-30T23:00:00+00:00", 24 * 30
SENSOR_DAY = "2024-01-01"
# How many times the SIGSTOP scenario runs (each with its own crossing): E2E_SIGSTOP_REPEATS.
SIGSTOP_REPEATS = int(os.environ.get("E2E_SIGSTOP_REPEATS", "1"))
THRESHOLD_SECONDS = TRIGGERER_SETTINGS["TRIGGERER_HEALTH_CHECK_THRESHOLD"]


# -- reading the deployment ------------------------------------------------------------------------


def _csv_rows(content: bytes) -> list[dict[str, Any]]:
    return [{**row, "count": int(row["count"])} for row in csv.DictReader(io.StringIO(content.decode()))]


def _expected(dep: DistributedDeployment, event: str, length: int, ending_at: str) -> list[dict[str, Any]]:
    """What the emulator answers for the window, page by page (at most 100 buckets a request)."""
    from datetime import datetime, timedelta

    end, points = datetime.fromisoformat(ending_at), list[dict[str, Any]]()
    while length > 0:
        page = min(length, 100)
        points[:0] = dep.series(event, page, "hour", end.isoformat())
        end -= timedelta(hours=page)
        length -= page
    return [{"event": event, **point} for point in points]


def task_error(dep: DistributedDeployment, dag_id: str, run_id: str, ti: dict[str, Any]) -> str:
    """The error a failed try logged, read from its worker's disk: ``Type: message``."""
    path = dep.task_log_file(ti["hostname"], dag_id, run_id, ti["task_id"], ti["try_number"], ti["map_index"])
    if not path.exists():
        return f"(no log at {path})"
    for line in reversed(path.read_text(errors="replace").splitlines()):
        with_error = json.loads(line) if line.startswith("{") else {}
        for detail in with_error.get("error_detail") or []:
            return f"{detail.get('exc_type')}: {str(detail.get('exc_value'))[:200]}"
    return "(no error in the log)"


def _asset(dep: DistributedDeployment) -> dict[str, Any]:
    (asset,) = dep.api("GET", "/assets", params={"name_pattern": "purchase_surge"})["assets"]
    return dict(asset)


def asset_events(dep: DistributedDeployment) -> list[dict[str, Any]]:
    """Every asset event of the surge watcher, oldest first: one per event a triggerer fired."""
    params = {"asset_id": _asset(dep)["id"], "limit": 100, "order_by": "timestamp"}
    return list(dep.api("GET", "/assets/events", params=params)["asset_events"])


def crossing_ids(events: list[dict[str, Any]]) -> list[str]:
    return [str((event.get("extra") or {}).get("payload", {}).get("crossing_id")) for event in events]


def watcher_owner(dep: DistributedDeployment) -> tuple[int, str | None]:
    """The watcher's trigger and the triggerer running it."""
    trigger_id = int(_asset(dep)["watchers"][0]["trigger_id"])
    return trigger_id, dep.trigger_owner(trigger_id)


def _other(name: str, among: tuple[str, ...]) -> str:
    return next(other for other in among if other != name)


def take_over(dep: DistributedDeployment, trigger_id: int, lost: str, timeout: float = 60) -> float:
    """Seconds until the trigger is assigned to the other triggerer than ``lost``."""
    other = _other(lost, TRIGGERERS)
    began = time.monotonic()
    wait_for(f"{other} to take trigger {trigger_id} over", lambda: dep.trigger_owner(trigger_id) == other,
             timeout, every=0.2)  # fmt: skip
    return time.monotonic() - began


# -- exports to S3 ---------------------------------------------------------------------------------


def exports_spread_over_both_workers_to_s3(dep: DistributedDeployment) -> str:
    run_id = dep.trigger(EXPORT_DAG, None)
    run = dep.wait_for_run(EXPORT_DAG, run_id, timeout=240)
    tis = dep.task_instances(EXPORT_DAG, run_id)
    (probe,) = [ti for ti in tis if ti["task_id"] == "write_with_object_storage"]
    exports = sorted((ti for ti in tis if ti["task_id"] == "export"), key=lambda ti: ti["map_index"])
    hosts = Counter(str(ti["hostname"]) for ti in exports)
    spread = ", ".join(f"{host} {count}" for host, count in sorted(hosts.items()))
    if probe["state"] != "success":
        error = task_error(dep, EXPORT_DAG, run_id, probe)
        raise AssertionError(f"the harness cannot write to S3 from {probe['hostname']}: {error}")
    probe_line = f"ObjectStoragePath.write_text from {probe['hostname']}: probe/hours.csv written"
    failed = [ti for ti in exports if ti["state"] != "success"]
    if failed:
        errors = Counter(task_error(dep, EXPORT_DAG, run_id, ti) for ti in failed)
        raise AssertionError(
            f"{len(failed)}/{len(exports)} exports failed ({spread}): "
            + "; ".join(f"{error} (x{count})" for error, count in errors.items())
            + f"; {probe_line}, run {run['state']}"
        )
    objects = dep.objects("hours/")
    assert sorted(objects) == [f"hours/{event}.csv" for event in EVENTS], sorted(objects)
    for event in EVENTS:
        rows = _csv_rows(objects[f"hours/{event}.csv"])
        assert rows == _expected(dep, event, 24, EXPORT_END), f"hours/{event}.csv differs from the emulator"
    assert set(hosts) == set(WORKERS), f"the exports ran on {spread} only"
    listing = ", ".join(f"{key} ({len(content)} B)" for key, content in sorted(objects.items()))
    print(f"      s3://{BUCKET}/: {listing}")
    first = objects[f"hours/{EVENTS[0]}.csv"].decode().splitlines()
    print(f"      hours/{EVENTS[0]}.csv begins: {' | '.join(first[:3])}")
    return (
        f"{len(exports)} exports on {spread}; {len(objects)} objects hours/<event>.csv, "
        f"24 rows each = emulator; {probe_line}"
    )


def worker_killed_mid_export_leaves_no_object_and_the_retry_writes_it(dep: DistributedDeployment) -> str:
    requests_before = len(dep.emulator_statuses("slow-emulator"))
    run_id = dep.trigger(SLOW_DAG, None)
    ti = dep.wait_for_task_state(SLOW_DAG, run_id, "export_a_month", {"running"}, timeout=120)
    victim = str(ti["hostname"])
    total = len(EVENTS) * -(-SLOW_HOURS // 100) + 1  # every page, and the name check

    def served() -> int:
        return len(dep.emulator_statuses("slow-emulator")) - requests_before

    wait_for("the export to be a third done", lambda: served() >= total // 3, timeout=120, every=0.1)
    with dep.killed(victim):
        killed, served_then = time.monotonic(), served()
        time.sleep(1)
        after_kill, uploads = dep.objects("slow/"), dep.open_uploads("slow/")
    assert not after_kill, f"the killed try left {sorted(after_kill)}"
    run = dep.wait_for_run(SLOW_DAG, run_id, timeout=180)
    took = time.monotonic() - killed
    (final,) = dep.task_instances(SLOW_DAG, run_id)
    if run["state"] != "success":
        raise AssertionError(
            f"SIGKILL {victim} after {served_then}/{total} requests: no object from the killed try; "
            f"try {final['try_number']} on {final['hostname']}: {final['state']}: "
            f"{task_error(dep, SLOW_DAG, run_id, final)}"
        )
    objects = dep.objects("slow/")
    assert list(objects) == ["slow/june.csv"], sorted(objects)
    rows = _csv_rows(objects["slow/june.csv"])
    expected = [row for event in EVENTS for row in _expected(dep, event, SLOW_HOURS, SLOW_END)]
    assert rows == expected, f"slow/june.csv: {len(rows)} rows, the emulator {len(expected)}"
    assert final["try_number"] == 2, final
    return (
        f"SIGKILL {victim} after {served_then}/{total} requests ({SLOW_LATENCY_MS} ms each): "
        f"no object under slow/ ({uploads} multipart upload(s) never completed); "
        f"try 2 on {final['hostname']} {took:.0f} s later "
        f"wrote slow/june.csv, {len(rows)} rows = emulator"
    )


# -- triggerers ------------------------------------------------------------------------------------


def deferred_sensor_survives_the_sigkill_of_its_triggerer(dep: DistributedDeployment) -> str:
    before = dep.series("signup", 1, "day", f"{SENSOR_DAY}T00:00:00+00:00")[0]["count"]
    run_id = dep.trigger(SENSOR_DAG, None, conf={"threshold": before + 10})
    ti = dep.wait_for_task_state(SENSOR_DAG, run_id, "wait_for_signups", {"deferred"}, timeout=120)
    trigger_id = int(ti["trigger"]["id"])
    owner = wait_for("the sensor's trigger to be assigned", lambda: dep.trigger_owner(trigger_id), 60)
    with dep.killed(owner):
        seconds = take_over(dep, trigger_id, owner)
    dep.record_events("signup", 10, at=f"{SENSOR_DAY}T08:00:00+00:00")
    rose = time.monotonic()
    run = dep.wait_for_run(SENSOR_DAG, run_id, timeout=120)
    done = time.monotonic() - rose
    assert run["state"] == "success", run["state"]
    return (
        f"SIGKILL {owner}: {_other(owner, TRIGGERERS)} took the trigger over in {seconds:.1f} s; "
        f"count {before} -> {before + 10} (threshold {before + 10}): run {run['state']} {done:.1f} s later"
    )


def _wait_for_runs(dep: DistributedDeployment, count: int) -> None:
    wait_for(f"{count} run(s) of {SURGE_DAG}", lambda: len(watcher_runs(dep)) >= count, timeout=90)


def watcher_survives_the_sigkill_of_its_triggerer(dep: DistributedDeployment) -> str:
    wait_for("the watcher's first poll", lambda: watcher_polls(dep) > 0, timeout=120)
    set_total(dep, THRESHOLD // 2)
    assert quiet(dep) == 0, "a run below the threshold"
    set_total(dep, THRESHOLD + 10)
    _wait_for_runs(dep, 1)
    events_above = len(asset_events(dep))
    trigger_id, owner = watcher_owner(dep)
    assert owner, "the watcher's trigger is assigned to no triggerer"
    with dep.killed(owner):
        seconds = take_over(dep, trigger_id, owner)
    polls = watcher_polls(dep)
    wait_for("the new owner's first poll", lambda: watcher_polls(dep) > polls, timeout=60)
    runs_after_takeover = quiet(dep)
    events_after_takeover = len(asset_events(dep))
    set_total(dep, THRESHOLD - 20)
    below = quiet(dep)
    set_total(dep, THRESHOLD + 20)
    _wait_for_runs(dep, 2)
    time.sleep(4)  # a second event of the same crossing would be recorded by now
    runs, events = len(watcher_runs(dep)), asset_events(dep)
    ids = crossing_ids(events)
    assert runs_after_takeover == 1 and events_after_takeover == events_above == 1, (
        f"after the takeover above the threshold: {runs_after_takeover} runs, {events_after_takeover} events"
    )
    assert below == 1 and runs == 2 and len(events) == 2, (
        f"runs {below} below, {runs} after; {len(events)} events"
    )
    assert len(set(ids)) == 2, f"the two crossings share an id: {ids}"
    return (
        f"total {THRESHOLD + 10}/{THRESHOLD}: 1 run; SIGKILL {owner} while above: "
        f"{_other(owner, TRIGGERERS)} took over in {seconds:.1f} s, runs 1 -> {runs_after_takeover} "
        f"(expected 1); below then {THRESHOLD + 20}: runs {below} -> {runs} (expected 2); "
        f"crossing ids {', '.join(ids)}"
    )


def watcher_crossing_while_its_triggerer_was_stopped_is_never_lost(dep: DistributedDeployment) -> str:
    """SIGSTOP until the other takes over, SIGCONT just as the total crosses: >= 1 event, one id."""
    results = [_one_stopped_crossing(dep) for _ in range(SIGSTOP_REPEATS)]
    for line, _ in results[:-1]:
        print(f"      {line}")
    twice = sum(1 for _, events in results if events > 1)
    note = f"; {twice} of {len(results)} crossings fired twice" if len(results) > 1 else ""
    return results[-1][0] + note


def _log_offsets(dep: DistributedDeployment) -> dict[str, int]:
    return {name: (dep.logs / f"{name}.log").stat().st_size for name in TRIGGERERS}


def _logged_since(dep: DistributedDeployment, offsets: dict[str, int], text: str) -> dict[str, int]:
    """How often each triggerer logged ``text`` since ``offsets``."""
    counts = {}
    for name, offset in offsets.items():
        with (dep.logs / f"{name}.log").open("rb") as log:
            log.seek(offset)
            counts[name] = log.read().decode(errors="replace").count(text)
    return counts


def _one_stopped_crossing(dep: DistributedDeployment) -> tuple[str, int]:
    """One SIGSTOP takeover and crossing: its line, and how many events it gave."""
    set_total(dep, THRESHOLD - 20)
    quiet(dep)
    events_before, runs_before = asset_events(dep), len(watcher_runs(dep))
    trigger_id, owner = watcher_owner(dep)
    assert owner, "the watcher's trigger is assigned to no triggerer"
    successor = _other(owner, TRIGGERERS)
    dep.send_signal(owner, signal.SIGSTOP)
    stopped = time.monotonic()
    try:
        seconds = take_over(dep, trigger_id, owner)
        polls = watcher_polls(dep)
        wait_for("the new owner's first poll", lambda: watcher_polls(dep) > polls, timeout=60)
        # Longer than the health check's threshold, whenever the takeover came.
        time.sleep(max(0.0, THRESHOLD_SECONDS + 2 - (time.monotonic() - stopped)))
        total = THRESHOLD + 15
        offsets = _log_offsets(dep)
        set_total(dep, total)
    finally:
        dep.send_signal(owner, signal.SIGCONT)
    held = time.monotonic() - stopped

    def fired() -> list[dict[str, Any]]:
        return asset_events(dep)[len(events_before) :]

    wait_for("an event for the crossing", fired, timeout=60)
    time.sleep(2 * float(TRIGGERER_SETTINGS["JOB_HEARTBEAT_SEC"]) + 4)  # room for a second one
    new, runs = fired(), len(watcher_runs(dep))
    ids, earlier = crossing_ids(new), set(crossing_ids(events_before))
    firing = _logged_since(dep, offsets, "crossed, firing")
    cancelled = _logged_since(dep, offsets, "Trigger cancelled")[owner]
    assert len(set(ids)) == 1, f"{len(new)} events of one crossing with different ids: {ids}"
    assert not set(ids) & earlier, f"the crossing reused an earlier crossing's id: {ids[0]}"
    assert window_total(dep) == total
    return (
        f"SIGSTOP {owner} {held:.1f} s (> threshold {THRESHOLD_SECONDS} s; {successor} took over in "
        f"{seconds:.1f} s), SIGCONT as {total}/{THRESHOLD} crossed: {len(new)} event(s), crossing_id "
        f"{', '.join(ids)}; fired by {successor} {firing[successor]}x, resumed {owner} {firing[owner]}x "
        f"(its copy cancelled: {'yes' if cancelled else 'no'}); runs {runs_before} -> {runs}",
        len(new),
    )


# -- secrets ---------------------------------------------------------------------------------------


def the_keys_are_in_no_log_no_object_and_no_plain_column(dep: DistributedDeployment) -> str:
    keys = {"the API key": dep.api_key, "the S3 secret key": S3_SECRET_KEY}
    files = list(dep.log_files())
    for path in files:
        content = path.read_bytes()
        for what, key in keys.items():
            assert key.encode() not in content, f"{what} in {path}"
    objects = dep.objects("")
    for name, content in objects.items():
        for what, key in keys.items():
            assert key.encode() not in content, f"{what} in s3://{name}"
    dump = dep.pg_dump()
    for what, key in keys.items():
        assert key not in dump, f"{what} in the metadata DB's dump"
    stored = dep.sql("SELECT conn_id, is_encrypted, is_extra_encrypted FROM connection ORDER BY conn_id")
    assert stored and all(encrypted for _, encrypted, _ in stored), stored
    for name in WORKERS:
        env = dep.component_envs[name]
        assert not any(key.startswith("AIRFLOW_CONN_") for key in env), (
            f"a connection in {name}'s environment"
        )
        assert "AIRFLOW__CORE__FERNET_KEY" not in env and not any(k in env.values() for k in keys.values())
    workers_logged = sum(1 for path in files if any(name in path.parts for name in WORKERS))
    return (
        f"{len(files)} log files ({workers_logged} on the workers), {len(objects)} S3 objects, "
        f"pg_dump {len(dump) // 1024} KiB with {len(stored)} connections (encrypted): no key"
    )


SCENARIOS: list[Callable[[DistributedDeployment], str]] = [
    exports_spread_over_both_workers_to_s3,
    deferred_sensor_survives_the_sigkill_of_its_triggerer,
    watcher_survives_the_sigkill_of_its_triggerer,
    watcher_crossing_while_its_triggerer_was_stopped_is_never_lost,
    worker_killed_mid_export_leaves_no_object_and_the_retry_writes_it,
    the_keys_are_in_no_log_no_object_and_no_plain_column,  # last: after every step that handled a key
]

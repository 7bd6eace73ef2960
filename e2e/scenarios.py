"""The scenarios, in order: each takes the running deployment and raises AssertionError to fail.

Add a scenario by writing a function and listing it in :data:`SCENARIOS`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from e2e.deployment import ROOT, Deployment
from e2e.watcher import WATCHER_SCENARIOS

CONN_ID = "events_analytics_default"
WRONG_CONN_ID = "events_wrong_key"
WRONG_KEY = "sk-e2e-wrong-0b5d2f"
DAY = "2024-01-01"
LOGICAL_DATE = "2024-01-02T00:00:00Z"  # a manual run at this date exports the day before
EXAMPLES = ("example_events_daily_export", "example_events_all_events", "example_events_sensor_gated")
FUNNEL = ("add_to_cart", "checkout_started", "purchase")
# A scenario may return a summary (run counts, times) for its PASS line.
Scenario = Callable[[Deployment], str | None]


def prepare(dep: Deployment) -> None:
    """The connections every scenario uses, created through the REST API as an operator would."""
    dep.add_connection(CONN_ID, dep.api_key)
    dep.add_connection(WRONG_CONN_ID, WRONG_KEY)


# -- connection ------------------------------------------------------------------------------------


def connection_test_through_the_api(dep: Deployment) -> None:
    body = {"connection_id": CONN_ID, "conn_type": "events_analytics", "host": dep.emulator_url}
    right = dep.api("POST", "/connections/test", json={**body, "password": dep.api_key})
    wrong = dep.api("POST", "/connections/test", json={**body, "password": WRONG_KEY})
    assert right["status"] is True, right
    assert wrong["status"] is False and "401" in wrong["message"], wrong
    for answer in (right, wrong):
        assert dep.api_key not in json.dumps(answer) and WRONG_KEY not in json.dumps(answer)
    # What the 3.3 UI's Test button posts for a connection saved from the form: port 0 and the
    # masked key. Airflow refuses it (0 is not the stored NULL); typing the key again works.
    ui_body = {**body, "port": 0, "password": "***"}
    refused = dep.api("POST", "/connections/test", expect=400, json=ui_body)
    assert "differs from the stored connection" in refused["detail"], refused
    retyped = dep.api("POST", "/connections/test", json={**ui_body, "password": dep.api_key})
    assert retyped["status"] is True, retyped


def connection_form_metadata(dep: Deployment) -> None:
    hooks = dep.api("GET", "/ui/connections/hook_meta")
    ours = next(hook for hook in hooks if hook["connection_type"] == "events_analytics")
    fields = ours["standard_fields"]
    assert ours["hook_name"] == "Custom Events Analytics"
    assert (fields["host"]["title"], fields["password"]["title"]) == ("Instance URL", "REST API key")
    assert fields["port"]["hidden"] and fields["login"]["hidden"]
    assert "allow_insecure_http" in ours["extra_fields"]


# -- example DAGs ----------------------------------------------------------------------------------


def _day_before(moment: str) -> str:
    return (datetime.fromisoformat(moment.replace("Z", "+00:00")) - timedelta(days=1)).date().isoformat()


def _rows(path: Any) -> list[dict[str, Any]]:
    text = path.read_text()
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines()]
    return [{**row, "count": int(row["count"])} for row in csv.DictReader(io.StringIO(text))]


def _expected(dep: Deployment, events: tuple[str, ...], length: int, unit: str, ending_at: str) -> list[Any]:
    return [
        {"event": event, **point} for event in events for point in dep.series(event, length, unit, ending_at)
    ]


def example_dags_with_and_without_a_logical_date(dep: Deployment) -> None:
    runs = [(dag_id, logical) for dag_id in EXAMPLES[:2] for logical in (LOGICAL_DATE, None)]
    triggered = [(dag_id, logical, dep.trigger(dag_id, logical)) for dag_id, logical in runs]
    gated = dep.trigger(EXAMPLES[2], None, conf={"threshold": 0})
    triggered.append((EXAMPLES[2], None, gated))
    for dag_id, logical, run_id in triggered:
        run = dep.wait_for_run(dag_id, run_id)
        assert run["state"] == "success", (dag_id, logical, run["state"])
        assert (
            run["logical_date"] is None if logical is None else run["logical_date"].startswith("2024-01-02")
        )
        day = DAY if logical else _day_before(run["run_after"])
        folder, suffix = {
            EXAMPLES[0]: ("hourly", "csv"),
            EXAMPLES[1]: ("all_events", "jsonl"),
            EXAMPLES[2]: ("gated", "csv"),
        }[dag_id]
        path = dep.exports / folder / f"{day}.{suffix}"
        assert path.exists(), f"{dag_id} ({logical=}) wrote no {path.name}"
        rows = _rows(path)
        if dag_id == EXAMPLES[0]:
            assert rows == _expected(dep, ("purchase", "signup"), 24, "hour", f"{day}T23:00:00+00:00")
        print(f"      {dag_id} logical_date={logical}: {run['state']}, wrote {folder}/{path.name}")


def gated_sensor_defers_then_events_arrive(dep: Deployment) -> None:
    before = dep.series("purchase", 1, "day", f"{DAY}T00:00:00+00:00")[0]["count"]
    run_id = dep.trigger(EXAMPLES[2], LOGICAL_DATE, conf={"threshold": before + 50})
    dep.wait_for_task_state(EXAMPLES[2], run_id, "wait_for_purchases", {"deferred"})
    recorded = dep.record_events("purchase", 50, at=f"{DAY}T12:00:00+00:00")
    run = dep.wait_for_run(EXAMPLES[2], run_id)
    assert run["state"] == "success", run["state"]
    log = dep.task_log(EXAMPLES[2], run_id, "wait_for_purchases")
    assert "not yet" in log and f"reached {before + 50}" in log, log[-2000:]
    rows = _rows(dep.exports / "gated" / f"{DAY}.csv")
    assert rows == _expected(dep, FUNNEL[:2], 72, "hour", f"{DAY}T23:00:00+00:00") + _expected(
        dep, FUNNEL[2:], 72, "hour", f"{DAY}T23:00:00+00:00"
    )
    print(f"      deferred, then emulator answered {recorded}; run {run['state']}")


# -- scenario DAGs -----------------------------------------------------------------------------------


def reschedule_mode_sensor(dep: Deployment) -> None:
    before = dep.series("signup", 1, "day", f"{DAY}T00:00:00+00:00")[0]["count"]
    run_id = dep.trigger("e2e_reschedule_sensor", LOGICAL_DATE, conf={"threshold": before + 10})
    dep.wait_for_task_state("e2e_reschedule_sensor", run_id, "wait_for_signups", {"up_for_reschedule"})
    dep.record_events("signup", 10, at=f"{DAY}T08:00:00+00:00")
    run = dep.wait_for_run("e2e_reschedule_sensor", run_id)
    assert run["state"] == "success", run["state"]


def mapped_export_with_and_without_a_logical_date(dep: Deployment) -> None:
    dag_id, events = "e2e_mapped_export", ("app_open", "purchase", "signup")
    for logical in (LOGICAL_DATE, None):
        run_id = dep.trigger(dag_id, logical)
        run = dep.wait_for_run(dag_id, run_id)
        assert run["state"] == "success", (logical, run["state"])
        tis = sorted(dep.task_instances(dag_id, run_id), key=lambda ti: ti["map_index"])
        assert [(ti["map_index"], ti["state"]) for ti in tis] == [(i, "success") for i in range(len(events))]
        day = DAY if logical else _day_before(run["run_after"])
        for index, event in enumerate(events):
            rows = _rows(dep.exports / "mapped" / f"{day}-{index}.csv")
            assert rows == _expected(dep, (event,), 24, "hour", f"{day}T23:00:00+00:00"), (logical, event)
        print(f"      logical_date={logical}: {len(tis)} mapped exports to mapped/{day}-<i>.csv")


def a_wrong_key_fails_the_first_try_without_hammering(dep: Deployment) -> None:
    refused_before = dep.emulator_statuses().count(401)
    run_id = dep.trigger("e2e_wrong_key", LOGICAL_DATE)
    assert dep.wait_for_run("e2e_wrong_key", run_id)["state"] == "failed"
    (ti,) = dep.task_instances("e2e_wrong_key", run_id)
    assert (ti["state"], ti["try_number"]) == ("failed", 1), ti
    assert dep.emulator_statuses().count(401) - refused_before == 1  # one request, no retry loop
    log = dep.task_log("e2e_wrong_key", run_id, "export_with_a_wrong_key")
    assert "EventsAnalyticsAuthError" in log and "401" in log, log[-2000:]
    assert "RuntimeError" not in log and WRONG_KEY not in log


def the_key_is_in_no_task_log_and_no_log_file(dep: Deployment) -> None:
    fetched, requesting = 0, 0
    for dag_id, run_id in dep.triggered:
        for ti in dep.task_instances(dag_id, run_id):
            for attempt in range(1, max(1, ti["try_number"]) + 1):
                text = dep.task_log(dag_id, run_id, ti["task_id"], attempt, ti["map_index"])
                assert dep.api_key not in text and WRONG_KEY not in text, (dag_id, ti["task_id"])
                fetched += 1
                requesting += "in the window of" in text or "Fetching" in text
    files = list(dep.log_files())
    for path in files:
        content = path.read_bytes()
        assert dep.api_key.encode() not in content and WRONG_KEY.encode() not in content, path
    assert fetched >= len(dep.triggered) and files
    assert requesting >= len(dep.triggered) - 1, "the logs hold no request lines: were they really read?"
    print(f"      {fetched} task logs through the REST API and {len(files)} log files: no key")


def connection_form_in_a_browser(dep: Deployment) -> None:
    from e2e.browser import visit_connection_form

    path = ROOT / "connection-form.png"
    visit = visit_connection_form(dep, path)
    assert {"Instance URL", "REST API key"} <= set(visit.labels), visit.labels
    assert not {"Port", "Login", "Schema"} & set(visit.labels), visit.labels
    print(f"      screenshot {path.relative_to(ROOT.parent)}; form labels {visit.labels}")
    (status, posted, answer), (status_with_port, _, answer_with_port) = visit.tests
    # Airflow 3.3's quirk, documented in docs/deployment.md: the form hides the port, Test posts port 0
    # with the masked key, and the server refuses it; once a port is stored, Test is green.
    assert (status, posted["port"], posted["password"]) == (400, 0, "***"), (status, posted)
    assert "differs from the stored connection" in answer["detail"], answer
    assert status_with_port == 200 and answer_with_port["status"] is True, answer_with_port
    print(f"      Test button: {status} {answer['detail'][:50]}...; with a stored port: {answer_with_port}")


SCENARIOS: list[Scenario] = [
    connection_test_through_the_api,
    connection_form_metadata,
    example_dags_with_and_without_a_logical_date,
    gated_sensor_defers_then_events_arrive,
    reschedule_mode_sensor,
    mapped_export_with_and_without_a_logical_date,
    a_wrong_key_fails_the_first_try_without_hammering,
    connection_form_in_a_browser,
    *WATCHER_SCENARIOS,
    the_key_is_in_no_task_log_and_no_log_file,  # last: after every step that handled the key
]

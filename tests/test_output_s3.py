"""Exports to S3 through moto's server and an Airflow ``aws`` connection: the s3://conn@bucket/key form."""

from __future__ import annotations

import csv
from typing import Any

import pendulum
import pytest

from airflow_provider_events._output.export import open_export
from airflow_provider_events._output.staging import lineage_dataset
from airflow_provider_events.exceptions import EventsAnalyticsConfigError
from airflow_provider_events.operators.events import EventSeriesOperator
from tests.conftest import S3_CONN_ID
from tests.s3_server import SECRET_KEY, keys, pending_uploads, read

FAST = {"retry_delay": 0.01, "retry_limit": 1, "timeout": 5}
DAYS = [{"time": "2024-01-01", "count": 3}, {"time": "2024-01-02", "count": 5}]
ENDING = "2024-06-01T23:00:00+00:00"


def rows(text: str) -> list[dict[str, Any]]:
    return [{**row, "count": int(row["count"])} for row in csv.DictReader(text.splitlines())]


def test_an_export_to_s3_with_event_partitions_writes_the_emulators_rows(
    emulator, events_conn, s3_server, s3_bucket
) -> None:
    events = ["purchase", "signup"]
    result = EventSeriesOperator(
        task_id="export",
        event=events,
        unit="hour",
        length=24,
        ending_at=ENDING,
        output_path=f"s3://{S3_CONN_ID}@{s3_bucket}/hours/{{event}}.csv",
        hook_params=FAST,
    ).execute({})

    client = s3_server.client()
    assert result == [f"s3://{S3_CONN_ID}@{s3_bucket}/hours/{event}.csv" for event in events]
    assert keys(client, s3_bucket) == [f"hours/{event}.csv" for event in events]
    for event in events:
        written = rows(read(client, s3_bucket, f"hours/{event}.csv"))
        assert written == [
            {"event": event, **p} for p in emulator.series(event, 24, "hour", ending_at=ENDING)
        ]
    assert pending_uploads(client, s3_bucket) == []  # every upload completed, the probe's aborted


def test_nothing_is_visible_before_the_commit_and_nothing_after_a_failure(s3_server, s3_bucket) -> None:
    client = s3_server.client()
    target = f"s3://{S3_CONN_ID}@{s3_bucket}/days/{{event}}.csv"
    with open_export(target, "csv", "day") as running:
        running.write("a", DAYS)
        running.write("b", DAYS)  # a's file is finished: uploaded, not yet visible
        assert keys(client, s3_bucket) == []
        assert pending_uploads(client, s3_bucket) == ["days/a.csv"]
    assert keys(client, s3_bucket) == ["days/a.csv", "days/b.csv"]
    assert rows(read(client, s3_bucket, "days/b.csv")) == [{"event": "b", **point} for point in DAYS]

    failed = f"s3://{S3_CONN_ID}@{s3_bucket}/failed/{{event}}.csv"
    with pytest.raises(RuntimeError, match="connection lost"), open_export(failed, "csv", "day") as running:
        running.write("a", DAYS)
        running.write("b", DAYS)
        raise RuntimeError("connection lost")
    assert keys(client, s3_bucket) == ["days/a.csv", "days/b.csv"]  # nothing under failed/
    assert pending_uploads(client, s3_bucket) == []  # the finished file's upload was aborted too


def test_day_partitions_are_local_days_with_or_without_the_event(s3_server, s3_bucket) -> None:
    client = s3_server.client()
    berlin = pendulum.timezone("Europe/Berlin")
    # 22:00 and 23:00 UTC on 30 April are 00:00 and 01:00 on 1 May in Berlin.
    hours = [{"time": f"2024-04-30T{hour}:00:00+00:00", "count": hour} for hour in (21, 22, 23)]
    base = f"s3://{S3_CONN_ID}@{s3_bucket}"
    with open_export(f"{base}/by_event/{{event}}/{{day}}.csv", "csv", "hour", berlin) as running:
        running.write("a", hours)
        running.write("b", hours[1:])
    with open_export(f"{base}/by_day/{{day}}.csv", "csv", "hour", berlin) as running:
        running.write("a", hours)
        running.write("b", hours[1:])

    assert keys(client, s3_bucket) == [
        "by_day/2024-04-30.csv",
        "by_day/2024-05-01.csv",
        "by_event/a/2024-04-30.csv",
        "by_event/a/2024-05-01.csv",
        "by_event/b/2024-05-01.csv",
    ]
    may_first = rows(read(client, s3_bucket, "by_day/2024-05-01.csv"))
    assert [(row["event"], row["count"]) for row in may_first] == [("a", 22), ("a", 23), ("b", 22), ("b", 23)]


def test_a_missing_bucket_fails_before_any_api_request(emulator, events_conn, s3_server, s3_bucket) -> None:
    with pytest.raises(EventsAnalyticsConfigError, match=r"cannot be written: .*bucket does not exist"):
        EventSeriesOperator(
            task_id="export",
            event="purchase",
            length=3,
            ending_at=ENDING,
            output_path=f"s3://{S3_CONN_ID}@no-such-{s3_bucket}/{{day}}.csv",
            hook_params=FAST,
        ).execute({})
    assert emulator.request_count() == 0


def test_credentials_that_cannot_write_fail_before_any_api_request(
    emulator, events_conn, s3_server, s3_bucket, monkeypatch
) -> None:
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{S3_CONN_ID.upper()}_BAD",
        s3_server.connection_json("AKIAUNKNOWN000000000", SECRET_KEY),
    )
    s3_server.require_signed_requests(True)
    try:
        with pytest.raises(
            EventsAnalyticsConfigError, match=r"cannot be written: .*PermissionError \(The AWS Access Key Id"
        ) as caught:
            EventSeriesOperator(
                task_id="export",
                event="purchase",
                length=3,
                ending_at=ENDING,
                output_path=f"s3://{S3_CONN_ID}_bad@{s3_bucket}/{{day}}.csv",
                hook_params=FAST,
            ).execute({})
    finally:
        s3_server.require_signed_requests(False)
    assert SECRET_KEY not in str(caught.value)
    assert emulator.request_count() == 0
    assert keys(s3_server.client(), s3_bucket) == []
    assert pending_uploads(s3_server.client(), s3_bucket) == []


def test_lineage_names_an_s3_output_by_bucket_and_key(s3_bucket) -> None:
    assert lineage_dataset(f"s3://{S3_CONN_ID}@{s3_bucket}/hours/a.csv") == (
        f"s3://{s3_bucket}",
        "hours/a.csv",
    )

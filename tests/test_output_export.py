"""Streaming exports: formats written series by series, partitions, Parquet, staging and fail-fast checks."""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pendulum
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_events._output import formats, staging
from airflow_provider_events._output.export import Export, bucket_day, event_segment, open_export
from airflow_provider_events.exceptions import EventsAnalyticsConfigError

HOURS = [
    {"time": "2024-03-09T22:00:00-05:00", "count": 4},
    {"time": "2024-03-09T23:00:00-05:00", "count": 0},
    {"time": "2024-03-10T00:00:00-05:00", "count": 9},
]
DAYS = [{"time": "2024-01-01", "count": 3}, {"time": "2024-01-02", "count": 5}]


def serialise(records: list[dict], output_format: str) -> bytes:
    """The whole-list serialiser the streaming writers replaced: what their bytes must equal."""
    if output_format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(("event", "time", "count"))
        writer.writerows([record[field] for field in ("event", "time", "count")] for record in records)
        return buffer.getvalue().encode("utf-8")
    if output_format == "json":
        return (json.dumps(records, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
    lines = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n" for record in records)
    return "".join(lines).encode("utf-8")


def tree(folder: Path) -> list[str]:
    """Every file under ``folder``, hidden temporary files included, as relative paths."""
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


def export(
    path: Path | str, output_format: str, unit: str, series: dict[str, list[dict]], zone: Any = None
) -> Export:
    with open_export(str(path), output_format, unit, zone) as running:
        for event, points in series.items():
            running.write(event, points)
    return running


@pytest.mark.parametrize("output_format", ["csv", "json", "jsonl"])
def test_streamed_text_is_byte_for_byte_the_whole_list_serialised(tmp_path: Path, output_format: str) -> None:
    series = {"purchase": HOURS, 'sign, "up" ünïcode': HOURS[:1], "empty": []}
    records = [{"event": event, **point} for event, points in series.items() for point in points]
    target = tmp_path / f"out.{output_format}"

    done = export(target, output_format, "hour", series)

    assert target.read_bytes() == serialise(records, output_format)
    assert (done.rows, done.locations, tree(tmp_path)) == (4, [str(target)], [target.name])


def test_an_export_of_nothing_is_still_a_file_with_its_header(tmp_path: Path) -> None:
    export(tmp_path / "none.csv", "csv", "day", {})
    export(tmp_path / "none.json", "json", "day", {})
    assert (tmp_path / "none.csv").read_text() == "event,time,count\n"
    assert (tmp_path / "none.json").read_text() == "[]\n"


def test_parquet_columns_are_typed_utc_timestamps_for_hours(tmp_path: Path) -> None:
    target = tmp_path / "hours.parquet"
    export(target, "parquet", "hour", {"purchase": HOURS})

    table = pq.read_table(target)
    assert table.schema == pa.schema(
        [("event", pa.string()), ("time", pa.timestamp("us", tz="UTC")), ("count", pa.int64())]
    )
    assert table.column("time").to_pylist()[0] == datetime(2024, 3, 10, 3, tzinfo=timezone.utc)
    assert table.column("count").to_pylist() == [4, 0, 9]


def test_parquet_days_are_dates_and_rows_go_out_in_row_groups(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(formats, "PARQUET_ROW_GROUP", 3)
    target = tmp_path / "days.parquet"
    export(target, "parquet", "day", {"a": DAYS, "b": DAYS, "c": DAYS})

    assert pq.read_schema(target).field("time").type == pa.date32()
    assert pq.read_metadata(target).num_row_groups == 2  # written while streaming, not at the end
    table = pq.read_table(target)
    assert table.column("event").to_pylist() == ["a", "a", "b", "b", "c", "c"]
    assert table.column("time").to_pylist()[:2] == [date(2024, 1, 1), date(2024, 1, 2)]


def test_event_and_day_placeholders_give_one_whole_file_each(tmp_path: Path) -> None:
    new_york = pendulum.timezone("America/New_York")
    done = export(
        tmp_path / "{event}" / "{day}.jsonl",
        "jsonl",
        "hour",
        {"purchase": HOURS, "signup": HOURS[2:]},
        new_york,
    )

    assert tree(tmp_path) == [
        "purchase/2024-03-09.jsonl",
        "purchase/2024-03-10.jsonl",
        "signup/2024-03-10.jsonl",
    ]
    assert (tmp_path / "purchase" / "2024-03-09.jsonl").read_text().count("\n") == 2  # New York's day
    assert done.locations[0] == str(tmp_path / "purchase" / "2024-03-09.jsonl")


def test_day_is_the_zones_calendar_day_of_each_hour_whatever_offset_the_api_wrote(tmp_path: Path) -> None:
    assert bucket_day("2024-03-09T22:00:00-05:00", "hour", None) == "2024-03-10"  # UTC without a zone
    assert bucket_day("2024-03-10T03:00:00Z", "hour", pendulum.timezone("America/New_York")) == "2024-03-09"
    assert bucket_day("2024-04-30T22:00:00+00:00", "hour", pendulum.timezone("Europe/Berlin")) == "2024-05-01"
    assert bucket_day("2024-10-27", "day", pendulum.timezone("Europe/Berlin")) == "2024-10-27"
    export(tmp_path / "{day}.csv", "csv", "hour", {"purchase": HOURS})
    assert tree(tmp_path) == ["2024-03-10.csv"]


def test_one_file_is_open_at_a_time_whatever_the_number_of_days(tmp_path: Path, monkeypatch) -> None:
    opened: list[int] = []
    real_open = staging.StagedFiles.open

    def counting_open(self, path):
        opened.append(sum(not handle.closed for _, handle in self._local.values()))
        return real_open(self, path)

    monkeypatch.setattr(staging.StagedFiles, "open", counting_open)
    days = [{"time": f"2021-{month:02d}-{day:02d}", "count": day} for month in (1, 2) for day in range(1, 29)]
    export(tmp_path / "{event}" / "{day}.csv", "csv", "day", {"a": days, "b": days})
    export(tmp_path / "all" / "{day}.csv", "csv", "day", {"a": days, "b": days})

    assert len(opened) == 3 * 56
    assert max(opened) == 0  # each file is finished (closed) before the next one opens
    assert (
        tmp_path / "all" / "2021-02-28.csv"
    ).read_text() == "event,time,count\na,2021-02-28,28\nb,2021-02-28,28\n"
    assert len(tree(tmp_path)) == 3 * 56


def test_a_day_placeholder_alone_gathers_every_event_of_that_day(tmp_path: Path) -> None:
    export(tmp_path / "day={day}" / "events.csv", "csv", "day", {"a": DAYS, "b": DAYS[:1]})
    assert (tmp_path / "day=2024-01-01" / "events.csv").read_text() == (
        "event,time,count\na,2024-01-01,3\nb,2024-01-01,3\n"
    )
    assert tree(tmp_path) == ["day=2024-01-01/events.csv", "day=2024-01-02/events.csv"]


def test_event_names_cannot_escape_the_folder(tmp_path: Path) -> None:
    assert event_segment("../../etc/passwd") == "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd"
    assert event_segment("sign up_2024-01") == "sign up_2024-01"
    export(tmp_path / "out" / "{event}.csv", "csv", "day", {"..": DAYS, "a/b": DAYS})
    assert tree(tmp_path) == ["out/%2E%2E.csv", "out/a%2Fb.csv"]


def test_a_failure_mid_export_leaves_no_file_at_all(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("previous")
    with (
        pytest.raises(RuntimeError, match="connection lost"),
        open_export(str(tmp_path / "{event}.csv"), "csv", "day") as running,
    ):
        running.write("a", DAYS)
        running.write("b", DAYS)  # a's file is finished and closed, b's is open: neither appears
        raise RuntimeError("connection lost")
    assert tree(tmp_path) == ["a.csv"]
    assert (tmp_path / "a.csv").read_text() == "previous"

    with (
        pytest.raises(RuntimeError, match="connection lost"),
        open_export(str(tmp_path / "days" / "{day}.csv"), "csv", "day") as running,
    ):
        running.write("a", DAYS)  # days without events wait in the spool until the last series
        raise RuntimeError("connection lost")
    assert tree(tmp_path) == ["a.csv"]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("{file}/out.csv", r"placeholder \{event\}|placeholder \{file\}"),
        ("/data/{event/out.csv", "unbalanced braces"),
    ],
)
def test_unknown_placeholders_are_config_errors(path: str, message: str) -> None:
    with pytest.raises(EventsAnalyticsConfigError, match=message):
        open_export(path, "csv", "day")


def test_a_local_target_that_cannot_be_written_fails_before_anything(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file, not a folder")
    with pytest.raises(EventsAnalyticsConfigError, match=r"cannot be written: .* Choose a folder"):
        open_export(str(tmp_path / "blocker" / "sub" / "{day}.csv"), "csv", "day")
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(EventsAnalyticsConfigError, match="is a folder: name a file in it"):
        open_export(str(tmp_path / "folder.csv"), "csv", "day")
    assert sorted(os.listdir(tmp_path)) == ["blocker", "folder.csv"]  # no probe left behind


def test_parquet_without_pyarrow_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name)
    )
    with pytest.raises(EventsAnalyticsConfigError, match=r"pip install 'airflow-provider-events\[parquet\]'"):
        open_export("/tmp/out.parquet", "parquet", "day")

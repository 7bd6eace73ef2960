"""Serialising records and writing them whole: formats, suffixes, atomic local writes, object storage."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest

from airflow_provider_events._output.formats import open_writer, resolve_format
from airflow_provider_events._output.staging import StagedFiles, lineage_dataset

RECORDS = [
    {"event": "purchase", "time": "2024-01-01T00:00:00+00:00", "count": 12},
    {"event": "purchase", "time": "2024-01-01T01:00:00+00:00", "count": 0},
    {"event": 'sign, "up" ünïcode', "time": "2024-01-01", "count": 7},
]


def serialise(records: list[dict], output_format: str) -> bytes:
    """The bytes the operator's writer makes of ``records``, all of one format, in memory."""
    if output_format not in ("csv", "json", "jsonl"):
        raise ValueError(f"output_format must be one of csv, json, jsonl, got {output_format!r}")
    buffer = io.BytesIO()
    writer = open_writer(buffer, output_format, unit="day")
    for record in records:
        writer.write(record["event"], [record])
    writer.finish()
    return buffer.getvalue()


def write_output(path: str, data: bytes) -> str:
    """Write ``data`` to ``path`` as the operator does: staged, then committed whole, or discarded."""
    files = StagedFiles()
    try:
        location, handle = files.open(path)
        handle.write(data)
        files.commit()
    except BaseException:
        files.discard()
        raise
    return location


def parse(data: bytes, output_format: str) -> list[dict]:
    text = data.decode("utf-8")
    if output_format == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        return [{**row, "count": int(row["count"])} for row in rows]
    if output_format == "json":
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines()]


def leftovers(folder: Path) -> list[str]:
    """Every entry of a folder, hidden temp files included."""
    return sorted(os.listdir(folder))


@pytest.mark.parametrize(
    ("path", "output_format", "expected"),
    [
        ("/data/out.csv", None, "csv"),
        ("/data/OUT.CSV", None, "csv"),
        ("/data/out.json", None, "json"),
        ("/data/out.jsonl", None, "jsonl"),
        ("/data/out.ndjson", None, "jsonl"),
        ("s3://aws_default@bucket/2024/out.jsonl", None, "jsonl"),
        ("file:///data/out.json", None, "json"),
        ("/data/out.txt", "csv", "csv"),
        ("/data/out.csv", "json", "json"),
        ("/data/out.parquet", None, "parquet"),
        ("gs://bucket/{day}/out.PARQUET", None, "parquet"),
    ],
)
def test_format_comes_from_output_format_else_the_suffix(
    path: str, output_format: str | None, expected: str
) -> None:
    assert resolve_format(path, output_format) == expected


@pytest.mark.parametrize("path", ["/data/out.xlsx", "/data/out", "s3://bucket/out.parq", "/data/out.csv.gz"])
def test_a_suffix_naming_no_format_is_a_value_error(path: str) -> None:
    with pytest.raises(ValueError, match=r"output_path .* names no output format: use \.csv, \.json"):
        resolve_format(path, None)


def test_an_unknown_output_format_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="output_format must be one of csv, json, jsonl, parquet"):
        resolve_format("/data/out.csv", "xlsx")
    with pytest.raises(ValueError, match="output_format must be one of csv, json, jsonl"):
        serialise(RECORDS, "xlsx")


@pytest.mark.parametrize("output_format", ["csv", "json", "jsonl"])
def test_every_format_round_trips_the_records(output_format: str) -> None:
    assert parse(serialise(RECORDS, output_format), output_format) == RECORDS


def test_the_layout_of_each_format() -> None:
    csv_lines = serialise(RECORDS[:1], "csv").decode().splitlines()
    assert csv_lines == ["event,time,count", "purchase,2024-01-01T00:00:00+00:00,12"]
    assert serialise([], "csv") == b"event,time,count\n"
    assert json.loads(serialise(RECORDS, "json")) == RECORDS  # one array
    assert serialise([], "json").strip() == b"[]"
    jsonl = serialise(RECORDS, "jsonl").decode()
    assert jsonl.count("\n") == len(RECORDS) and jsonl.endswith("\n")
    assert serialise([], "jsonl") == b""
    assert "ünïcode" in serialise(RECORDS, "json").decode("utf-8")  # UTF-8, not \\u escapes


def test_a_local_write_creates_folders_and_leaves_only_the_file(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "out.csv"
    assert write_output(str(target), b"event,time,count\n") == str(target)
    assert target.read_bytes() == b"event,time,count\n"
    assert leftovers(target.parent) == ["out.csv"]


def test_a_local_write_replaces_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old")
    write_output(str(target), b"[1]")
    assert target.read_text() == "[1]"
    assert leftovers(tmp_path) == ["out.json"]


def test_the_file_gets_the_permissions_of_a_normal_open(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        write_output(str(tmp_path / "out.csv"), b"x")
    finally:
        os.umask(previous)
    assert (tmp_path / "out.csv").stat().st_mode & 0o777 == 0o644


def test_a_failed_write_keeps_the_old_file_and_removes_its_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("previous export")
    with pytest.raises(TypeError):
        write_output(str(target), "not bytes")  # type: ignore[arg-type]  # fails inside the write
    assert target.read_text() == "previous export"
    assert leftovers(tmp_path) == ["out.csv"]


def test_a_failed_rename_removes_the_temp_file(tmp_path: Path) -> None:
    (tmp_path / "out.csv").mkdir()  # os.replace cannot put a file over a folder
    with pytest.raises(OSError):
        write_output(str(tmp_path / "out.csv"), b"data")
    assert leftovers(tmp_path) == ["out.csv"]
    assert (tmp_path / "out.csv").is_dir()


def test_file_urls_and_relative_paths_are_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert write_output((tmp_path / "u.json").as_uri(), b"[]") == str(tmp_path / "u.json")
    assert write_output(f"file://localhost{tmp_path}/l.json", b"[]") == str(tmp_path / "l.json")
    monkeypatch.chdir(tmp_path)
    assert write_output("rel/r.json", b"[]") == str(tmp_path / "rel" / "r.json")
    assert sorted(p.name for p in tmp_path.rglob("*.json")) == ["l.json", "r.json", "u.json"]


def test_a_file_url_on_another_host_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="names a remote host"):
        write_output("file://fileserver/share/out.csv", b"x")


def test_an_object_storage_url_is_written_through_object_storage_path(s3_server, s3_bucket) -> None:
    from tests.conftest import S3_CONN_ID
    from tests.s3_server import keys, read

    location = write_output(f"s3://{S3_CONN_ID}@{s3_bucket}/2024/out.jsonl", b'{"a":1}\n')
    assert location == f"s3://{S3_CONN_ID}@{s3_bucket}/2024/out.jsonl"
    assert keys(s3_server.client(), s3_bucket) == ["2024/out.jsonl"]
    assert read(s3_server.client(), s3_bucket, "2024/out.jsonl") == '{"a":1}\n'


def test_lineage_names_follow_the_openlineage_naming_spec(tmp_path: Path) -> None:
    assert lineage_dataset(str(tmp_path / "out.csv")) == ("file", str(tmp_path / "out.csv"))
    assert lineage_dataset((tmp_path / "out.csv").as_uri()) == ("file", str(tmp_path / "out.csv"))
    assert lineage_dataset("memory://exports/2024/out.csv") == ("memory://exports", "2024/out.csv")

"""The fenced Python examples of the README and ``docs/``, and how ``test_docs_examples.py`` runs each.

A block is one of:

- ``not run``: the line just before its fence is ``<!-- not run: why -->``;
- ``file``: its first line names a file of a small project (``# dags/x.py``, ``# tests/test_x.py``);
  the files of one page are written out together and the project's own tests run with pytest;
- ``dag``: it defines a DAG; the DAG file is loaded and every DAG in it runs through ``dag.test()``;
- ``task``: it builds operators or sensors without a DAG; it runs inside a daily DAG, as above;
- ``code``: anything else, executed as it stands.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^```(?P<info>\S*)\s*$")
FENCED = re.compile(r"^```.*?^```\s*$", re.M | re.S)
HEADING = re.compile(r"^#+ (?P<title>.+)$", re.M)
LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")
NOT_RUN = re.compile(r"^<!-- not run: (?P<reason>.*?) -->$")
FILE_HEADER = re.compile(r"^# (?P<path>(?:[\w.-]+/)*[\w.-]+\.py)$")
DEFINES_DAG = re.compile(r"\bDAG\(|@dag\b")
BUILDS_TASK = re.compile(r"\b\w+(?:Operator|Sensor)(?:\.partial)?\(")

# The DAG a task snippet runs in: real data intervals, as the pages tell readers to use.
TASK_DAG = """\
from datetime import datetime, timezone

from airflow.sdk import DAG, CronDataIntervalTimetable

with DAG(
    dag_id={dag_id!r},
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
):
{body}
"""


@dataclass(frozen=True)
class Example:
    """One fenced ``python`` block: where it is, its code, and why it is not run, if it is not."""

    page: Path
    line: int  # of the opening fence, 1-based
    code: str
    not_run: str | None = None

    @property
    def id(self) -> str:
        return f"{self.page.name}:{self.line}"

    @property
    def file(self) -> str | None:
        """The project file the block stands for, named on its first line."""
        match = FILE_HEADER.match(self.code.splitlines()[0]) if self.code.strip() else None
        return match["path"] if match else None

    @property
    def kind(self) -> str:
        if self.not_run is not None:
            return "not run"
        if self.file is not None:
            return "file"
        if DEFINES_DAG.search(self.code):
            return "dag"
        if BUILDS_TASK.search(self.code):
            return "task"
        return "code"

    def dag_file(self) -> str:
        """The block as a DAG file: itself, or a task snippet inside a daily DAG."""
        if self.kind == "dag":
            return self.code
        dag_id = re.sub(r"\W", "_", f"docs_{self.page.stem}_{self.line}")
        return TASK_DAG.format(dag_id=dag_id, body=textwrap.indent(self.code, "    "))


def fences(page: Path) -> list[tuple[int, str, str, str]]:
    """``(line, info string, code, line before the fence)`` of every fenced block of a Markdown page."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        end = index + 1
        while end < len(lines) and lines[end].rstrip() != "```":
            end += 1
        if end == len(lines):
            raise ValueError(f"{page.name}:{index + 1}: a fence that is never closed")
        before = lines[index - 1].strip() if index else ""
        found.append((index + 1, opening["info"], "\n".join(lines[index + 1 : end]) + "\n", before))
        index = end + 1
    return found


def examples(pages: list[Path]) -> list[Example]:
    """Every ``python`` block of ``pages``, in page order."""
    found = []
    for page in pages:
        for line, info, code, before in fences(page):
            if info != "python":
                continue
            marker = NOT_RUN.match(before)
            found.append(Example(page, line, code, marker["reason"].strip() if marker else None))
    return found


def anchors(page: Path) -> set[str]:
    """The anchors of a page's headings, as GitHub writes them."""
    text = FENCED.sub("", page.read_text(encoding="utf-8"))
    return {
        re.sub(r"[^\w\- ]", "", match["title"].strip().lower()).replace(" ", "-")
        for match in HEADING.finditer(text)
    }


def local_links(page: Path) -> list[tuple[Path, str]]:
    """``(file, anchor)`` of every link of a page to itself or to another file of the repository."""
    text = FENCED.sub("", page.read_text(encoding="utf-8"))
    found = []
    for match in LINK.finditer(text):
        target = match["target"]
        if "://" in target:
            continue
        path, _, anchor = target.partition("#")
        found.append(((page.parent / path).resolve() if path else page.resolve(), anchor))
    return found

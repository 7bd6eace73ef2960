"""The results: table rows, targets, and the report printed as a table and written as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Row:
    """One line of the table; None means not applicable."""

    scenario: str
    median_s: float | None = None
    runs: int = 0
    baseline_s: float | None = None
    limit_s: float | None = None
    peak_mb: float | None = None
    count_429: int | None = None
    import_ms: float | None = None
    note: str = ""

    @property
    def ratio_baseline(self) -> float | None:
        return self.median_s / self.baseline_s if self.median_s and self.baseline_s else None

    @property
    def ratio_limit(self) -> float | None:
        return self.median_s / self.limit_s if self.median_s and self.limit_s else None


@dataclass
class Target:
    name: str
    value: float
    threshold: float
    below: bool = True  # passes when value <= threshold (else >=)

    @property
    def passed(self) -> bool:
        return self.value <= self.threshold if self.below else self.value >= self.threshold


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def ratio_targets(report: Report, row: Row) -> None:
    """The timed scenarios' targets: x base <= 0.25 and x limit <= 1.5, where the row has them."""
    if row.ratio_baseline is not None:
        report.targets.append(
            Target(f"{row.scenario}: ratio to sequential baseline", row.ratio_baseline, 0.25)
        )
    if row.ratio_limit is not None:
        report.targets.append(Target(f"{row.scenario}: ratio to network limit", row.ratio_limit, 1.5))


def correctness_target(report: Report, name: str, ok: bool) -> None:
    """A target that passes when what ``name`` fetched or wrote equals what the emulator serves."""
    report.targets.append(Target(f"{name}: output equals the emulator's", float(ok), 1.0, below=False))


_COLUMNS = (
    ("scenario", 28, "{}"),
    ("runs", 4, "{}"),
    ("median s", 9, "{:.3f}"),
    ("baseline s", 10, "{:.3f}"),
    ("x base", 7, "{:.3f}"),
    ("limit s", 8, "{:.3f}"),
    ("x limit", 7, "{:.2f}"),
    ("peak MB", 7, "{:.1f}"),
    ("429s", 4, "{}"),
    ("import ms", 9, "{:.1f}"),
)


def _cells(row: Row) -> list[Any]:
    return [
        row.scenario, row.runs, row.median_s, row.baseline_s, row.ratio_baseline, row.limit_s,
        row.ratio_limit, row.peak_mb, row.count_429, row.import_ms,
    ]  # fmt: skip


def format_report(report: Report) -> str:
    """The table, the notes of each row, and one PASS/FAIL line per target."""
    lines = [" | ".join(name.ljust(width) for name, width, _ in _COLUMNS)]
    lines.append("-+-".join("-" * width for _, width, _ in _COLUMNS))
    for row in report.rows:
        cells = [
            ("-" if v is None else spec.format(v))
            for v, (_, _, spec) in zip(_cells(row), _COLUMNS, strict=True)
        ]
        lines.append(
            " | ".join(cell.ljust(width) for cell, (_, width, _) in zip(cells, _COLUMNS, strict=True))
        )
    lines.append("")
    lines += [f"[{row.scenario}] {row.note}" for row in report.rows if row.note]
    lines += ["", *report.notes, ""] if report.notes else [""]
    for target in report.targets:
        sign = "<=" if target.below else ">="
        verdict = "PASS" if target.passed else "FAIL"
        lines.append(f"{verdict}  {target.name}: {target.value:.3g} (target {sign} {target.threshold:g})")
    return "\n".join(lines)


def write_json(report: Report, path: Path) -> None:
    rows = [
        {**asdict(row), "ratio_baseline": row.ratio_baseline, "ratio_limit": row.ratio_limit}
        for row in report.rows
    ]
    targets = [{**asdict(target), "passed": target.passed} for target in report.targets]
    payload = {"rows": rows, "targets": targets, "notes": report.notes, "details": report.details}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")

"""An access report as JSON or CSV, written as its rows come (both doors use these).

- JSON: one object, the report's parameters then `rows`, each row an object
  of `reports.COLUMNS` (`details` an object, absent context fields null).
- CSV: RFC 4180 (comma, CRLF, fields quoted when needed), UTF-8 with a byte
  order mark, one header line of `COLUMNS`. The mark is what makes Excel,
  as set up in France, read the file as UTF-8 (accents intact) instead of
  Windows-1252; RFC 4180 readers skip it when they read UTF-8-SIG. `details`
  is a cell of canonical JSON; absent values are empty cells. A text cell
  that starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a
  leading `'`, so a spreadsheet shows it instead of running it as a formula
  (file names and display names are chosen by users: OWASP "CSV injection").
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any, Final

from egide.services.audit.recorder import format_time
from egide.services.audit.reports import COLUMNS, Report, ReportRow

BOM: Final = "\ufeff"
CSV_MEDIA_TYPE: Final = "text/csv"
#: Characters a spreadsheet reads as the start of a formula.
_FORMULA: Final = ("=", "+", "-", "@", "\t", "\r")
#: Text gathered before it is handed on: few chunks, bounded memory.
_CHUNK: Final = 1 << 16


def parameters(report: Report) -> dict[str, Any]:
    """What the report was asked, as its JSON output states it before the rows."""
    return {
        "kind": str(report.kind),
        "since": format_time(report.since),
        "until": format_time(report.until),
        "space_id": report.space_id,
        "node_id": report.node_id,
        "user_id": report.user_id,
        "working_hours": report.working_hours,
        "report_event_id": report.event_id,
    }


def row_object(row: ReportRow) -> dict[str, Any]:
    return dataclasses.asdict(row)


def json_chunks(report: Report) -> Iterator[str]:
    """The report as one JSON object, in pieces, the rows read as they are written."""
    head = json.dumps(parameters(report), ensure_ascii=False)
    pending = [head[:-1], ', "rows": [']
    size = 0
    separator = ""
    for row in report.rows:
        text = separator + json.dumps(row_object(row), ensure_ascii=False)
        pending.append(text)
        size += len(text)
        separator = ", "
        if size >= _CHUNK:
            yield "".join(pending)
            pending, size = [], 0
    pending.append("]}\n")
    yield "".join(pending)


def csv_chunks(rows: Iterable[ReportRow], *, bom: bool = True) -> Iterator[str]:
    """The rows as CSV text (RFC 4180), header first, in pieces."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if bom:
        buffer.write(BOM)
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([cell(value) for value in dataclasses.astuple(row)])
        if buffer.tell() >= _CHUNK:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def cell(value: object) -> str:
    """One CSV cell: empty for None, canonical JSON for `details`, formulas disarmed."""
    if value is None:
        return ""
    if isinstance(value, dict):
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    else:
        text = str(value)
    return "'" + text if text.startswith(_FORMULA) else text

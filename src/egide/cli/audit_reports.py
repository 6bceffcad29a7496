"""`egide audit report KIND`, registered on `egide audit`.

The report lives in `egide.services.audit.reports`, its CSV and JSON in
`report_formats`; this module reads the options and writes. It acts as the
local system principal, like the other audit commands: the command line has
file-system access to the data directory anyway. Rows are written as they
are read, in every format, so a long period never sits in memory.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import typer

from egide.cli.audit import app
from egide.cli.common import console, handled_errors, out, services
from egide.core.errors import Conflict
from egide.services.access.policy import Principal
from egide.services.audit.export import parse_time
from egide.services.audit.report_formats import csv_chunks, json_chunks
from egide.services.audit.report_query import ReportKind, ReportQuery
from egide.services.audit.reports import AccessReports, Report, ReportRow


class OutputFormat(enum.StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


class ReportFileExists(Conflict):
    code = "audit-report-file-exists"


#: The table's columns: (title, width); the path takes what is left of the line.
_TABLE = (
    ("time", 27),
    ("action", 16),
    ("outcome", 8),
    ("person", 20),
    ("role", 12),
    ("purpose", 15),
    ("address", 16),
)


@app.command("report")
def report(
    ctx: typer.Context,
    kind: ReportKind = typer.Argument(
        ..., help="access, activity, denied or out-of-hours", case_sensitive=False
    ),
    since: str = typer.Option(
        ..., "--since", help="From this time on: RFC 3339 with offset, or a date (UTC midnight)."
    ),
    until: str = typer.Option(
        ..., "--until", help="Before this time (excluded): RFC 3339, or a date. At most 366 days."
    ),
    space: str | None = typer.Option(None, "--space", help="A space (slug)."),
    path: str | None = typer.Option(None, "--path", help="A file or folder in --space."),
    node: str | None = typer.Option(
        None, "--node", help="A file or folder by its id (also one in the trash)."
    ),
    user: str | None = typer.Option(None, "--user", help="A person: username or user id."),
    output_format: OutputFormat = typer.Option(
        OutputFormat.TABLE,
        "--format",
        help="table (for reading), csv (RFC 4180, UTF-8 with BOM) or json.",
        case_sensitive=False,
    ),
    out_file: Path | None = typer.Option(
        None, "--out", dir_okay=False, help="Write to this new file instead of standard output."
    ),
) -> None:
    """Who accessed a space, folder or file; what one person did; refusals; out-of-hours access."""
    with handled_errors():
        query = ReportQuery(
            since=parse_time(since, option="--since"),
            until=parse_time(until, option="--until"),
            space=space,
            path=path,
            node=node,
            user=user,
        )
        result = AccessReports.for_services(services(ctx)).run(Principal.system(), kind, query)
        with _destination(out_file) as stream:
            for chunk in _chunks(result, output_format):
                stream.write(chunk)
    if out_file is not None:
        console.print(f"Report written to {out_file}.", markup=False)


@contextlib.contextmanager
def _destination(path: Path | None) -> Iterator[IO[str]]:
    """Standard output, or a new file: never over an existing one (an earlier report
    stays), and removed again if the report fails half-way (no partial report left)."""
    if path is None:
        yield out.file
        return
    try:
        stream = path.open("x", encoding="utf-8", newline="")
    except FileExistsError:
        raise ReportFileExists(
            "{path} already exists. Give a new file name: a report never overwrites another.",
            path=str(path),
        ) from None
    try:
        with stream:
            yield stream
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _chunks(result: Report, output_format: OutputFormat) -> Iterator[str]:
    if output_format is OutputFormat.JSON:
        return json_chunks(result)
    if output_format is OutputFormat.CSV:
        return csv_chunks(result.rows)
    return _table(result)


def _table(result: Report) -> Iterator[str]:
    """Fixed-width lines, one per row, written as they come; empty context as "-"."""
    yield _line([title for title, _ in _TABLE] + ["path"])
    count = 0
    for row in result.rows:
        count += 1
        yield _line(_cells(row))
    yield f"{count} rows.\n"


def _cells(row: ReportRow) -> list[str]:
    person = row.username or ("(system)" if row.actor_kind == "system" else "-")
    if row.actor_kind == "token":
        person = f"{person} (token)"
    return [
        row.time,
        row.action,
        row.outcome,
        person,
        row.role or "-",
        row.purpose or "-",
        row.client_address or "-",
        row.path or "-",
    ]


def _line(cells: list[str]) -> str:
    widths = [width for _, width in _TABLE]
    padded = [cell[: width - 1].ljust(width) for cell, width in zip(cells, widths, strict=False)]
    return "".join(padded) + cells[-1] + "\n"

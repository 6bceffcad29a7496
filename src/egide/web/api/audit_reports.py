"""Access reports over HTTP: `GET /api/v1/audit/reports/{kind}` (issue 4, item 7).

Thin: `AccessReports` (services/audit/reports.py) authorises (`audit.read`),
checks, records the report and reads its rows; `report_formats` writes them.
The body is streamed as the rows are read, so a long period never sits in
memory. JSON unless `format=csv`, or no `format` and an `Accept` header that
prefers `text/csv` to `application/json`.

The query names a file or folder by `path` or by `node` id; a path is
personal data, and reverse proxies log query strings, so `node` is the
better choice where one can be had.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BaseModel, Field

from egide.services.audit.report_formats import CSV_MEDIA_TYPE, csv_chunks, json_chunks
from egide.services.audit.report_query import ReportKind, ReportQuery
from egide.services.audit.reports import AccessReports, Report
from egide.web.deps import Caller, Svc

router = APIRouter(prefix="/api/v1/audit/reports", tags=["audit"])

#: Slugs, ids and usernames are printable ASCII without spaces.
_ID = r"^[!-~]+$"


class RowOut(BaseModel):
    """One event of a report; context fields are null once the context was erased."""

    time: str = Field(description="RFC 3339, UTC")
    seq: int | None = Field(description="The entry's place in the log; null if not sequenced yet")
    action: str = Field(description="Dotted action name, e.g. `file.read`")
    outcome: Literal["allowed", "denied", "error"]
    username: str | None = Field(description="The person (a token's owner); null for the system")
    display_name: str | None
    user_id: str | None
    actor_kind: str = Field(description='"user", "token", "link" or "system"')
    actor_id: str | None = Field(description="The token's id when actor_kind is token")
    role: str | None = Field(description="The actor's space role at the time (context)")
    purpose: str | None = Field(description="care, administration or emergency (context)")
    client_address: str | None = Field(description="The client's address (context)")
    path: str | None = Field(description="The item's path in its space at the time (context)")
    space_id: str | None
    node_id: str | None
    version_id: str | None
    event_id: str
    details: dict[str, Any] = Field(description="The entry's details (no personal data)")


class WorkingHoursOut(BaseModel):
    hours: str = Field(description="HH:MM-HH:MM, local time")
    days: str = Field(description="e.g. mon,tue,wed,thu,fri")
    timezone: str


class ReportOut(BaseModel):
    kind: ReportKind
    since: str = Field(description="RFC 3339, UTC (included)")
    until: str = Field(description="RFC 3339, UTC (excluded)")
    space_id: str | None
    node_id: str | None
    user_id: str | None
    working_hours: WorkingHoursOut | None = Field(description="For out-of-hours only")
    report_event_id: str = Field(description="The `audit.report` entry recording this report")
    rows: list[RowOut]


_CSV_RESPONSE = {
    "description": "The rows as CSV (RFC 4180, UTF-8 with a byte order mark, header line)",
    "content": {CSV_MEDIA_TYPE: {"schema": {"type": "string"}}},
}


@router.get(
    "/{kind}",
    response_model=ReportOut,
    summary="An access report over [since, until): access to a space, folder or file; one "
    "person's activity; denied attempts; accesses out of working hours",
    responses={200: _CSV_RESPONSE},
)
def report(
    caller: Caller,
    svc: Svc,
    request: Request,
    kind: Annotated[ReportKind, Path(description="Which report")],
    since: Annotated[AwareDatetime, Query(description="From this time on (included)")],
    until: Annotated[
        AwareDatetime, Query(description="Before this time (excluded); at most 366 days on")
    ],
    space: Annotated[str | None, Query(max_length=64, pattern=_ID, description="Slug")] = None,
    path: Annotated[
        str | None, Query(max_length=4096, description="A file or folder in the space")
    ] = None,
    node: Annotated[
        str | None, Query(max_length=64, pattern=_ID, description="A file or folder id")
    ] = None,
    user: Annotated[
        str | None, Query(max_length=64, pattern=_ID, description="A username or user id")
    ] = None,
    format: Annotated[  # noqa: A002 - the documented name of the query parameter (docs/api.md)
        Literal["json", "csv"] | None,
        Query(description="Output; default from Accept, else json"),
    ] = None,
) -> StreamingResponse:
    query = ReportQuery(since, until, space=space, path=path, node=node, user=user)
    result = AccessReports.for_services(svc).run(caller, kind, query)
    headers = {"Cache-Control": "private, no-store"}
    if (format or _preferred(request.headers.get("accept"))) == "csv":
        headers["Content-Disposition"] = f'attachment; filename="{_file_name(result)}"'
        return StreamingResponse(
            (chunk.encode() for chunk in csv_chunks(result.rows)),
            media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8; header=present",
            headers=headers,
        )
    return StreamingResponse(
        (chunk.encode() for chunk in json_chunks(result)),
        media_type="application/json",
        headers=headers,
    )


def _preferred(accept: str | None) -> str:
    """ "csv" when `accept` prefers text/csv to application/json (RFC 9110 12.5.1): by
    weight, then by how specific the media range is (`*/*` < `application/*` < a type)."""
    best = {"csv": (0.0, 0), "json": (0.0, 0)}
    for part in (accept or "").split(","):
        media, *params = (item.strip().lower() for item in part.split(";"))
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        choice = _RANGES.get(media)
        if choice is not None and weight > 0:
            best[choice[0]] = max(best[choice[0]], (weight, choice[1]))
    return "csv" if best["csv"] > best["json"] else "json"


#: Media ranges that accept each output, with how specific they are.
_RANGES = {
    CSV_MEDIA_TYPE: ("csv", 2),
    "text/*": ("csv", 1),
    "application/json": ("json", 2),
    "application/*": ("json", 1),
    "*/*": ("json", 0),
}


def _file_name(result: Report) -> str:
    """The kind and the period only: never a name or a path (they are personal data)."""
    since, until = (moment.astimezone(dt.UTC) for moment in (result.since, result.until))
    return f"egide-{result.kind}-{since:%Y%m%d}-{until:%Y%m%d}.csv"

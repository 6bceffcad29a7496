"""The base of every JSON request body: no unknown field, and strict numbers.

Unknown fields are refused, so a misspelt option (`quota` for
`quota_bytes`) is an error, not silently ignored; numbers are `Count`, so
`"5"` or `true` is not taken for a number, and the OpenAPI document says
what the server accepts. (Models are not strict as a whole: FastAPI
validates the decoded JSON in Python mode, where a strict enum would refuse
its own values given as strings.)
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Strict

#: A role on a space or a folder (services.access.SpaceRole values).
RoleName = Literal["reader", "contributor", "manager"]


#: A whole number given as a JSON number, never as a string or a boolean.
Count = Annotated[int, Strict()]
#: A JSON true or false, not 0, 1 or "yes" (schemathesis checks such input is refused).
Flag = Annotated[bool, Strict()]


def _instant_text(value: object) -> object:
    if isinstance(value, (int, float)):
        # Lax parsing would read a number as seconds since 1970: a typo, never a date.
        raise ValueError("give the instant as an ISO 8601 text, with its time zone")  # noqa: TRY004 - pydantic turns only ValueError into a 422
    return value


#: An instant given as ISO 8601 text (the schema's date-time), never as a number.
Instant = Annotated[dt.datetime, BeforeValidator(_instant_text)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

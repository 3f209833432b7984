"""Explicit parameter kinds for handlers (Litestar 3 stops inferring them).

def page(db_session: DbSession, staff: Staff, document_id: FromPath[uuid.UUID]) -> ...
"""

from __future__ import annotations

from typing import Annotated, Any, TypeAlias

from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from sqlalchemy.orm import Session

from shared.models.sessions import WebSession
from shared.services.access import StaffContext

DbSession: TypeAlias = NamedDependency[Session]
"""The request's database session (committed on 2xx/3xx, rolled back otherwise)."""
Staff: TypeAlias = NamedDependency[StaffContext]
OptionalStaff: TypeAlias = NamedDependency[StaffContext | None]
Citizen: TypeAlias = NamedDependency[WebSession]
CurrentWebSession: TypeAlias = NamedDependency[WebSession]
FormData: TypeAlias = dict[str, str | list[str]]
Form: TypeAlias = Annotated[FormData, Body(media_type=RequestEncodingType.URL_ENCODED)]
MultipartForm: TypeAlias = Annotated[
    dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)
]
"""A form with file uploads: values are str, litestar.datastructures.UploadFile, or lists."""


def form_values(data: FormData, key: str) -> list[str]:
    """Every value a form sent for `key` (checkboxes and repeated fields send several)."""
    value = data.get(key, [])
    return [value] if isinstance(value, str) else list(value)


def form_value(data: FormData, key: str) -> str:
    """The first value a form sent for `key`, stripped; "" when it sent none."""
    return next(iter(form_values(data, key)), "").strip()


__all__ = [
    "Citizen",
    "CurrentWebSession",
    "DbSession",
    "Form",
    "FormData",
    "FromPath",
    "FromQuery",
    "MultipartForm",
    "OptionalStaff",
    "Staff",
    "form_value",
    "form_values",
]

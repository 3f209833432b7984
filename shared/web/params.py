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
Form: TypeAlias = Annotated[
    dict[str, str | list[str]], Body(media_type=RequestEncodingType.URL_ENCODED)
]
MultipartForm: TypeAlias = Annotated[
    dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)
]
"""A form with file uploads: values are str, litestar.datastructures.UploadFile, or lists."""

__all__ = [
    "Citizen",
    "CurrentWebSession",
    "DbSession",
    "Form",
    "FromPath",
    "FromQuery",
    "MultipartForm",
    "OptionalStaff",
    "Staff",
]

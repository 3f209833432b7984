"""The API for minutes software: `POST /api/v1/decisions`, described in /schema/openapi.json.

Authentication: `Authorization: Bearer <key>` with a key a beheerder created for the
organisation (Beheer → API-sleutels); no cookies, no CSRF token, no staff session. The key is
checked in a guard, before the request body is read. Errors are RFC 9457 problem JSON with a
Dutch `detail` (and `errors` per field).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import msgspec
from litestar import Request, Response, post
from litestar.connection import ASGIConnection
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import (
    Components,
    Encoding,
    OpenAPIMediaType,
    Operation,
    RequestBody,
    Schema,
    SecurityScheme,
)
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from shared.config import get_settings
from shared.db import session_scope
from shared.services import api_keys, submissions
from shared.services.api_keys import ApiClient
from shared.services.submissions import DecisionIn, DecisionOut, PdfFile, Problem
from shared.web.params import DbSession, MultipartForm

_CLIENT_KEY = "zegel_api_client"
PROBLEM_JSON = "application/problem+json"


def _authenticate(authorization: str | None) -> ApiClient:
    with session_scope() as session:
        return api_keys.authenticate(session, authorization)


async def api_key_guard(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """A valid, not revoked API key (401 problem JSON otherwise), before the body is read."""
    authorization = connection.headers.get("authorization")
    connection.state[_CLIENT_KEY] = await anyio.to_thread.run_sync(_authenticate, authorization)


async def api_client(request: Request[Any, Any, Any]) -> ApiClient:
    client: ApiClient = request.state[_CLIENT_KEY]
    return client


# -- OpenAPI: the multipart body, whose JSON part Litestar cannot describe by itself ------------


def _inline(node: Any, definitions: dict[str, Any]) -> Any:
    """A JSON Schema with every `$ref` to its `$defs` replaced by the definition itself (the
    schema sits inside the OpenAPI document, where those references would not resolve)."""
    if isinstance(node, dict):
        reference = node.get("$ref")
        if isinstance(reference, str) and reference.startswith("#/$defs/"):
            return _inline(definitions[reference.removeprefix("#/$defs/")], definitions)
        return {key: _inline(value, definitions) for key, value in node.items() if key != "$defs"}
    if isinstance(node, list):
        return [_inline(value, definitions) for value in node]
    return node


def decision_schema() -> dict[str, Any]:
    """The JSON Schema of the `decision` part (DecisionIn), self-contained."""
    schema = msgspec.json.schema(DecisionIn)
    inlined: dict[str, Any] = _inline(schema, schema.get("$defs", {}))
    return inlined


@dataclass
class _DecisionUpload(Operation):
    """The operation of `POST /api/v1/decisions` with its real request body."""

    def __post_init__(self) -> None:
        decision: Any = decision_schema()
        pdf_schema = Schema(
            type="string",  # type: ignore[arg-type]
            format="binary",  # type: ignore[arg-type]
            description="Een PDF-bestand; de naam van het deel staat in documents[].file.",
        )
        self.request_body = RequestBody(
            required=True,
            description=(
                "multipart/form-data: het deel `decision` (JSON, zie DecisionIn) en één deel"
                " per PDF, genoemd zoals `documents[].file`."
            ),
            content={
                "multipart/form-data": OpenAPIMediaType(
                    schema=Schema(
                        type="object",  # type: ignore[arg-type]
                        required=["decision"],
                        properties={"decision": decision},
                        additional_properties=pdf_schema,
                    ),
                    encoding={
                        "decision": Encoding(content_type="application/json"),
                    },
                )
            },
        )


def openapi_config() -> OpenAPIConfig:
    """The schema at /schema/openapi.json: the API alone, with its bearer key."""
    return OpenAPIConfig(
        title="Zegel API",
        version="1.0.0",
        description=(
            "Registratie van beslissingen met hun uitgaande brieven door notulensoftware."
            " Authenticatie met een API-sleutel van het bestuur: `Authorization: Bearer <sleutel>`."
        ),
        path="/schema",
        render_plugins=[JsonRenderPlugin()],
        components=Components(
            security_schemes={
                "apiKey": SecurityScheme(
                    type="http",
                    scheme="bearer",
                    description="API-sleutel van het bestuur (Beheer → API-sleutels).",
                )
            },
        ),
        security=[{"apiKey": []}],
    )


def _problem(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=Problem, description=description, media_type=PROBLEM_JSON)


def _parts(data: dict[str, Any]) -> tuple[bytes | None, dict[str, PdfFile]]:
    metadata: bytes | None = None
    files: dict[str, PdfFile] = {}
    for name, value in data.items():
        first = value[0] if isinstance(value, list) and value else value
        if name == "decision":
            if isinstance(first, UploadFile):
                first.file.seek(0)
                metadata = first.file.read()
            elif isinstance(first, str):
                metadata = first.encode()
        elif isinstance(first, UploadFile):
            first.file.seek(0)
            files[name] = PdfFile(first.filename or name, first.file.read())
    return metadata, files


@post(
    "/v1/decisions",
    name="api_decisions",
    guards=[api_key_guard],
    dependencies={"client": Provide(api_client)},
    sync_to_thread=True,
    request_max_body_size=get_settings().upload_max_bytes,
    operation_class=_DecisionUpload,
    summary="Een beslissing met haar uitgaande brieven registreren",
    description=(
        "Maakt de beslissing en per brief een document in ontwerp (één PDF per bestemmeling)."
        " Idempotent volgens `external_id`: hetzelfde verzoek opnieuw geeft 200 met het eerste"
        " antwoord en maakt niets bij; hetzelfde id met andere gegevens geeft 409. Een PDF met"
        " fouten op een pagina wordt een ontwerp met `findings`; een onbruikbare PDF weigert het"
        " hele verzoek (422)."
    ),
    tags=["beslissingen"],
    status_code=HTTP_201_CREATED,
    responses={
        HTTP_200_OK: ResponseSpec(
            data_container=DecisionOut,
            description=(
                "Al geregistreerd met dit external_id en dezelfde gegevens: het eerste antwoord."
            ),
        ),
        400: _problem("Het verzoek is geen geldig multipart/form-data."),
        401: _problem("Geen of een ongeldige of ingetrokken API-sleutel."),
        409: _problem("Dit external_id bestaat met andere gegevens, of de beslissing bestaat al."),
        413: _problem("Het verzoek is te groot."),
        422: _problem("De gegevens kloppen niet; `errors` zegt per veld wat."),
    },
)
def create_decision(
    db_session: DbSession, client: NamedDependency[ApiClient], data: MultipartForm
) -> Response[DecisionOut]:
    metadata, files = _parts(data)
    result = submissions.submit_decision(db_session, client, metadata, files)
    assert result.decision is not None
    return Response(
        submissions.decision_out(result.decision, result.documents),
        status_code=HTTP_200_OK if result.replayed else HTTP_201_CREATED,
    )

"""The citizen's documents: the list and one document (the portal issue fills these out)."""

from __future__ import annotations

from litestar import get
from litestar.di import Provide
from litestar.response import Template

from shared.services import access
from shared.web import NO_STORE
from shared.web.params import Citizen, DbSession, FromPath
from shared.web.sessions import citizen_guard, citizen_session

CITIZEN = {"citizen": Provide(citizen_session)}


@get(
    "/mijn-documenten",
    name="my_documents",
    guards=[citizen_guard("view")],
    dependencies=CITIZEN,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def my_documents(db_session: DbSession, citizen: Citizen) -> Template:
    assert citizen.citizen_ssin_digest is not None
    documents = access.documents_for_citizen(db_session, citizen.citizen_ssin_digest)
    return Template(
        template_name="my_documents.html",
        context={"documents": documents, "citizen_name": citizen.display_name},
    )


@get(
    "/d/{token:str}",
    name="document",
    guards=[citizen_guard("view")],
    dependencies=CITIZEN,
    sync_to_thread=True,
    cache_control=NO_STORE,
)
def document(db_session: DbSession, citizen: Citizen, token: FromPath[str]) -> Template:
    assert citizen.citizen_ssin_digest is not None
    found = access.document_for_citizen(db_session, citizen.citizen_ssin_digest, token)
    return Template(
        template_name="document.html",
        context={"document": found, "citizen_name": citizen.display_name},
    )

"""Find active content in a PDF a citizen uploads: scripts, actions that launch or submit,
embedded files, XFA forms, rich media. Zegel stores none of it.

Every object reachable from the trailer is visited once (names are compared decoded, so
`/J#61vaScript` is `/JavaScript`), including objects inside object streams. Encrypted PDFs are
refused too: they cannot be checked.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from pypdf import PdfReader
from pypdf.errors import PdfReadError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject, PdfObject

ACTIVE_KEYS = frozenset({"/JS", "/JavaScript", "/EmbeddedFiles", "/EmbeddedFile", "/XFA"})
"""Dictionary keys that mean scripts, attached files or an XFA form."""
ACTIVE_ACTIONS = frozenset(
    {
        "/JavaScript",
        "/Launch",
        "/SubmitForm",
        "/ImportData",
        "/RichMediaExecute",
        "/Rendition",
        "/Sound",
        "/Movie",
    }
)
"""Action types (`/S`) that run something, send something or play something."""
ACTIVE_TYPES = frozenset({"/EmbeddedFile", "/RichMedia", "/3D"})
ACTIVE_SUBTYPES = frozenset({"/RichMedia", "/3D", "/Movie", "/Sound", "/Screen", "/FileAttachment"})
MAX_OBJECTS = 200_000


@dataclass(frozen=True)
class PdfVerdict:
    readable: bool
    pages: int = 0
    active: str | None = None
    """What active content was found (e.g. '/JavaScript'), or None."""
    encrypted: bool = False


def inspect_pdf(content: bytes) -> PdfVerdict:
    """Parse `content` as a PDF and look for active content."""
    try:
        reader = PdfReader(io.BytesIO(content), strict=False)
        if reader.is_encrypted:
            return PdfVerdict(readable=True, encrypted=True)
        pages = len(reader.pages)
        if pages == 0:
            return PdfVerdict(readable=False)
        active = _find_active(reader)
    except (PdfReadError, RecursionError):
        return PdfVerdict(readable=False)
    except Exception:
        return PdfVerdict(readable=False)
    return PdfVerdict(readable=True, pages=pages, active=active)


def _find_active(reader: PdfReader) -> str | None:
    seen: set[tuple[int, int]] = set()
    stack: list[PdfObject] = [reader.trailer]
    visited = 0
    while stack:
        obj = stack.pop()
        if isinstance(obj, IndirectObject):
            ref = (obj.idnum, obj.generation)
            if ref in seen:
                continue
            seen.add(ref)
            resolved = obj.get_object()
            if resolved is None:
                continue
            obj = resolved
        visited += 1
        if visited > MAX_OBJECTS:
            return "te veel objecten"
        if isinstance(obj, DictionaryObject):
            for key, value in obj.items():
                name = str(key)
                if name in ACTIVE_KEYS:
                    return name
                if name == "/S" and isinstance(value, NameObject) and str(value) in ACTIVE_ACTIONS:
                    return str(value)
                if name == "/Type" and isinstance(value, NameObject) and str(value) in ACTIVE_TYPES:
                    return str(value)
                if (
                    name == "/Subtype"
                    and isinstance(value, NameObject)
                    and str(value) in ACTIVE_SUBTYPES
                ):
                    return str(value)
                if name == "/Parent":
                    continue  # the page tree is reached from the root anyway
                stack.append(value)
        elif isinstance(obj, ArrayObject):
            stack.extend(obj)
    return None

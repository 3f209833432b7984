"""Files a citizen or an employee attaches to a dispute: PDF, JPEG or PNG, and nothing active.

`check_uploads()` decides what a file is from its content, never from its name or the browser's
content type: the first bytes must be a PDF, JPEG or PNG signature, and then the file must
parse as that type. Images are decoded and encoded again with Pillow, which drops their
metadata (EXIF with GPS position, comments) and anything hidden after the image data; the
orientation is applied first so the picture stays upright. PDFs are parsed with pypdf and
refused when they are encrypted or hold scripts, launch or submit actions, embedded files,
XFA forms or rich media (`shared.pdf.active`). Size and count limits come from the settings
(`ZEGEL_DISPUTE_ATTACHMENT_MAX_BYTES`, `ZEGEL_DISPUTE_ATTACHMENT_MAX_COUNT`).

What passes is stored by its SHA-256 in `shared.storage` (`store()`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from shared.config import get_settings
from shared.errors import DomainError, FieldErrors
from shared.errors import IntegrityError as StorageIntegrityError
from shared.i18n import gettext as _
from shared.pdf.active import inspect_pdf
from shared.storage import get_storage

PDF, JPEG, PNG = "application/pdf", "image/jpeg", "image/png"
MAX_PIXELS = 40_000_000
"""An image larger than this (e.g. 8000 × 5000) is refused: a decompression bomb guard."""
FIELD = "bijlagen"


@dataclass(frozen=True)
class Upload:
    """A file as it arrived."""

    file_name: str
    content: bytes


@dataclass(frozen=True)
class CheckedFile:
    """A file that passed: its content as Zegel stores it (images re-encoded)."""

    file_name: str
    content_type: str
    content: bytes


def sniff(content: bytes) -> str | None:
    """The type the first bytes announce: PDF, JPEG, PNG, or None."""
    if content.startswith(b"%PDF-"):
        return PDF
    if content.startswith(b"\xff\xd8\xff"):
        return JPEG
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    return None


_EXTENSIONS = {PDF: ".pdf", JPEG: ".jpg", PNG: ".png"}


def safe_name(name: str, content_type: str) -> str:
    """A file name to show and to offer for download: the base name, harmless characters,
    the extension of what the file really is."""
    base = re.split(r"[\\/]", name)[-1]
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = "".join(c for c in stem if c.isalnum() or c in " ._-()").strip(" .")[:100]
    return (stem or "bijlage") + _EXTENSIONS[content_type]


def size_label(size: int) -> str:
    """A size limit as people read it: 10 MB, 512 kB."""
    return f"{size / (1024 * 1024):.0f} MB" if size >= 1024 * 1024 else f"{size // 1024} kB"


def _reencode(content: bytes, content_type: str) -> bytes | None:
    """The image decoded and encoded again without metadata; None when it does not decode."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as probe:
                expected = "JPEG" if content_type == JPEG else "PNG"
                if probe.format != expected or probe.width * probe.height > MAX_PIXELS:
                    return None
                probe.verify()
            with Image.open(io.BytesIO(content)) as image:
                image.load()
                upright = ImageOps.exif_transpose(image)
        out = io.BytesIO()
        if content_type == JPEG:
            if upright.mode not in ("RGB", "L"):
                upright = upright.convert("RGB")
            upright.save(out, format="JPEG", quality=90, optimize=True)
        else:
            if upright.mode not in ("RGB", "RGBA", "L", "LA", "P", "1"):
                upright = upright.convert("RGBA")
            upright.save(out, format="PNG", optimize=True)
        return out.getvalue()
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        return None


def check_upload(upload: Upload, *, max_bytes: int) -> CheckedFile:
    """Check one file; raise FieldErrors (field `bijlagen`) with a Dutch reason."""
    name = upload.file_name or _("bijlage")
    if not upload.content:
        raise FieldErrors({FIELD: _("Het bestand %(name)s is leeg.") % {"name": name}})
    if len(upload.content) > max_bytes:
        raise FieldErrors(
            {
                FIELD: _("Het bestand %(name)s is groter dan %(limit)s.")
                % {"name": name, "limit": size_label(max_bytes)}
            }
        )
    content_type = sniff(upload.content)
    if content_type is None:
        raise FieldErrors(
            {
                FIELD: _(
                    "Het bestand %(name)s is geen PDF, JPEG of PNG. Alleen die soorten bestanden"
                    " kunt u toevoegen."
                )
                % {"name": name}
            }
        )
    if content_type == PDF:
        verdict = inspect_pdf(upload.content)
        if not verdict.readable:
            raise FieldErrors(
                {FIELD: _("Het bestand %(name)s is geen leesbare PDF.") % {"name": name}}
            )
        if verdict.encrypted:
            raise FieldErrors(
                {
                    FIELD: _(
                        "Het bestand %(name)s is beveiligd met een wachtwoord. Voeg het toe"
                        " zonder beveiliging."
                    )
                    % {"name": name}
                }
            )
        if verdict.active is not None:
            raise FieldErrors(
                {
                    FIELD: _(
                        "Het bestand %(name)s bevat actieve inhoud (scripts, ingesloten bestanden"
                        " of formulieren) en wordt om veiligheidsredenen niet aanvaard. Druk het"
                        " af naar een nieuwe PDF of voeg een scan toe."
                    )
                    % {"name": name}
                }
            )
        content = upload.content
    else:
        reencoded = _reencode(upload.content, content_type)
        if reencoded is None:
            raise FieldErrors(
                {FIELD: _("Het bestand %(name)s is geen geldige afbeelding.") % {"name": name}}
            )
        content = reencoded
    return CheckedFile(safe_name(name, content_type), content_type, content)


def check_uploads(uploads: Sequence[Upload], *, already: int = 0) -> list[CheckedFile]:
    """Check every file (empty file fields are skipped) against the count and size limits;
    `already`: files checked before that count towards the limit."""
    settings = get_settings()
    present = [u for u in uploads if u.content or u.file_name]
    if already + len(present) > settings.dispute_attachment_max_count:
        raise FieldErrors(
            {
                FIELD: _("U kunt ten hoogste %(count)d bestanden toevoegen.")
                % {"count": settings.dispute_attachment_max_count}
            }
        )
    return [check_upload(u, max_bytes=settings.dispute_attachment_max_bytes) for u in present]


def store(checked: CheckedFile) -> str:
    """Store the checked content; return its SHA-256."""
    return get_storage().put(checked.content)


# -- files kept across a form's steps ------------------------------------------------------------


def _mac(binding: str, body: str) -> str:
    key = hashlib.sha256(
        b"zegel-dispute-attachment:" + get_settings().secret_key.get_secret_value().encode()
    ).digest()
    return hmac.new(key, f"{binding}:{body}".encode(), hashlib.sha256).hexdigest()[:32]


def remember(checked: CheckedFile, binding: str) -> str:
    """Store a checked file while its form goes through its steps; return a token for a hidden
    field. The token is signed and bound to `binding` (the document and the form's submission
    key), so it names no other stored file and serves no other form."""
    sha256 = store(checked)
    body = base64.urlsafe_b64encode(
        json.dumps({"s": sha256, "t": checked.content_type, "n": checked.file_name}).encode()
    ).decode()
    return f"{body}.{_mac(binding, body)}"


def recall(token: str, binding: str) -> CheckedFile | None:
    """The file a `remember` token names; None when the token is not valid for `binding`."""
    body, _dot, mac = token.strip().rpartition(".")
    if not body or not hmac.compare_digest(mac, _mac(binding, body)):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(body.encode()))
        content_type = str(data["t"])
        if content_type not in _EXTENSIONS:
            return None
        return CheckedFile(str(data["n"]), content_type, get_storage().get(str(data["s"])))
    except (ValueError, KeyError, TypeError, DomainError, StorageIntegrityError):
        return None

"""Bulk intake from a ZIP file: a manifest (CSV or JSON) and the PDFs it names.

Upload (`start_import`, in the request): the ZIP is checked before anything is stored —
entry count and unpacked size within limits (`ZEGEL_IMPORT_MAX_FILES`, `ZEGEL_UPLOAD_MAX_BYTES`;
sizes are enforced while unpacking, not taken from the ZIP's own headers, so a zip bomb stops at
the limit), no path that climbs out of the archive or is absolute, no links, no encrypted
entries, a readable manifest, and every PDF the manifest names present. Anything wrong refuses
the whole file with every reason, and nothing is stored. Otherwise the PDFs go to storage, one
`ImportItem` per decision (with its letters) or letter is written — a national register number
only sealed — and a durable job is queued.

The job (`intake.import`) registers the items one by one, each in its own transaction together
with its outcome, so a crashed worker resumes where it stopped and registers nothing twice. A
row with a problem (a wrong national register number, a PDF that fails its checks) fails on its
own with a Dutch message; the other rows go on. A decision whose external id was registered
before with the same content counts as registered already (skipped).

CSV manifest: one row per letter, a header with the column names below, `,` or `;` between
fields (UTF-8, or Windows-1252 as Excel saves it). Rows with the same decision (external_id,
or body + session_date + decision_number) become one decision with several letters; a row
without decision_number is a letter on its own. JSON manifest: `{"decisions": [...],
"letters": [...]}` in the shape of the API (`shared.services.submissions`).
"""

from __future__ import annotations

import copy
import csv
import io
import logging
import posixpath
import stat
import uuid
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared import jobs
from shared.config import get_settings
from shared.db import session_scope, utcnow
from shared.errors import DomainError, FieldErrors, NotFound
from shared.i18n import gettext, ngettext
from shared.models.intake import (
    ImportBatch,
    ImportItem,
    ImportItemStatus,
    ImportStatus,
)
from shared.models.jobs import Job, JobStatus
from shared.models.people import StaffRole, StaffUser
from shared.protection import seal, unseal
from shared.services import audit, transitions
from shared.services.access import StaffContext
from shared.services.attachments import size_label
from shared.services.registration import (
    Problems,
    Registered,
    read_decision,
    read_letter,
    register_decision,
    register_letter,
)
from shared.services.submissions import (
    LetterIn,
    Manifest,
    ManifestDecision,
    PdfFile,
    convert,
    field_error,
    letter_input,
    to_inputs,
)
from shared.storage import get_storage

_ = gettext
log = logging.getLogger("zegel.imports")

JOB_KIND = "intake.import"
MANIFEST_MAX_BYTES = 10 * 1024 * 1024
MAX_LISTED = 20
"""At most this many reasons are listed when a ZIP is refused."""

DECISION_COLUMNS = (
    "external_id",
    "body",
    "session_date",
    "decision_number",
    "title",
    "short_title",
    "description",
    "motivation",
    "legal_basis",
)
LETTER_COLUMNS = (
    "file",
    "document_title",
    "document_type",
    "recipient_kind",
    "national_register_number",
    "enterprise_number",
    "name",
    "street",
    "postal_code",
    "city",
    "country",
    "amount_due",
    "due_date",
    "dispute_right",
    "dispute_legal_text",
)
REQUIRED_COLUMNS = ("file", "recipient_kind", "name")
SEALED = "national_register_number_sealed"

EXAMPLE_CSV = (
    ";".join(DECISION_COLUMNS + LETTER_COLUMNS)
    + "\n"
    + ";".join(
        [
            "gn-2026-0123",
            "college",
            "2026-11-20",
            "2026_CBS_00123",
            "Omgevingsvergunning carport Kerkstraat 12",
            "",
            "",
            "",
            "",
            "brieven/aanvrager.pdf",
            "",
            "college_decision",
            "citizen",
            "85.07.30-033.28",
            "",
            "An Janssens",
            "Kerkstraat 12",
            "9999",
            "Zegelbeek",
            "BE",
            "",
            "",
            "none",
            "",
        ]
    )
    + "\n"
    + ";".join(
        [""] * len(DECISION_COLUMNS)
        + [
            "brieven/herinnering.pdf",
            "Herinnering retributie grofvuil",
            "reminder",
            "postal",
            "",
            "",
            "Luc Maes",
            "Beekstraat 88",
            "9999",
            "Zegelbeek",
            "BE",
            "35,00",
            "2027-01-31",
            "none",
            "",
        ]
    )
    + "\n"
)
"""A manifest with a decision and a letter of its own, offered on the import page."""


class ImportRefused(FieldErrors):
    """The ZIP file cannot be imported; `reasons` lists every reason, in Dutch."""

    code = "import_refused"

    def __init__(self, reasons: list[str]) -> None:
        shown = reasons[:MAX_LISTED]
        if len(reasons) > MAX_LISTED:
            shown.append(_("… en nog %(num)d andere.") % {"num": len(reasons) - MAX_LISTED})
        self.reasons = shown
        super().__init__({"bestand": "\n".join(shown)})


# -- reading the ZIP (pure) --------------------------------------------------------------------


@dataclass
class ManifestItem:
    kind: str
    """'decision' or 'letter'."""
    label: str
    source: dict[str, Any]
    """{"format": "csv", "rows": [...], "lines": [...]} or {"format": "json", "data": {...}}."""
    files: list[str] = field(default_factory=list)
    """The PDFs it names, as written in the manifest."""


@dataclass
class ZipContents:
    manifest_name: str
    items: list[ManifestItem]
    pdfs: dict[str, tuple[str, bytes]]
    """By the name the manifest uses: (file name, content)."""


def _unsafe_name(name: str) -> bool:
    if not name or "\x00" in name or "\\" in name or name.startswith("/"):
        return True
    if len(name) > 1 and name[1] == ":":  # a drive letter (C:)
        return True
    return any(part == ".." for part in name.split("/"))


def _normalise(path: str) -> str | None:
    """A manifest's file reference as a path inside the ZIP; None when it is not one."""
    text = path.strip().replace("\\", "/")
    while text.startswith("./"):
        text = text[2:]
    if _unsafe_name(text):
        return None
    return posixpath.normpath(text)


class _Reader:
    """Reads entries with a hard limit on what is unpacked, whatever the headers claim."""

    def __init__(self, archive: zipfile.ZipFile, budget: int) -> None:
        self.archive = archive
        self.budget = budget

    def read(self, info: zipfile.ZipInfo, limit: int) -> bytes:
        allowed = min(limit, self.budget)
        try:
            with self.archive.open(info) as handle:
                content = handle.read(allowed + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, ValueError):
            raise ImportRefused(
                [
                    _("Het bestand ‘%(name)s’ in het ZIP-bestand is beschadigd.")
                    % {"name": info.filename}
                ]
            ) from None
        except NotImplementedError:
            raise ImportRefused(
                [
                    _("Het bestand ‘%(name)s’ is gecomprimeerd op een manier die Zegel niet kent.")
                    % {"name": info.filename}
                ]
            ) from None
        if len(content) > allowed or len(content) > info.file_size:
            if len(content) > self.budget:
                raise ImportRefused(
                    [
                        _(
                            "Het ZIP-bestand pakt uit tot meer dan %(limit)s: dat is meer dan"
                            " Zegel in één keer aanneemt (of het is een zip-bom)."
                        )
                        % {"limit": size_label(get_settings().upload_max_bytes)}
                    ]
                )
            raise ImportRefused(
                [
                    _("Het bestand ‘%(name)s’ is groter dan de grens van %(limit)s.")
                    % {"name": info.filename, "limit": size_label(limit)}
                ]
            )
        self.budget -= len(content)
        return content


def read_zip(content: bytes) -> ZipContents:
    """Check a ZIP file and read its manifest and the PDFs it names; ImportRefused otherwise."""
    settings = get_settings()
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
        raise ImportRefused([_("Dit is geen geldig ZIP-bestand, of het is beschadigd.")]) from None
    if len(infos) > settings.import_max_files:
        raise ImportRefused(
            [
                _("Het ZIP-bestand bevat %(count)d bestanden; de grens is %(limit)d.")
                % {"count": len(infos), "limit": settings.import_max_files}
            ]
        )
    reasons: list[str] = []
    entries: dict[str, zipfile.ZipInfo] = {}
    declared = 0
    for info in infos:
        name = info.filename
        if _unsafe_name(name):
            reasons.append(
                _("Het ZIP-bestand bevat een ongeldige bestandsnaam: ‘%(name)s’.") % {"name": name}
            )
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            reasons.append(_("Het ZIP-bestand bevat een koppeling: ‘%(name)s’.") % {"name": name})
            continue
        if info.flag_bits & 0x1:
            reasons.append(
                _("Het bestand ‘%(name)s’ in het ZIP-bestand is versleuteld.") % {"name": name}
            )
            continue
        if info.is_dir() or name.startswith("__MACOSX/") or name.endswith(".DS_Store"):
            continue
        normalised = posixpath.normpath(name)
        if normalised in entries:
            reasons.append(_("Het ZIP-bestand bevat ‘%(name)s’ twee keer.") % {"name": name})
        entries[normalised] = info
        declared += info.file_size
    if declared > settings.upload_max_bytes:
        reasons.append(
            _(
                "Het ZIP-bestand pakt uit tot meer dan %(limit)s: dat is meer dan Zegel in één"
                " keer aanneemt (of het is een zip-bom)."
            )
            % {"limit": size_label(settings.upload_max_bytes)}
        )
    if reasons:
        raise ImportRefused(reasons)

    manifest_path, base = _find_manifest(entries)
    reader = _Reader(archive, settings.upload_max_bytes)
    raw = reader.read(entries[manifest_path], MANIFEST_MAX_BYTES)
    if manifest_path.lower().endswith(".csv"):
        items = parse_csv_manifest(raw)
    else:
        items = parse_json_manifest(raw)
    if not items:
        raise ImportRefused([_("Het manifest bevat geen enkele beslissing of brief.")])

    wanted: dict[str, str] = {}
    for item in items:
        for reference in item.files:
            path = _normalise(reference)
            inside = posixpath.normpath(base + path) if path is not None else None
            if inside is None or inside not in entries:
                reasons.append(
                    _("%(where)s: het bestand ‘%(name)s’ staat niet in het ZIP-bestand.")
                    % {"where": _capitalise(item.label), "name": reference}
                )
            else:
                wanted[reference] = inside
    if reasons:
        raise ImportRefused(reasons)
    pdfs: dict[str, tuple[str, bytes]] = {}
    read: dict[str, bytes] = {}
    for reference, inside in wanted.items():
        if inside not in read:
            read[inside] = reader.read(entries[inside], settings.pdf_max_bytes)
        pdfs[reference] = (posixpath.basename(inside), read[inside])
    return ZipContents(manifest_path, items, pdfs)


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _find_manifest(entries: Mapping[str, zipfile.ZipInfo]) -> tuple[str, str]:
    """The manifest's path and the folder the manifest's paths are relative to."""
    names = {"manifest.csv", "manifest.json"}
    at_root = [path for path in entries if path.lower() in names]
    if not at_root:
        # A zipped folder: everything sits in one top folder.
        tops = {path.split("/", 1)[0] for path in entries}
        if len(tops) == 1 and all("/" in path for path in entries):
            top = tops.pop()
            at_root = [path for path in entries if path.lower() in {f"{top}/{n}" for n in names}]
    if not at_root:
        raise ImportRefused(
            [_("Het ZIP-bestand bevat geen manifest.csv of manifest.json (bovenaan in het ZIP).")]
        )
    if len(at_root) > 1:
        raise ImportRefused(
            [_("Het ZIP-bestand bevat zowel manifest.csv als manifest.json: laat er één weg.")]
        )
    path = at_root[0]
    folder = posixpath.dirname(path)
    return path, f"{folder}/" if folder else ""


def _decode_text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def parse_csv_manifest(raw: bytes) -> list[ManifestItem]:
    """The items of a CSV manifest: one row per letter, rows of one decision together."""
    text = _decode_text(raw)
    first_line = text.split("\n", 1)[0]
    delimiter = max((";", ",", "\t"), key=first_line.count)
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
        header = [name.strip() for name in reader.fieldnames or []]
        known = set(DECISION_COLUMNS + LETTER_COLUMNS)
        unknown = [name for name in header if name and name not in known]
        if unknown:
            raise ImportRefused(
                [
                    _("Het manifest heeft onbekende kolommen: %(columns)s.")
                    % {"columns": ", ".join(unknown)}
                ]
            )
        missing = [name for name in REQUIRED_COLUMNS if name not in header]
        if missing:
            raise ImportRefused(
                [_("Het manifest mist de kolommen: %(columns)s.") % {"columns": ", ".join(missing)}]
            )
        reader.fieldnames = header
        rows: list[tuple[int, dict[str, str]]] = []
        for row in reader:
            values = {k: (v or "").strip() for k, v in row.items() if k is not None and k}
            if None in row:
                raise ImportRefused(
                    [
                        _("Regel %(line)d heeft meer velden dan de kopregel.")
                        % {"line": reader.line_num}
                    ]
                )
            if any(values.values()):
                rows.append((reader.line_num, values))
    except csv.Error as error:
        raise ImportRefused(
            [_("Het manifest is geen geldig CSV-bestand: %(error)s") % {"error": str(error)}]
        ) from None

    items: list[ManifestItem] = []
    decisions: dict[tuple[str, ...], ManifestItem] = {}
    for line, values in rows:
        if not values.get("decision_number"):
            items.append(
                ManifestItem(
                    "letter",
                    _("regel %(line)d") % {"line": line},
                    {"format": "csv", "rows": [values], "lines": [line]},
                    [values.get("file", "")],
                )
            )
            continue
        key = (
            ("id", values["external_id"])
            if values.get("external_id")
            else (
                "number",
                values.get("body", ""),
                values.get("session_date", ""),
                values["decision_number"],
            )
        )
        item = decisions.get(key)
        if item is None:
            item = ManifestItem("decision", "", {"format": "csv", "rows": [], "lines": []})
            decisions[key] = item
            items.append(item)
        item.source["rows"].append(values)
        item.source["lines"].append(line)
        item.files.append(values.get("file", ""))
    for item in decisions.values():
        lines = item.source["lines"]
        item.label = (
            _("regel %(line)d") % {"line": lines[0]}
            if len(lines) == 1
            else _("regels %(lines)s") % {"lines": ", ".join(str(n) for n in lines)}
        )
    return items


def _as_object(raw: msgspec.Raw) -> dict[str, Any] | None:
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None
    return value if isinstance(value, dict) else None


def parse_json_manifest(raw: bytes) -> list[ManifestItem]:
    """The items of a JSON manifest; each is validated when the job registers it."""
    try:
        manifest = msgspec.json.decode(raw, type=Manifest)
    except msgspec.ValidationError as error:
        key, problem = next(iter(field_error(error).errors.items()))
        raise ImportRefused(
            [_("Het manifest klopt niet: %(problem)s") % {"problem": f"{key}: {problem}"}]
        ) from None
    except msgspec.DecodeError:
        raise ImportRefused([_("Het manifest is geen geldige JSON (UTF-8).")]) from None
    items: list[ManifestItem] = []
    for kind, entries in (("decision", manifest.decisions), ("letter", manifest.letters)):
        for number, entry in enumerate(entries, start=1):
            data = _as_object(entry)
            label = (
                _("beslissing %(number)d") % {"number": number}
                if kind == "decision"
                else _("brief %(number)d") % {"number": number}
            )
            if data is None:
                raise ImportRefused(
                    [_("%(where)s is geen object.") % {"where": _capitalise(label)}]
                )
            if kind == "decision":
                documents = data.get("documents")
                files = [
                    str(d.get("file"))
                    for d in (documents if isinstance(documents, list) else [])
                    if isinstance(d, dict) and isinstance(d.get("file"), str)
                ]
            else:
                files = [data["file"]] if isinstance(data.get("file"), str) else []
            items.append(ManifestItem(kind, label, {"format": "json", "data": data}, files))
    return items


# -- national register numbers only sealed in the payload --------------------------------------


def _recipients(source: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """The places in an item's source that may hold a national register number."""
    if source["format"] == "csv":
        yield from source["rows"]
        return
    data = source["data"]
    candidates = [data.get("recipient")]
    documents = data.get("documents")
    if isinstance(documents, list):
        candidates += [d.get("recipient") for d in documents if isinstance(d, dict)]
    yield from (c for c in candidates if isinstance(c, dict))


def _seal_numbers(source: dict[str, Any]) -> dict[str, Any]:
    for place in _recipients(source):
        number = place.pop("national_register_number", None)
        if isinstance(number, str) and number.strip():
            place[SEALED] = seal(number.strip())
    return source


def _unseal_numbers(source: dict[str, Any]) -> dict[str, Any]:
    for place in _recipients(source):
        sealed = place.pop(SEALED, None)
        if sealed:
            place["national_register_number"] = unseal(sealed)
    return source


# -- upload ------------------------------------------------------------------------------------


def start_import(
    session: Session, context: StaffContext, *, file_name: str, content: bytes
) -> ImportBatch:
    """Check the ZIP, store its PDFs and items, and queue the job that registers them."""
    context.require(StaffRole.SECRETARIAAT)
    if not content:
        raise ImportRefused([_("Kies een ZIP-bestand.")])
    contents = read_zip(content)  # before the database: CPU and memory only
    storage = get_storage()
    stored = {
        reference: {"name": name, "sha256": storage.put(pdf)}
        for reference, (name, pdf) in contents.pdfs.items()
    }
    batch = ImportBatch(
        id=uuid.uuid4(),
        organisation_id=context.organisation_id,
        created_by_id=context.user_id,
        file_name=file_name[-255:] or "import.zip",
        manifest_name=contents.manifest_name[-255:],
        status=ImportStatus.QUEUED,
    )
    session.add(batch)
    session.flush()
    for position, item in enumerate(contents.items, start=1):
        session.add(
            ImportItem(
                id=uuid.uuid4(),
                batch_id=batch.id,
                position=position,
                label=item.label[:200],
                kind=item.kind,
                payload={
                    "source": _seal_numbers(item.source),
                    "files": {ref: stored[ref] for ref in item.files if ref in stored},
                },
                status=ImportItemStatus.PENDING,
            )
        )
    session.flush()
    audit.record(
        session,
        actor=context.actor,
        organisation_id=context.organisation_id,
        action="import_batch.queued",
        object_type="import_batch",
        object_id=batch.id,
        status_after=batch.status.value,
        data={
            "file_name": batch.file_name,
            "manifest": batch.manifest_name,
            "items": len(contents.items),
            "pdfs": len(stored),
        },
    )
    jobs.enqueue(
        session,
        JOB_KIND,
        {"batch_id": str(batch.id)},
        key=f"import:{batch.id}",
        organisation_id=context.organisation_id,
    )
    return batch


# -- the job -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ImportScope:
    organisation_id: uuid.UUID


_CSV_LETTER_FIELDS = {
    "file": "file",
    "title": "document_title",
    "document_type": "document_type",
    "recipient.kind": "recipient_kind",
    "recipient.national_register_number": "national_register_number",
    "recipient.enterprise_number": "enterprise_number",
    "recipient.name": "name",
    "recipient.street": "street",
    "recipient.postal_code": "postal_code",
    "recipient.city": "city",
    "recipient.country": "country",
    "amount_due": "amount_due",
    "due_date": "due_date",
    "dispute_right": "dispute_right",
    "dispute_legal_text": "dispute_legal_text",
}


def _letter_values(row: Mapping[str, str], prefix: str, *, standalone: bool) -> dict[str, str]:
    values = {prefix + key: row.get(column, "") for key, column in _CSV_LETTER_FIELDS.items()}
    if standalone and not values[prefix + "title"]:
        values[prefix + "title"] = row.get("title", "")
    return values


def _describe_csv(key: str, lines: list[int], standalone: bool) -> str:
    """Where a problem sits in a CSV manifest: 'regel 3, kolom name' (or 'kolom name' when
    the item is one row, whose label names it)."""
    parts = key.split(".")
    line = lines[0]
    if parts[0] == "documents" and len(parts) > 2 and parts[1].isdigit():
        line = lines[min(int(parts[1]), len(lines) - 1)]
        field_key = ".".join(parts[2:])
        if field_key.startswith("decision."):  # a decision's column, repeated on a later row
            column = field_key.removeprefix("decision.")
        else:
            column = _CSV_LETTER_FIELDS.get(field_key, field_key)
    elif standalone:  # a letter of its own: its fields carry no prefix
        column = _CSV_LETTER_FIELDS.get(key, key)
    else:  # a field of the decision itself
        column = key
    if len(lines) == 1:
        return _("kolom %(column)s") % {"column": column}
    return _("regel %(line)d, kolom %(column)s") % {"line": line, "column": column}


def _message(item: ImportItem, error: DomainError) -> str:
    if not isinstance(error, FieldErrors):
        return error.message
    source = item.payload["source"]
    lines = []
    for key, text in error.errors.items():
        if source["format"] == "csv":
            where = _capitalise(_describe_csv(key, source["lines"], item.kind == "letter"))
        else:
            where = key
        lines.append(f"{where}: {text}")
    return "\n".join(lines)


def _register_item(
    session: Session, item: ImportItem, scope: _ImportScope, actor: audit.Actor
) -> Registered:
    storage = get_storage()
    files = {
        reference: PdfFile(info["name"], storage.get(info["sha256"]))
        for reference, info in item.payload["files"].items()
    }
    source = _unseal_numbers(copy.deepcopy(item.payload["source"]))
    if source["format"] == "json":
        if item.kind == "decision":
            decision_data = convert(source["data"], ManifestDecision)
            decision, letters, missing = to_inputs(decision_data, files)
            return register_decision(
                session,
                scope,
                decision,
                letters,
                actor,
                source="import",
                problems=Problems(missing),
            )
        letter_data = convert(source["data"], LetterIn)
        letter = letter_input(letter_data, files.get(letter_data.file))
        return register_letter(session, scope, letter, actor, source="import")

    problems = Problems()
    rows: list[dict[str, str]] = source["rows"]
    if item.kind == "letter":
        values = _letter_values(rows[0], "", standalone=True)
        pdf = files.get(values["file"])
        letter = read_letter(
            values,
            problems,
            file_name=pdf.file_name if pdf else "",
            content=pdf.content if pdf else None,
        )
        return register_letter(session, scope, letter, actor, source="import", problems=problems)
    first = rows[0]
    for index, row in enumerate(rows[1:], start=1):
        for column in DECISION_COLUMNS:
            if row.get(column) and row[column] != first.get(column, ""):
                problems.add(
                    f"documents.{index}.decision.{column}",
                    _("Dit verschilt van de eerste regel van dezelfde beslissing."),
                )
    decision = read_decision(first, problems)
    letters = []
    for index, row in enumerate(rows):
        prefix = f"documents.{index}."
        pdf = files.get(row.get("file", ""))
        letters.append(
            read_letter(
                _letter_values(row, prefix, standalone=False),
                problems,
                prefix=prefix,
                file_name=pdf.file_name if pdf else "",
                content=pdf.content if pdf else None,
            )
        )
    return register_decision(
        session, scope, decision, letters, actor, source="import", problems=problems
    )


def _pending(batch_id: uuid.UUID) -> list[uuid.UUID]:
    with session_scope() as session:
        return list(
            session.scalars(
                select(ImportItem.id)
                .where(
                    ImportItem.batch_id == batch_id, ImportItem.status == ImportItemStatus.PENDING
                )
                .order_by(ImportItem.position)
            ).all()
        )


@jobs.handler(JOB_KIND)
def run_import(payload: dict[str, Any], context: jobs.JobContext) -> None:
    """Register every pending item of a batch, each in its own transaction."""
    batch_id = uuid.UUID(payload["batch_id"])
    with session_scope() as session:
        batch = session.get(ImportBatch, batch_id)
        if batch is None or batch.status in (ImportStatus.DONE, ImportStatus.FAILED):
            return
        creator = session.get(StaffUser, batch.created_by_id) if batch.created_by_id else None
        actor = (
            audit.Actor(
                type="staff",
                id=str(creator.id),
                label=_("%(name)s (import)") % {"name": creator.name},
            )
            if creator
            else audit.Actor.system(_("import"))
        )
        scope = _ImportScope(batch.organisation_id)
        if batch.status is ImportStatus.QUEUED:
            batch.started_at = utcnow()
            transitions.transition(session, batch, ImportStatus.RUNNING, actor=actor)

    for item_id in _pending(batch_id):
        with session_scope() as session:
            item = session.get(ImportItem, item_id, with_for_update=True)
            if item is None or item.status is not ImportItemStatus.PENDING:
                continue
            try:
                with session.begin_nested():
                    result = _register_item(session, item, scope, actor)
            except DomainError as error:
                item.status = ImportItemStatus.FAILED
                item.message = _message(item, error)
                continue
            item.status = (
                ImportItemStatus.SKIPPED if result.replayed else ImportItemStatus.REGISTERED
            )
            item.decision_id = result.decision.id if result.decision else None
            item.document_id = result.documents[0].id if result.decision is None else None

    with session_scope() as session:
        batch = session.get(ImportBatch, batch_id)
        assert batch is not None
        if batch.status is ImportStatus.RUNNING:
            batch.finished_at = utcnow()
            counts = _counts(session, batch_id)
            transitions.transition(
                session,
                batch,
                ImportStatus.DONE,
                actor=actor,
                data={status.value: count for status, count in counts.items()},
            )


# -- progress ----------------------------------------------------------------------------------


def _counts(session: Session, batch_id: uuid.UUID) -> dict[ImportItemStatus, int]:
    counts = {status: 0 for status in ImportItemStatus}
    for status, count in session.execute(
        select(ImportItem.status, func.count())
        .where(ImportItem.batch_id == batch_id)
        .group_by(ImportItem.status)
    ):
        counts[ImportItemStatus(status)] = count
    return counts


@dataclass(frozen=True)
class ImportProgress:
    batch: ImportBatch
    counts: dict[ImportItemStatus, int]
    failed: list[ImportItem]
    registered: list[ImportItem]
    job_error: str | None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def handled(self) -> int:
        return self.total - self.counts[ImportItemStatus.PENDING]

    @property
    def finished(self) -> bool:
        return self.batch.status in (ImportStatus.DONE, ImportStatus.FAILED) or bool(self.job_error)

    @property
    def percent(self) -> int:
        return round(100 * self.handled / self.total) if self.total else 100

    def summary(self) -> str:
        return ngettext(
            "%(num)d van %(total)d verwerkt",
            "%(num)d van %(total)d verwerkt",
            self.handled,
        ) % {"num": self.handled, "total": self.total}


def _batch(session: Session, context: StaffContext, batch_id: uuid.UUID) -> ImportBatch:
    context.require(StaffRole.SECRETARIAAT)
    batch = session.scalars(
        select(ImportBatch).where(
            ImportBatch.id == batch_id, ImportBatch.organisation_id == context.organisation_id
        )
    ).one_or_none()
    if batch is None:
        raise NotFound(_("Deze import bestaat niet of hoort bij een ander bestuur."))
    return batch


def import_progress(
    session: Session, context: StaffContext, batch_id: uuid.UUID, *, list_limit: int = 500
) -> ImportProgress:
    batch = _batch(session, context, batch_id)
    items = select(ImportItem).where(ImportItem.batch_id == batch.id).order_by(ImportItem.position)
    failed = session.scalars(
        items.where(ImportItem.status == ImportItemStatus.FAILED).limit(list_limit)
    ).all()
    registered = session.scalars(
        items.where(
            ImportItem.status.in_((ImportItemStatus.REGISTERED, ImportItemStatus.SKIPPED))
        ).limit(list_limit)
    ).all()
    job = session.scalars(select(Job).where(Job.idempotency_key == f"import:{batch.id}")).first()
    job_error = job.last_error if job is not None and job.status is JobStatus.FAILED else None
    return ImportProgress(
        batch, _counts(session, batch.id), list(failed), list(registered), job_error
    )


def recent_imports(
    session: Session, context: StaffContext, limit: int = 20
) -> list[tuple[ImportBatch, dict[ImportItemStatus, int]]]:
    context.require(StaffRole.SECRETARIAAT)
    batches = session.scalars(
        select(ImportBatch)
        .where(ImportBatch.organisation_id == context.organisation_id)
        .order_by(ImportBatch.created_at.desc())
        .limit(limit)
    ).all()
    return [(batch, _counts(session, batch.id)) for batch in batches]

"""Reading a ZIP import without a database: manifests (CSV and JSON) and the guards against
zip bombs, path traversal, links, corrupt files and missing PDFs."""

from __future__ import annotations

import io
import json
import stat
import zipfile

import pytest

from shared.config import get_settings
from shared.services import imports
from shared.services.imports import ImportRefused, parse_csv_manifest, read_zip

PDF = b"%PDF-1.7 not checked here"
HEADER = "body;session_date;decision_number;title;file;document_title;recipient_kind;name"


def make_zip(files: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out.getvalue()


def reasons(content: bytes) -> list[str]:
    with pytest.raises(ImportRefused) as caught:
        read_zip(content)
    return caught.value.reasons


def test_csv_rows_of_one_decision_become_one_item() -> None:
    manifest = "\n".join(
        [
            HEADER,
            "college;2026-11-20;2026_CBS_1;Vergunning;a.pdf;;citizen;Ann",
            "college;2026-11-20;2026_CBS_1;Vergunning;b.pdf;Kopie;enterprise;Bouw nv",
            ";;;Herinnering;c.pdf;;postal;Luc",
            "college;2026-11-20;2026_CBS_2;Andere;d.pdf;;citizen;Bob",
            ";;;;;;;",
        ]
    )
    items = parse_csv_manifest(manifest.encode())
    assert [(i.kind, i.label, i.files) for i in items] == [
        ("decision", "regels 2, 3", ["a.pdf", "b.pdf"]),
        ("letter", "regel 4", ["c.pdf"]),
        ("decision", "regel 5", ["d.pdf"]),
    ]


def test_csv_with_commas_excel_encoding_and_a_byte_order_mark() -> None:
    text = "\ufeff" + HEADER.replace(";", ",") + "\n,,,Brief aan Zoë,z.pdf,,postal,Zoë\n"
    items = parse_csv_manifest(text.encode())
    assert items[0].source["rows"][0]["name"] == "Zoë"
    cp1252 = (HEADER + "\n;;;Brief;z.pdf;;postal;Zoë\n").encode("cp1252")
    assert parse_csv_manifest(cp1252)[0].source["rows"][0]["name"] == "Zoë"


@pytest.mark.parametrize(
    ("manifest", "reason"),
    [
        ("file;naam\nx.pdf;Ann\n", "onbekende kolommen: naam"),
        ("file;name\nx.pdf;Ann\n", "mist de kolommen: recipient_kind"),
        (HEADER + '\n;;;T;a.pdf;;postal;"Ann\n', "geen geldig CSV-bestand"),
        (HEADER + "\n;;;T;a.pdf;;postal;Ann;te veel\n", "Regel 2 heeft meer velden"),
    ],
)
def test_a_wrong_csv_manifest_says_why(manifest: str, reason: str) -> None:
    with pytest.raises(ImportRefused) as caught:
        parse_csv_manifest(manifest.encode())
    assert reason in caught.value.reasons[0]


def test_a_zip_with_a_json_manifest_in_a_zipped_folder() -> None:
    manifest = {
        "decisions": [{"decision_number": "1", "documents": [{"file": "pdf/a.pdf"}]}],
        "letters": [{"file": "./pdf/b.pdf"}],
    }
    content = read_zip(
        make_zip(
            {
                "export/manifest.json": json.dumps(manifest).encode(),
                "export/pdf/a.pdf": PDF,
                "export/pdf/b.pdf": PDF + b"b",
                "export/pdf/niet-genoemd.pdf": PDF,
                "__MACOSX/export/._a.pdf": b"x",
            }
        )
    )
    assert content.manifest_name == "export/manifest.json"
    assert [i.label for i in content.items] == ["beslissing 1", "brief 1"]
    assert content.pdfs == {"pdf/a.pdf": ("a.pdf", PDF), "./pdf/b.pdf": ("b.pdf", PDF + b"b")}


def test_missing_pdfs_are_listed_by_row() -> None:
    manifest = HEADER + "\n;;;T;a.pdf;;postal;A\n;;;T;weg.pdf;;postal;B\n;;;T;../x.pdf;;postal;C\n"
    assert reasons(make_zip({"manifest.csv": manifest.encode(), "a.pdf": PDF})) == [
        "Regel 3: het bestand ‘weg.pdf’ staat niet in het ZIP-bestand.",
        "Regel 4: het bestand ‘../x.pdf’ staat niet in het ZIP-bestand.",
    ]


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "a/../../b.pdf", "C:/x.pdf"])
def test_path_traversal_is_refused(name: str) -> None:
    manifest = (HEADER + "\n;;;T;a.pdf;;postal;A\n").encode()
    found = reasons(make_zip({"manifest.csv": manifest, "a.pdf": PDF, name: b"x"}))
    assert found == [f"Het ZIP-bestand bevat een ongeldige bestandsnaam: ‘{name}’."]


def test_links_are_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("manifest.csv", HEADER + "\n;;;T;a.pdf;;postal;A\n")
        link = zipfile.ZipInfo("a.pdf")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    assert reasons(out.getvalue()) == ["Het ZIP-bestand bevat een koppeling: ‘a.pdf’."]


@pytest.mark.parametrize(
    "content",
    [b"geen zip", b"PK\x03\x04" + b"\0" * 100, make_zip({"manifest.csv": b"x"})[:-30]],
)
def test_a_corrupt_zip_is_refused(content: bytes) -> None:
    assert reasons(content) == ["Dit is geen geldig ZIP-bestand, of het is beschadigd."]


def test_a_corrupt_entry_is_refused() -> None:
    content = bytearray(
        make_zip(
            {"manifest.csv": (HEADER + "\n;;;T;a.pdf;;postal;A\n").encode() * 50, "a.pdf": PDF}
        )
    )
    start = content.find(b"manifest.csv") + len("manifest.csv")
    content[start + 10 : start + 40] = b"\xff" * 30  # damage the compressed manifest
    found = reasons(bytes(content))
    assert "beschadigd" in found[0]


def test_a_zip_without_manifest_or_with_two() -> None:
    assert "geen manifest.csv of manifest.json" in reasons(make_zip({"a.pdf": PDF}))[0]
    two = make_zip({"manifest.csv": b"file", "manifest.json": b"{}"})
    assert "zowel manifest.csv als manifest.json" in reasons(two)[0]


def test_a_zip_bomb_stops_at_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZEGEL_UPLOAD_MAX_BYTES", str(2 * 1024 * 1024))
    get_settings.cache_clear()
    try:
        bomb = make_zip(
            {
                "manifest.csv": (HEADER + "\n;;;T;a.pdf;;postal;A\n").encode(),
                "a.pdf": b"\0" * (50 * 1024 * 1024),  # 50 MB of zeros: about 50 kB zipped
            }
        )
        assert len(bomb) < 200_000
        assert "pakt uit tot meer dan 2 MB" in reasons(bomb)[0]
    finally:
        monkeypatch.delenv("ZEGEL_UPLOAD_MAX_BYTES")
        get_settings.cache_clear()


def test_a_zip_bomb_that_lies_about_its_size_stops_while_unpacking(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ZEGEL_UPLOAD_MAX_BYTES", str(2 * 1024 * 1024))
    get_settings.cache_clear()
    try:
        bomb = bytearray(
            make_zip(
                {
                    "manifest.csv": (HEADER + "\n;;;T;a.pdf;;postal;A\n").encode(),
                    "a.pdf": b"\0" * (20 * 1024 * 1024),
                }
            )
        )
        # rewrite the uncompressed size of a.pdf in its central directory entry to 1 kB
        central = bomb.rfind(b"PK\x01\x02")
        bomb[central + 24 : central + 28] = (1024).to_bytes(4, "little")
        found = reasons(bytes(bomb))
        assert "a.pdf" in found[0] or "zip-bom" in found[0]
    finally:
        monkeypatch.delenv("ZEGEL_UPLOAD_MAX_BYTES")
        get_settings.cache_clear()


def test_too_many_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZEGEL_IMPORT_MAX_FILES", "5")
    get_settings.cache_clear()
    try:
        many = make_zip({f"{n}.pdf": PDF for n in range(6)})
        assert reasons(many) == ["Het ZIP-bestand bevat 6 bestanden; de grens is 5."]
    finally:
        monkeypatch.delenv("ZEGEL_IMPORT_MAX_FILES")
        get_settings.cache_clear()


def test_an_encrypted_entry_is_refused() -> None:
    content = bytearray(
        make_zip({"manifest.csv": b"file", "a.pdf": PDF}, compression=zipfile.ZIP_STORED)
    )
    # set the 'encrypted' flag bit in both the local and the central header of a.pdf
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        position = content.rfind(signature)
        flags = int.from_bytes(content[position + offset : position + offset + 2], "little") | 1
        content[position + offset : position + offset + 2] = flags.to_bytes(2, "little")
    assert reasons(bytes(content)) == ["Het bestand ‘a.pdf’ in het ZIP-bestand is versleuteld."]


def test_the_example_manifest_reads() -> None:
    items = parse_csv_manifest(imports.EXAMPLE_CSV.encode())
    assert [(i.kind, i.files) for i in items] == [
        ("decision", ["brieven/aanvrager.pdf"]),
        ("letter", ["brieven/herinnering.pdf"]),
    ]

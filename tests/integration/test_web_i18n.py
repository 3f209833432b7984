"""Translations and the Dutch formatting of dates and amounts."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from shared import i18n
from shared.i18n import format_date, format_datetime, format_money, gettext, use_language
from shared.web.templating import build_environment

ROOT = Path(__file__).resolve().parents[2]


def _extracted_msgids() -> set[str]:
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    options_map = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    msgids: set[str] = set()
    for folder in ("shared", "portal", "backoffice"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / folder, method_map, options_map
        ):
            msgids.add(message if isinstance(message, str) else message[0])
    return msgids


@pytest.mark.parametrize("language", [code for code in i18n.LANGUAGES if code != "nl"])
def test_every_message_is_translated(language: str) -> None:
    po_file = i18n.LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    with po_file.open("rb") as source:
        catalog = read_po(source)
    translated = {
        message.id if isinstance(message.id, str) else message.id[0]
        for message in catalog
        if message.id
        and (all(message.string) if isinstance(message.string, tuple) else message.string)
    }
    missing = sorted(_extracted_msgids() - translated)
    assert not missing, (
        f"untranslated in {language} (run pybabel extract/update, see shared/i18n.py): {missing}"
    )


def test_gettext_follows_the_language_of_the_context() -> None:
    assert gettext("Pagina niet gevonden") == "Pagina niet gevonden"
    with use_language("en"):
        assert gettext("Pagina niet gevonden") == "Page not found"
    assert gettext("Pagina niet gevonden") == "Pagina niet gevonden"


def test_templates_translate_with_newstyle_gettext() -> None:
    environment = build_environment(None)
    template = environment.from_string('{{ _("Foutcode %(code)s", code=404) }}')
    assert template.render() == "Foutcode 404"
    with use_language("en"):
        assert template.render() == "Error code 404"


def test_template_gettext_escapes_the_values_not_the_message() -> None:
    """As Jinja's newstyle gettext: the (translated) message is trusted markup and always a
    %-format, the values are escaped; ngettext and {% trans %} blocks behave the same."""
    environment = build_environment(None)
    template = environment.from_string(
        '{{ _("Van") }} {{ _("Een brief van %(organisation)s.", organisation=name) }}'
        ' {{ ngettext("%(num)d pagina", "%(num)d pagina\'s", pages) }}'
        " {% trans %}Van{% endtrans %}"
    )
    assert template.render(name="<b>A&B</b>", pages=2) == (
        "Van Een brief van &lt;b&gt;A&amp;B&lt;/b&gt;. 2 pagina's Van"
    )
    with use_language("en"):
        assert template.render(name="X", pages=1) == "From A letter from X. 1 page From"
    assert environment.from_string('{{ _("100%% zeker") }}').render() == "100% zeker"
    plain = environment.from_string(
        '{% autoescape false %}{{ _("Een brief van %(organisation)s.", organisation=name) }}'
        "{% endautoescape %}"
    )
    assert plain.render(name="<b>") == "Een brief van <b>."


def test_dates_are_dutch_and_in_brussels_time() -> None:
    assert format_date(date(2026, 3, 29)) == "29 maart 2026"
    # 23:30 UTC on 31 December is already New Year's Day in Brussels
    assert format_date(datetime(2025, 12, 31, 23, 30, tzinfo=UTC)) == "1 januari 2026"
    assert format_datetime(datetime(2026, 7, 1, 8, 5, tzinfo=UTC)) == "1 juli 2026, 10:05"
    with pytest.raises(ValueError, match="naive"):
        format_datetime(datetime(2026, 7, 1, 8, 5))  # noqa: DTZ001


def test_money_is_euro_cents_in_belgian_dutch() -> None:
    # a non-breaking space keeps the sign with the amount
    assert format_money(123450) == "€\u00a01.234,50"
    assert format_money(5) == "€\u00a00,05"
    assert format_money(None) == ""
    with pytest.raises(TypeError):
        format_money(12.5)  # type: ignore[arg-type]


def test_filters_in_templates() -> None:
    environment = build_environment(None)
    template = environment.from_string("{{ amount | money }} op {{ day | date }}")
    assert template.render(amount=2500, day=date(2026, 1, 2)) == "€\u00a025,00 op 2 januari 2026"

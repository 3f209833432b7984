"""Translations, dates and amounts.

Dutch is the source language: every msgid is the Dutch text, so Dutch needs no catalog. Other
languages have `shared/locale/<lang>/LC_MESSAGES/messages.po`, read and compiled in memory on first
use (a clean clone works without a build step; no .mo files are kept).

The language of the current request (or job) lives in a context variable; templates and Python
code translate through it. Mark text that is translated later (when shown) with `N_()`.
Catalog upkeep, from the repository root (tests/integration/test_web_i18n.py fails while a
message has no translation):

    pybabel extract -F babel.cfg --no-location --sort-output \
        -o shared/locale/messages.pot shared portal backoffice
    pybabel update -i shared/locale/messages.pot -d shared/locale --width 100
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from gettext import NullTranslations
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date as _babel_format_date
from babel.dates import format_datetime as _babel_format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency
from babel.support import Translations
from jinja2 import Environment, pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "N_",
    "TIMEZONE",
    "current_language",
    "format_date",
    "format_datetime",
    "format_money",
    "gettext",
    "install_jinja_i18n",
    "ngettext",
    "normalise_language",
    "pgettext",
    "use_language",
]

LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT_LANGUAGE = "nl"
LANGUAGES: dict[str, str] = {"nl": "Nederlands", "en": "English"}
"""Languages a user can choose, with their name in that language."""
BABEL_LOCALES: dict[str, str] = {"nl": "nl_BE", "en": "en_BE"}
TIMEZONE = ZoneInfo("Europe/Brussels")

_language: ContextVar[str] = ContextVar("zegel_language", default=DEFAULT_LANGUAGE)


def normalise_language(value: str | None) -> str | None:
    """The supported language code for `value` ('nl', 'EN', 'en-BE' …), or None."""
    if not value:
        return None
    code = value.strip().lower().replace("_", "-").split("-")[0]
    return code if code in LANGUAGES else None


def current_language() -> str:
    return _language.get()


def set_language(language: str) -> Any:
    """Set the language for the rest of this context; return a token for `reset_language`."""
    return _language.set(normalise_language(language) or DEFAULT_LANGUAGE)


def reset_language(token: Any) -> None:
    _language.reset(token)


@contextmanager
def use_language(language: str) -> Iterator[str]:
    """Translate in `language` while the block runs."""
    token = set_language(language)
    try:
        yield current_language()
    finally:
        _language.reset(token)


@functools.cache
def translations_for(language: str) -> NullTranslations:
    """The catalog of `language`, compiled from its .po file in memory (Dutch: none needed)."""
    po_file = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if language == DEFAULT_LANGUAGE or not po_file.is_file():
        return NullTranslations()
    with po_file.open("rb") as source:
        catalog = read_po(source, locale=BABEL_LOCALES.get(language, language))
    compiled = io.BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out, as msgfmt does
    compiled.seek(0)
    return Translations(fp=compiled)


def N_(message: str) -> str:  # noqa: N802 - the name gettext tools look for
    """Mark `message` for extraction without translating it now (it is translated when shown)."""
    return message


def _current() -> NullTranslations:
    return translations_for(current_language())


def gettext(message: str) -> str:
    return _current().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _current().ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    return _current().pgettext(context, message)


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return _current().npgettext(context, singular, plural, n)


class _ContextTranslations:
    """What Jinja's i18n extension calls: the catalog of the language of the moment."""

    def gettext(self, message: str) -> str:
        return gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return ngettext(singular, plural, n)

    def pgettext(self, context: str, message: str) -> str:
        return pgettext(context, message)

    def npgettext(self, context: str, singular: str, plural: str, n: int) -> str:
        return npgettext(context, singular, plural, n)


# -- formatting ---------------------------------------------------------------------------------


def _babel_locale() -> str:
    return BABEL_LOCALES.get(current_language(), BABEL_LOCALES[DEFAULT_LANGUAGE])


def format_date(value: date | datetime | None, format: str = "long") -> str:
    """A day as people read it: '29 maart 2026'. A datetime is first put in Brussels time."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Zegel uses timezone-aware datetimes")
        value = value.astimezone(TIMEZONE).date()
    return _day(value, format, _babel_locale())


@functools.lru_cache(maxsize=8192)
def _day(value: date, format: str, locale: str) -> str:
    # Babel builds the pattern anew on every call (about 0.1 ms): pages show the same few
    # days and amounts over and over, so each is formatted once per language.
    return _babel_format_date(value, format=format, locale=locale)


def format_datetime(value: datetime | None, format: str = "d MMMM yyyy, HH:mm") -> str:
    """A moment in Brussels time: '29 maart 2026, 11:05'."""
    if value is None:
        return ""
    if value.tzinfo is None:
        raise ValueError("naive datetime given; Zegel uses timezone-aware datetimes")
    return _babel_format_datetime(value, format=format, tzinfo=TIMEZONE, locale=_babel_locale())


def format_structured_communication(digits: str) -> str:
    """+++123/4567/89012+++, the way Belgian banks print a structured communication."""
    if len(digits) != 12 or not digits.isdigit():
        return digits
    return f"+++{digits[:3]}/{digits[3:7]}/{digits[7:]}+++"


def format_iban(iban: str) -> str:
    """BE71 0961 2345 6769: an IBAN in groups of four, as on a bank statement."""
    compact = iban.replace(" ", "").upper()
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def format_money(cents: int | None, currency: str = "EUR") -> str:
    """An amount in cents as people read it: 123450 → '€ 1.234,50'."""
    if cents is None:
        return ""
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise TypeError("amounts are integer cents")
    return _amount(cents, currency, _babel_locale())


@functools.lru_cache(maxsize=8192)
def _amount(cents: int, currency: str, locale: str) -> str:
    return format_currency(Decimal(cents).scaleb(-2), currency, locale=locale)


@pass_eval_context
def _template_gettext(eval_ctx: EvalContext, message: str, **variables: Any) -> str:
    """`_()` and `gettext()` in templates, as Jinja's newstyle gettext: the translation is
    trusted markup when autoescaping, the variables are escaped, and the message is always a
    %-format. Jinja's own goes through three context-passing calls per string, which cost
    half of rendering a page with some fifty strings."""
    translated = gettext(message)
    # The message and its translation are ours (source and catalog), never user input.
    return (Markup(translated) if eval_ctx.autoescape else translated) % variables  # noqa: S704


@pass_eval_context
def _template_ngettext(
    eval_ctx: EvalContext, singular: str, plural: str, num: int, **variables: Any
) -> str:
    """`ngettext()` in templates, as Jinja's newstyle one (`num` is a variable too)."""
    variables.setdefault("num", num)
    translated = ngettext(singular, plural, num)
    return (Markup(translated) if eval_ctx.autoescape else translated) % variables  # noqa: S704


def install_jinja_i18n(environment: Environment) -> None:
    """Install gettext (newstyle) and the date and money filters on a Jinja environment."""
    if "jinja2.ext.InternationalizationExtension" not in environment.extensions:
        environment.add_extension("jinja2.ext.i18n")
    environment.install_gettext_translations(  # type: ignore[attr-defined]
        _ContextTranslations(), newstyle=True
    )
    environment.globals.update(
        _=_template_gettext, gettext=_template_gettext, ngettext=_template_ngettext
    )
    environment.filters["date"] = format_date
    environment.filters["datetime"] = format_datetime
    environment.filters["money"] = format_money
    environment.filters["ogm"] = format_structured_communication
    environment.filters["iban"] = format_iban
    environment.globals["current_language"] = current_language
    environment.globals["LANGUAGES"] = LANGUAGES

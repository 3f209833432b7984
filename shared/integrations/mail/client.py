"""SMTP out: compose an e-mail (plain text with a simple HTML alternative) and send it.

`compose()` builds an `email.message.EmailMessage`; `SmtpClient.send()` hands it to the
configured SMTP server with `smtplib` (STARTTLS and login when configured) and returns a typed
`SentMail`, or raises `MailDeliveryError`, which says whether trying again later may help.

The Message-ID is derived from a caller's reference (for background jobs: the job's
idempotency key), so a message sent again after a crash carries the same Message-ID and a
receiving system can recognise the duplicate.

This module knows no model and no service: callers pass addresses and text.
"""

from __future__ import annotations

import hashlib
import re
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, formataddr, parseaddr
from html import escape

from shared.config import Settings, get_settings


class MailDeliveryError(Exception):
    """The SMTP server could not be reached or did not accept the message."""

    def __init__(
        self, message: str, *, permanent: bool = False, smtp_code: int | None = None
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        """True when the server refused for good (a 5xx reply); otherwise try again later."""
        self.smtp_code = smtp_code
        """The server's reply code, when it replied (its text may name addresses)."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    username: str = ""
    password: str = field(default="", repr=False)
    starttls: bool = False
    timeout_seconds: float = 10.0
    mail_from: str = "Zegel <no-reply@zegel.invalid>"

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> SmtpConfig:
        settings = settings or get_settings()
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value(),
            starttls=settings.smtp_starttls,
            timeout_seconds=settings.smtp_timeout_seconds,
            mail_from=settings.mail_from,
        )


@dataclass(frozen=True)
class Recipient:
    address: str
    name: str = ""


@dataclass(frozen=True)
class MailBody:
    """What an e-mail says: a greeting, paragraphs, and optionally one link (a button in HTML).
    Rendered as plain text and as a simple HTML alternative with the same content."""

    greeting: str
    paragraphs: Sequence[str]
    link_label: str | None = None
    link_url: str | None = None
    closing: Sequence[str] = ()
    """Paragraphs after the link (e.g. why this e-mail came)."""
    quote: str | None = None
    """Text quoted from someone (e.g. a reason), after the paragraphs, kept apart."""
    after_quote: Sequence[str] = ()

    def text(self) -> str:
        parts = [self.greeting, *self.paragraphs]
        if self.quote:
            parts.append("\n".join(f"> {line}" for line in self.quote.splitlines() or [""]))
        parts.extend(self.after_quote)
        if self.link_url:
            label = f"{self.link_label}:\n" if self.link_label else ""
            parts.append(label + self.link_url)
        parts.extend(self.closing)
        return "\n\n".join(parts) + "\n"

    def html(self, *, language: str = "nl") -> str:
        parts = [f"<p>{escape(self.greeting)}</p>"]
        parts.extend(f"<p>{escape(p)}</p>" for p in self.paragraphs)
        if self.quote:
            lines = "<br>".join(escape(line) for line in self.quote.splitlines())
            parts.append(
                '<blockquote style="margin:0 0 1em;padding:.5em 1em;border-left:4px solid #1d4f91;'
                f'background:#f3f5f8">{lines}</blockquote>'
            )
        parts.extend(f"<p>{escape(p)}</p>" for p in self.after_quote)
        if self.link_url:
            label = escape(self.link_label or self.link_url)
            parts.append(
                f'<p><a href="{escape(self.link_url, quote=True)}" style="display:inline-block;'
                "padding:.6em 1.2em;background:#1d4f91;color:#ffffff;text-decoration:none;"
                f'border-radius:4px">{label}</a></p>'
                f'<p style="font-size:90%;color:#555555">{escape(self.link_url)}</p>'
            )
        parts.extend(
            f'<p style="font-size:90%;color:#555555">{escape(p)}</p>' for p in self.closing
        )
        return (
            f'<!doctype html><html lang="{escape(language, quote=True)}"><head>'
            '<meta charset="utf-8"></head>'
            '<body style="font-family:Arial,Helvetica,sans-serif;font-size:16px;'
            'line-height:1.5;color:#1a1a1a">' + "".join(parts) + "</body></html>"
        )


class _MailPolicy(EmailPolicy):
    """The standard e-mail policy, minus a blank that Python's header folding leaves at the
    end of a line before an encoded word: unfolded, it doubled the space in the subject."""

    def fold(self, name: str, value: str) -> str:
        return _BLANK_BEFORE_FOLD.sub(r"\1", super().fold(name, value))

    def fold_binary(self, name: str, value: str) -> bytes:
        return _BLANK_BEFORE_FOLD_BYTES.sub(rb"\1", super().fold_binary(name, value))


_BLANK_BEFORE_FOLD = re.compile(r"[ \t]+(\r?\n)(?=[ \t])")
_BLANK_BEFORE_FOLD_BYTES = re.compile(rb"[ \t]+(\r?\n)(?=[ \t])")
MAIL_POLICY = _MailPolicy()


def _domain(mail_from: str) -> str:
    _name, address = parseaddr(mail_from)
    _local, _at, domain = address.rpartition("@")
    return domain or "zegel.invalid"


def message_id(reference: str, mail_from: str) -> str:
    """A Message-ID that is the same every time for the same reference (and reveals nothing)."""
    digest = hashlib.sha256(reference.encode()).hexdigest()[:40]
    return f"<{digest}@{_domain(mail_from)}>"


def compose(
    *,
    to: Sequence[Recipient],
    subject: str,
    body: MailBody,
    reference: str,
    mail_from: str,
    language: str = "nl",
    sent_at: datetime | None = None,
) -> EmailMessage:
    """An automatic e-mail (plain text + HTML) to `to`; `reference` fixes its Message-ID."""
    if not to:
        raise ValueError("an e-mail needs at least one recipient")
    message = EmailMessage(policy=MAIL_POLICY)
    message["From"] = mail_from
    message["To"] = ", ".join(formataddr((r.name, r.address)) if r.name else r.address for r in to)
    message["Subject"] = subject
    message["Date"] = format_datetime(sent_at or datetime.now(UTC))
    message["Message-ID"] = message_id(reference, mail_from)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies
    message["Content-Language"] = language
    message.set_content(body.text())
    message.add_alternative(body.html(language=language), subtype="html")
    return message


@dataclass(frozen=True)
class SentMail:
    message_id: str
    accepted: tuple[str, ...]
    refused: tuple[str, ...]
    """Recipients the server refused while it accepted others."""


def valid_address(address: str | None) -> bool:
    """True for something an SMTP server can be given as a recipient."""
    if not address or any(c in address for c in "\r\n"):
        return False
    try:
        parsed = Address(addr_spec=address)
    except (ValueError, IndexError, MessageError):
        return False
    return bool(parsed.username and parsed.domain)


class SmtpClient:
    """Sends e-mail through one SMTP server (one connection per message)."""

    def __init__(self, config: SmtpConfig | None = None) -> None:
        self.config = config or SmtpConfig.from_settings()

    def send(self, message: EmailMessage) -> SentMail:
        """Deliver `message` to the server; raise MailDeliveryError when it is not accepted."""
        config = self.config
        recipients = [address for _name, address in _addresses(message)]
        if not recipients:
            raise MailDeliveryError("the message has no recipient", permanent=True)
        where = f"{config.host}:{config.port}"
        try:
            with smtplib.SMTP(config.host, config.port, timeout=config.timeout_seconds) as smtp:
                smtp.ehlo()
                if config.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if config.username:
                    smtp.login(config.username, config.password)
                refused = smtp.send_message(message, to_addrs=recipients)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _text in error.recipients.values()]
            raise MailDeliveryError(
                f"SMTP server {where} refused every recipient (codes {sorted(set(codes))})",
                permanent=all(500 <= code < 600 for code in codes),
                smtp_code=max(codes, default=None),
            ) from None
        except smtplib.SMTPResponseException as error:
            raise MailDeliveryError(
                f"SMTP server {where} replied {error.smtp_code}: {_reply(error.smtp_error)}",
                permanent=500 <= error.smtp_code < 600,
                smtp_code=error.smtp_code,
            ) from None
        except (smtplib.SMTPException, OSError) as error:
            raise MailDeliveryError(
                f"SMTP server {where} unreachable: {type(error).__name__}: {error}"
            ) from None
        return SentMail(
            message_id=str(message["Message-ID"] or ""),
            accepted=tuple(r for r in recipients if r not in refused),
            refused=tuple(refused),
        )


def _addresses(message: EmailMessage) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for header in ("To", "Cc", "Bcc"):
        for value in message.get_all(header, []):
            for address in value.addresses:
                found.append((address.display_name, address.addr_spec))
    return found


def _reply(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return " ".join(text.split())

"""A local SMTP sink (aiosmtpd) that keeps what it receives, for the demo and the tests."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass(frozen=True)
class ReceivedMail:
    received_at: datetime
    mail_from: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    def text(self) -> str:
        body = self.message.get_body(preferencelist=("plain", "html"))
        return body.get_content() if body is not None else ""


class MailSink:
    """Receives SMTP on `host:port` and stores the messages in memory."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8025) -> None:
        self.messages: list[ReceivedMail] = []
        self._lock = threading.Lock()
        self._controller = Controller(self, hostname=host, port=port)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        content = envelope.original_content or b""
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.messages.append(
                ReceivedMail(
                    received_at=datetime.now(UTC),
                    mail_from=str(envelope.mail_from),
                    recipients=[str(r) for r in envelope.rcpt_tos],
                    message=message,
                )
            )
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()

    def __enter__(self) -> MailSink:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

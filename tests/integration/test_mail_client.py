"""The SMTP client against aiosmtpd on loopback: delivery, login, and how refusals are told
apart (a temporary failure may be retried, a permanent one not)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from shared.integrations.mail.client import (
    MailBody,
    MailDeliveryError,
    Recipient,
    SmtpClient,
    SmtpConfig,
    compose,
    message_id,
    valid_address,
)
from shared.integrations.mail.sandbox import MailSink

FROM = "Zegel <no-reply@zegelbeek.example>"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def sink() -> Iterator[MailSink]:
    with MailSink("127.0.0.1", _free_port()) as running:
        yield running


def _message(reference: str = "test:1") -> Any:
    return compose(
        to=[Recipient("koen@zegelbeek.example", "Koen Wouters")],
        subject="2 stukken wachten op uw handtekening — Gemeente Zegelbeek",
        body=MailBody(
            greeting="Beste Koen Wouters,",
            paragraphs=["Er wachten 2 stukken <dringend> & snel."],
            quote="Eerste regel\nTweede regel",
            link_label="Open de handtekenmap",
            link_url="http://127.0.0.1:8000/handtekenmap?a=1&b=2",
            closing=["Dit is een automatisch bericht."],
        ),
        reference=reference,
        mail_from=FROM,
    )


def test_compose_gives_plain_text_and_an_escaped_html_alternative() -> None:
    message = _message()
    assert message["Message-ID"] == message_id("test:1", FROM)
    assert message["Message-ID"] == _message()["Message-ID"], "same reference, same Message-ID"
    assert message["Message-ID"] != _message("test:2")["Message-ID"]
    assert message["Message-ID"].endswith("@zegelbeek.example>")
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["To"] == "Koen Wouters <koen@zegelbeek.example>"
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "Er wachten 2 stukken <dringend> & snel." in text
    assert "> Eerste regel\n> Tweede regel" in text
    assert "Open de handtekenmap:\nhttp://127.0.0.1:8000/handtekenmap?a=1&b=2" in text
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "&lt;dringend&gt; &amp; snel" in html
    assert 'href="http://127.0.0.1:8000/handtekenmap?a=1&amp;b=2"' in html
    assert "Eerste regel<br>Tweede regel" in html
    with pytest.raises(ValueError, match="recipient"):
        compose(to=[], subject="x", body=MailBody("x", []), reference="r", mail_from=FROM)


def test_valid_address() -> None:
    assert valid_address("koen@zegelbeek.example")
    for bad in (None, "", "koen", "koen@", "@zegelbeek.example", "a@b.example\r\nBcc: x@y.z"):
        assert not valid_address(bad), bad


def test_the_client_delivers_to_the_smtp_server(sink: MailSink) -> None:
    sent = SmtpClient(SmtpConfig("127.0.0.1", sink.port, mail_from=FROM)).send(_message())
    assert sent.accepted == ("koen@zegelbeek.example",)
    assert sent.refused == ()
    [received] = sink.messages
    assert received.recipients == ["koen@zegelbeek.example"]
    assert received.mail_from == "no-reply@zegelbeek.example"
    assert received.subject == "2 stukken wachten op uw handtekening — Gemeente Zegelbeek"
    assert received.message["Message-ID"] == sent.message_id
    assert "Er wachten 2 stukken" in received.text()


def test_long_subjects_with_accents_arrive_unchanged(sink: MailSink) -> None:
    # Python folds such a header before the encoded '—' and leaves a blank at the line end,
    # which doubled the space once unfolded; the client's policy drops that blank.
    subjects = [
        "Herinnering: 1 stuk wacht al langer dan 3 dagen op uw handtekening — Gemeente Testdorp",
        "Niet ondertekend: Omgevingsvergunning voor het plaatsen van een carport — café"
        " ‘De Zwaan’, Kerkstraat 12, een héél lange titel die over de regel heen loopt",
    ]
    client = SmtpClient(SmtpConfig("127.0.0.1", sink.port, mail_from=FROM))
    for subject in subjects:
        message = _message()
        message.replace_header("Subject", subject)
        client.send(message)
    assert [m.subject for m in sink.messages] == subjects


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_the_client_logs_in_when_a_user_name_is_set() -> None:
    logins: list[tuple[bytes, bytes]] = []

    class Handler:
        async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
            return "250 OK"

    def authenticator(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password))
        ok = data.password == b"juist"
        return AuthResult(success=ok, handled=ok)  # not handled: aiosmtpd replies 535

    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=_free_port(),
        authenticator=authenticator,
        auth_require_tls=False,
        auth_required=True,
        auth_exclude_mechanism=["LOGIN"],  # one mechanism: one attempt per login
    )
    controller.start()
    try:
        good = SmtpConfig("127.0.0.1", controller.port, "zegel", "juist", mail_from=FROM)
        SmtpClient(good).send(_message())
        bad = SmtpConfig("127.0.0.1", controller.port, "zegel", "fout", mail_from=FROM)
        with pytest.raises(MailDeliveryError) as caught:
            SmtpClient(bad).send(_message())
        assert caught.value.permanent  # 535: wrong credentials do not fix themselves
        unauthenticated = SmtpConfig("127.0.0.1", controller.port, mail_from=FROM)
        with pytest.raises(MailDeliveryError):
            SmtpClient(unauthenticated).send(_message())
    finally:
        controller.stop()
    assert logins == [(b"zegel", b"juist"), (b"zegel", b"fout")]


class _Refusing:
    def __init__(self, rcpt_reply: str | None, data_reply: str) -> None:
        self.rcpt_reply = rcpt_reply
        self.data_reply = data_reply

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        return self.data_reply


@pytest.mark.parametrize(
    ("rcpt_reply", "data_reply", "permanent"),
    [
        ("550 5.1.1 no such mailbox", "250 OK", True),
        ("450 4.2.1 mailbox busy", "250 OK", False),
        (None, "451 4.3.0 try again later", False),
        (None, "554 5.7.1 rejected", True),
    ],
)
def test_refusals_say_whether_trying_again_may_help(
    rcpt_reply: str | None, data_reply: str, permanent: bool
) -> None:
    controller = Controller(
        _Refusing(rcpt_reply, data_reply), hostname="127.0.0.1", port=_free_port()
    )
    controller.start()
    try:
        with pytest.raises(MailDeliveryError) as caught:
            SmtpClient(SmtpConfig("127.0.0.1", controller.port, mail_from=FROM)).send(_message())
    finally:
        controller.stop()
    assert caught.value.permanent is permanent
    assert caught.value.smtp_code == int((rcpt_reply or data_reply)[:3])
    assert f"127.0.0.1:{controller.port}" in str(caught.value)


def test_a_server_that_is_down_is_a_temporary_failure() -> None:
    with pytest.raises(MailDeliveryError) as caught:
        SmtpClient(SmtpConfig("127.0.0.1", _free_port(), timeout_seconds=2)).send(_message())
    assert not caught.value.permanent
    assert "unreachable" in str(caught.value)

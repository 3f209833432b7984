"""National register numbers never reach the logs."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from shared.config import load_settings
from shared.logging import (
    MASK,
    bound_request_id,
    configure_logging,
    current_request_id,
    mask_national_numbers,
    mask_text,
)


@pytest.mark.parametrize(
    "number", ["85073003328", "85.07.30-033.28", "850730-033-28", "850730 033 28"]
)
def test_national_numbers_are_masked_in_any_format(number: str) -> None:
    assert mask_text(f"burger {number} opgezocht") == f"burger {MASK} opgezocht"


@pytest.mark.parametrize("text", ["rrn=85073003328", "(85073003328)", "ssin_85073003328"])
def test_national_numbers_are_masked_next_to_punctuation(text: str) -> None:
    assert "85073003328" not in mask_text(text)
    assert MASK in mask_text(text)


@pytest.mark.parametrize(
    "text",
    [
        "+++090/9337/55493+++",  # structured communication
        "BE71096123456769",  # IBAN
        "0203.201.340",  # KBO number
        "2026/000123",  # register number
        "123456789012",  # twelve digits: not a national number
        "2026-03-29T10:11:12.123456Z",
        "3b292d262b20495687592a55a13f705b",  # a request id with eleven digits in a row
        "0b5c9fea-6b94-419c-b1d5-72d67c5be784",  # a UUID
    ],
)
def test_other_numbers_are_left_alone(text: str) -> None:
    assert mask_text(text) == text


def test_processor_masks_event_and_nested_values() -> None:
    event = {
        "event": "lookup of 85073003328 done",
        "person": {"insz": "85.07.30-033.28", "names": ["Jan", "850730-033-28"]},
        "numbers": (85073003328, 42),
        "count": 3,
        "ok": True,
    }
    masked = mask_national_numbers(None, "info", event)
    assert masked == {
        "event": f"lookup of {MASK} done",
        "person": {"insz": MASK, "names": ["Jan", MASK]},
        "numbers": (MASK, 42),
        "count": 3,
        "ok": True,
    }


def _json_lines(err: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def test_every_log_line_is_masked_json_with_the_request_id(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(load_settings(log_json=True, log_level="INFO"))
    with bound_request_id("req-0001") as request_id:
        assert current_request_id() == request_id == "req-0001"
        structlog.get_logger("test").info("structlog", insz="85073003328")
        logging.getLogger("test.stdlib").warning(
            "stdlib %s", "85.07.30-033.28", extra={"who": ["850730-033-28"]}
        )
        try:
            raise ValueError("bad insz 85073003328")
        except ValueError:
            logging.getLogger("test.stdlib").exception("failed")
    assert current_request_id() is None
    err = capsys.readouterr().err
    assert "85073003328" not in err
    assert "85.07.30-033.28" not in err
    assert "850730-033-28" not in err
    lines = _json_lines(err)
    assert len(lines) == 3
    assert all(line["request_id"] == "req-0001" for line in lines)
    assert lines[0]["insz"] == MASK
    assert lines[1]["event"] == f"stdlib {MASK}"
    assert lines[1]["who"] == [MASK]
    assert "ValueError: bad insz ***********" in str(lines[2]["exception"])


def test_console_renderer_masks_too(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(load_settings(log_json=False))
    logging.getLogger("test.console").warning("found 85073003328")
    err = capsys.readouterr().err
    assert "85073003328" not in err
    assert MASK in err
    configure_logging(load_settings())


def test_a_job_without_request_id_gets_a_fresh_one() -> None:
    with bound_request_id(None) as request_id:
        assert current_request_id() == request_id
        assert len(request_id) == 32

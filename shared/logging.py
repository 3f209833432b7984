"""Structured logging: one JSON line per event, with the request id, national numbers masked.

`configure_logging(settings)` sends both structlog and the standard library (uvicorn, litestar,
sqlalchemy, our own `logging.getLogger(...)`) through one structlog formatter on stderr, so every
line has the same shape. Whatever the source, a processor masks anything that looks like a Belgian
national register number (INSZ) before the line is written.

The request id lives in a context variable: the web layer binds it for each request, the job
runner binds the id of the request that enqueued a job while it runs the job.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import structlog
from structlog.contextvars import bind_contextvars, get_contextvars, reset_contextvars
from structlog.typing import EventDict, Processor, WrappedLogger

from shared.config import Settings

__all__ = [
    "MASK",
    "bind_request_id",
    "bound_request_id",
    "configure_logging",
    "current_request_id",
    "get_logger",
    "mask_national_numbers",
    "mask_text",
    "new_request_id",
]

MASK = "***********"

# Eleven digits, as typed (85073003328) or formatted (85.07.30-033.28, 850730-033-28,
# 850730 033 28). Never part of a longer run of digits or letters: an OGM, an IBAN, a request
# id or a UUID in hex (which can hold eleven digits in a row) is left alone.
_NATIONAL_NUMBER = re.compile(
    r"(?<![0-9A-Za-z])\d{2}\.?\d{2}\.?\d{2}[-. ]?\d{3}[-. ]?\d{2}(?![0-9A-Za-z])",
)

_HANDLER_MARK = "_zegel_handler"


def mask_text(text: str) -> str:
    """Replace every national-register-number-like part of `text` by `MASK`."""
    return _NATIONAL_NUMBER.sub(MASK, text)


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return MASK if _NATIONAL_NUMBER.fullmatch(str(value)) else value
    if isinstance(value, Mapping):
        return {key: _mask(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return type(value)(_mask(item) for item in value)
    return value


def mask_national_numbers(
    _logger: WrappedLogger, _method_name: str, event_dict: EventDict
) -> EventDict:
    """structlog processor: mask national numbers in every string value, however deep."""
    for key, value in event_dict.items():
        if key.startswith("_"):  # structlog's internals (the stdlib record)
            continue
        event_dict[key] = _mask(value)
    return event_dict


# -- request id ---------------------------------------------------------------------------------

_REQUEST_ID_KEY = "request_id"


def new_request_id() -> str:
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    """The request id bound in this context (a web request or a running job), if any."""
    value = get_contextvars().get(_REQUEST_ID_KEY)
    return value if isinstance(value, str) else None


def bind_request_id(request_id: str | None = None) -> str:
    """Bind `request_id` (or a new one) to the current context for the rest of it; return it."""
    request_id = request_id or new_request_id()
    bind_contextvars(**{_REQUEST_ID_KEY: request_id})
    return request_id


@contextmanager
def bound_request_id(request_id: str | None = None) -> Iterator[str]:
    """Bind `request_id` (or a new one) while the block runs; restore the previous one after."""
    request_id = request_id or new_request_id()
    tokens = bind_contextvars(**{_REQUEST_ID_KEY: request_id})
    try:
        yield request_id
    finally:
        reset_contextvars(**tokens)


# -- configuration ------------------------------------------------------------------------------


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is when a line is logged (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def _drop_color_message(
    _logger: WrappedLogger, _method_name: str, event_dict: EventDict
) -> EventDict:
    # uvicorn adds a copy of its message with terminal colours
    event_dict.pop("color_message", None)
    return event_dict


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def configure_logging(settings: Settings) -> None:
    """Route structlog and the standard library through one formatter; safe to call again."""
    renderer: Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if settings.log_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_shared_processors(), structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _drop_color_message,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            # last before rendering, so tracebacks and third-party messages are masked too
            mask_national_numbers,
            renderer,
        ],
    )
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    setattr(handler, _HANDLER_MARK, True)

    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, _HANDLER_MARK, False):
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())

    # uvicorn installs its own handlers; send its lines through ours instead. Its access log
    # is replaced by the web layer's own line per request (with route and request id, no IP).
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "litestar"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A structlog logger; keyword arguments become fields of the JSON line."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger

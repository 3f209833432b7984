"""Domain errors. Each carries a Dutch message that the web layer shows as it is."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain was broken. `message` is written for the user, in Dutch."""

    status_code = 409
    code = "domain_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class IllegalTransition(DomainError):
    code = "illegal_transition"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class InvalidInput(DomainError):
    status_code = 422
    code = "invalid_input"


class TooManyAttempts(DomainError):
    """Rate limit reached (guessing codes, ...): try again later."""

    status_code = 429
    code = "too_many_attempts"


class ConfigError(Exception):
    """The configuration cannot work. The message is one line that says why."""


class IntegrityError(Exception):
    """Stored data does not match its recorded checksum."""

"""Domain errors. Each carries a Dutch message that the web layer shows as it is."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class DomainError(Exception):
    """A rule of the domain was broken. `message` is written for the user, in Dutch."""

    status_code = 409
    code = "domain_error"
    headers: Mapping[str, str] = {}
    """Extra response headers (e.g. WWW-Authenticate with a 401)."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def problem_extra(self) -> dict[str, Any]:
        """Members added to the problem JSON (RFC 9457 extension members)."""
        return {}


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


class FieldErrors(InvalidInput):
    """Input with problems in named fields: `errors` maps each field to its (Dutch) message,
    so a form can show each next to its field and an API lists them all at once."""

    code = "invalid_fields"

    def __init__(self, errors: Mapping[str, str], message: str | None = None) -> None:
        self.errors = dict(errors)
        super().__init__(message or "\n".join(self.errors.values()))

    def problem_extra(self) -> dict[str, Any]:
        return {"errors": [{"field": key, "detail": text} for key, text in self.errors.items()]}


class Unauthenticated(DomainError):
    """No valid credentials (an API call without a usable key)."""

    status_code = 401
    code = "unauthenticated"
    headers: Mapping[str, str] = {"WWW-Authenticate": 'Bearer realm="zegel"'}


class ConfigError(Exception):
    """The configuration cannot work. The message is one line that says why."""


class IntegrityError(Exception):
    """Stored data does not match its recorded checksum."""

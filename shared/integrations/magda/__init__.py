"""MAGDA: person look-up by INSZ, eBox consent and preferences, and the Documentendienst.

- `client`: `MagdaClient`, typed clients over httpx for the REST services Zegel uses, with an
  OAuth2 client-credentials token obtained with a JWT client assertion (RFC 7523), a
  correlation id on every call and an `Idempotency-Key` on every message. Failures raise
  `MagdaRetryableError` (5xx, 429, time-outs: try again later) or `MagdaPermanentError`
  (problem JSON, `x-magda-exceptions`: asking again will not help), each with a Dutch reason.
- `types`: the typed results (never ORM rows).
- `sandbox`: a local server speaking the same protocol from test data (`testdata`), for
  development and tests; `keys` makes the development client key both sides use.
"""

from shared.integrations.magda.client import (
    MagdaClient,
    MagdaConfig,
    MagdaError,
    MagdaNotFound,
    MagdaPermanentError,
    MagdaRetryableError,
    client_from_settings,
)
from shared.integrations.magda.types import (
    Address,
    Attachment,
    BpostStatus,
    CitizenConsent,
    EnterprisePreferences,
    MessageEvent,
    MessageRecipient,
    MessageStatus,
    OutgoingMessage,
    Person,
    SubmittedMessage,
)

__all__ = [
    "Address",
    "Attachment",
    "BpostStatus",
    "CitizenConsent",
    "EnterprisePreferences",
    "MagdaClient",
    "MagdaConfig",
    "MagdaError",
    "MagdaNotFound",
    "MagdaPermanentError",
    "MagdaRetryableError",
    "MessageEvent",
    "MessageRecipient",
    "MessageStatus",
    "OutgoingMessage",
    "Person",
    "SubmittedMessage",
    "client_from_settings",
]

"""One typed settings object, read from ZEGEL_* environment variables.

`get_settings()` is the only way code reads configuration. Misconfiguration raises
`ConfigError` with one line that says what is wrong; the CLI prints it and exits.
"""

from __future__ import annotations

import functools
from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.errors import ConfigError

DEFAULT_SECRET = "zegel-development-secret-change-me"  # noqa: S105 - the known default production refuses
DEFAULT_AUDIT_KEY = "zegel-development-audit-key-change-me"
DEFAULT_PROTECTION_KEY = "zegel-development-protection-key-change-me"
SANDBOX_CLIENT_SECRET = "sandbox-secret"  # noqa: S105 - the sandbox OP's known client secret
SANDBOX_MAGDA_CLIENT_ID = "zegel-sandbox"
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "0.0.0.0")  # noqa: S104 - compared only


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Every setting of Zegel. The environment variable is `ZEGEL_` + the field name in capitals."""

    model_config = SettingsConfigDict(env_prefix="ZEGEL_", extra="ignore", frozen=True)

    env: Environment = Environment.DEVELOPMENT

    # Storage
    database_url: str = "sqlite:///var/zegel.db"
    storage_path: Path = Path("var/files")

    # Secrets
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET)
    """Signs session cookies and CSRF tokens."""
    audit_key: SecretStr = SecretStr(DEFAULT_AUDIT_KEY)
    """Keys the HMAC chain of the audit trail."""
    protection_key: SecretStr = SecretStr(DEFAULT_PROTECTION_KEY)
    """Derives the keys that protect national register numbers at rest (digest and encryption)."""

    # The two apps
    portal_base_url: str = "http://127.0.0.1:8001"
    backoffice_base_url: str = "http://127.0.0.1:8000"
    sandbox_base_url: str = "http://127.0.0.1:8002"

    # Sandboxes of external services (MAGDA, Stripe, OIDC, SMTP sink)
    sandboxes_enabled: bool = True

    # External services (filled in by the issues that add each client)
    magda_base_url: str = "http://127.0.0.1:8002/magda"
    """MAGDA gateway (person, eBox consent, Documentendienst); the sandbox at /magda."""
    magda_client_id: str = SANDBOX_MAGDA_CLIENT_ID
    magda_private_key_path: Path | None = None
    """Private key (PEM or JWK) that signs the JWT client assertion for the OAuth2 token.
    Outside production, unset means the development key under ZEGEL_DEV_PKI_PATH."""
    magda_token_url: str | None = None
    """OAuth2 token endpoint; default: ZEGEL_MAGDA_BASE_URL + /oauth2/token."""
    magda_timeout_seconds: float = Field(default=10.0, gt=0)
    magda_legal_basis: str = ""
    """Reference of the authorisation to consult the national register (e.g. the deliberation
    of the Informatieveiligheidscomité). Without it every look-up is refused."""
    magda_status_poll_seconds: int = Field(default=300, ge=1)
    """How often the delivery status of open dispatches is asked."""
    magda_sandbox_step_seconds: float = Field(default=20.0, ge=0)
    """The sandbox moves a message one status further every this many seconds."""
    stripe_api_base: str = "http://127.0.0.1:8002/stripe"
    stripe_secret_key: SecretStr = SecretStr("sk_test_sandbox")
    stripe_webhook_secrets: list[SecretStr] = Field(default_factory=list)

    # Login (OpenID Connect). Client authentication is client_secret_basic when a secret is
    # set, otherwise private_key_jwt with the private key (PEM or JWK) at *_private_key_path.
    citizen_oidc_issuer: str = "http://127.0.0.1:8002/oidc"
    citizen_oidc_client_id: str = "zegel-portal"
    citizen_oidc_client_secret: SecretStr = SecretStr(SANDBOX_CLIENT_SECRET)
    citizen_oidc_private_key_path: Path | None = None
    citizen_oidc_scopes: str = "openid profile rrn"
    staff_oidc_issuer: str = "http://127.0.0.1:8002/oidc"
    staff_oidc_client_id: str = "zegel-backoffice"
    staff_oidc_client_secret: SecretStr = SecretStr(SANDBOX_CLIENT_SECRET)
    staff_oidc_private_key_path: Path | None = None
    staff_oidc_scopes: str = "openid profile email roles"
    staff_roles_claim: str = "roles"
    """Claim with role names ('secretariaat' or 'slug:secretariaat'); empty: roles from Beheer."""
    citizen_level_view: str = "substantial"
    citizen_level_pay: str = "substantial"
    citizen_level_dispute: str = "substantial"
    """Minimum authentication level per action: low, substantial or high."""
    session_idle_minutes: int = Field(default=30, ge=1)
    session_absolute_hours: int = Field(default=10, ge=1)

    # Documents and signing
    pdf_max_bytes: int = Field(default=30 * 1024 * 1024, ge=1024)
    pdf_max_pages: int = Field(default=50, ge=1)
    upload_max_bytes: int = Field(default=500 * 1024 * 1024, ge=1024)
    """Largest request the intake accepts: a decision with its PDFs (form or API), or a ZIP
    import; also the most a ZIP import may unpack to (a guard against zip bombs)."""
    import_max_files: int = Field(default=2000, ge=2)
    """Most entries a ZIP import may hold."""
    tsa_url: str = "http://127.0.0.1:8002/tsa"
    """RFC 3161 time-stamping authority for PAdES-B-T; signing fails when it does not answer."""
    signers_config_path: Path | None = None
    """JSON file mapping signers to their signing backend (PKCS#12 file or PKCS#11 token)."""
    trust_roots_path: Path | None = None
    """PEM bundle of trusted roots for signature validation."""
    tsa_timeout_seconds: float = Field(default=10.0, gt=0)
    crl_path: Path | None = None
    """CRLs (PEM or DER) of the signers' CAs: a certificate on one of them cannot sign."""
    revocation_checks_online: bool = True
    """Fetch CRLs/OCSP named in certificates when checking a signer or validating signatures."""
    dev_pki_path: Path = Path("var/pki")
    """Development PKI (test CA, demo signers, sandbox TSA) that `zegel demo` creates once.
    Outside production, its signers.json and root.pem stand in for the two settings above
    when those are not set."""
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    mail_from: str = "Zegel <no-reply@zegel.invalid>"
    signing_digest_delay_seconds: float = Field(default=60.0, ge=0)
    """How long the digest e-mail to a signer waits for more work to land in their signing
    folder, so a batch of screenings gives one e-mail, not one per document."""
    signing_reminder_days: int = Field(default=3, ge=1)
    """A signer whose signatures have waited longer than this many days gets a reminder
    (at most one a day)."""

    # Disputes (bezwaar, betwisting): the rule per dispute right (shared.services.dispute_deadlines)
    dispute_start_in_working_days: bool = True
    """A tax objection's term starts on the third *working* day after sending (as art. 371 WIB
    counts); false: the third calendar day."""
    dispute_tax_months: int = Field(default=3, ge=1, le=24)
    dispute_tax_answer_months: int = Field(default=6, ge=1, le=36)
    """How long the competent service has to decide on a tax objection (overdue after)."""
    dispute_tax_legal_text: str = (
        "U kunt bezwaar indienen bij het college van burgemeester en schepenen binnen drie"
        " maanden vanaf de derde werkdag na de verzending van het aanslagbiljet (decreet van"
        " 30 mei 2008 betreffende de vestiging, de invordering en de geschillen van provincie-"
        " en gemeentebelastingen). Het bezwaar is schriftelijk, ondertekend en met redenen"
        " omkleed. U kunt vragen om gehoord te worden."
    )
    dispute_gas_months: int = Field(default=1, ge=1, le=24)
    dispute_gas_answer_months: int = Field(default=3, ge=1, le=36)
    dispute_gas_legal_text: str = (
        "U kunt binnen een maand na de kennisgeving van deze beslissing beroep instellen"
        " (wet van 24 juni 2013 betreffende de gemeentelijke administratieve sancties, art. 31)."
    )
    dispute_custom_months: int = Field(default=0, ge=0, le=24)
    dispute_custom_days: int = Field(default=30, ge=0, le=730)
    """A custom dispute right's term: months, then days (one of the two may be 0)."""
    dispute_custom_answer_months: int = Field(default=3, ge=1, le=36)
    dispute_custom_legal_text: str = (
        "U kunt bezwaar indienen binnen de termijn die in de brief staat."
    )
    dispute_services: dict[str, str] = Field(
        default_factory=lambda: {"tax_assessment": "belastingen", "gas_fine": "gas"}
    )
    """Competent service per document type; other types: the dispute right's own service
    (belastingen for tax objections, gas for GAS appeals, secretariaat otherwise)."""
    dispute_attachment_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    dispute_attachment_max_count: int = Field(default=5, ge=0, le=50)
    dispute_grounds_max_chars: int = Field(default=20000, ge=100)

    # Background jobs
    job_lease_seconds: int = Field(default=300, ge=5)
    job_max_attempts: int = Field(default=8, ge=1)
    job_backoff_base_seconds: float = Field(default=10.0, gt=0)
    job_backoff_max_seconds: float = Field(default=3600.0, gt=0)
    worker_poll_seconds: float = Field(default=1.0, gt=0)

    # Operations
    log_level: str = "INFO"
    log_json: bool = True

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @model_validator(mode="after")
    def _production_is_safe(self) -> Settings:
        if self.env is not Environment.PRODUCTION:
            return self
        problems: list[str] = []
        for name, default in (
            ("secret_key", DEFAULT_SECRET),
            ("audit_key", DEFAULT_AUDIT_KEY),
            ("protection_key", DEFAULT_PROTECTION_KEY),
        ):
            value: SecretStr = getattr(self, name)
            if value.get_secret_value() == default:
                problems.append(f"ZEGEL_{name.upper()} still has its development default")
            elif len(value.get_secret_value()) < 32:
                problems.append(f"ZEGEL_{name.upper()} is shorter than 32 characters")
        for app in ("citizen", "staff"):
            secret: SecretStr = getattr(self, f"{app}_oidc_client_secret")
            if secret.get_secret_value() == SANDBOX_CLIENT_SECRET and not getattr(
                self, f"{app}_oidc_private_key_path"
            ):
                problems.append(
                    f"ZEGEL_{app.upper()}_OIDC_CLIENT_SECRET still has its sandbox default"
                    f" (or set ZEGEL_{app.upper()}_OIDC_PRIVATE_KEY_PATH)"
                )
        if self.sandboxes_enabled:
            problems.append("ZEGEL_SANDBOXES_ENABLED must be false in production")
        problems.extend(self._magda_problems())
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _magda_problems(self) -> list[str]:
        """Production talks to the real MAGDA gateway with its own key, never the sandbox."""
        problems: list[str] = []
        base = self.magda_base_url.rstrip("/")
        host = base.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
        if base.startswith(self.sandbox_base_url.rstrip("/")) or host in _LOOPBACK_HOSTS:
            problems.append("ZEGEL_MAGDA_BASE_URL still points to the sandbox")
        if self.magda_client_id == SANDBOX_MAGDA_CLIENT_ID:
            problems.append("ZEGEL_MAGDA_CLIENT_ID still has its sandbox default")
        key = self.magda_private_key_path
        if key is None:
            problems.append("ZEGEL_MAGDA_PRIVATE_KEY_PATH is not set")
        elif key.resolve().is_relative_to(self.dev_pki_path.resolve()):
            problems.append("ZEGEL_MAGDA_PRIVATE_KEY_PATH is the development key")
        return problems


def _explain(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        location = ".".join(str(p) for p in item["loc"])
        message = str(item["msg"]).removeprefix("Value error, ")
        if location:
            parts.append(f"ZEGEL_{location.upper()}: {message}")
        else:
            parts.append(message)
    return "; ".join(parts)


def load_settings(**overrides: object) -> Settings:
    """Read the settings from the environment (and overrides); raise ConfigError when invalid."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise ConfigError(f"Invalid configuration: {_explain(error)}") from None


@functools.cache
def get_settings() -> Settings:
    return load_settings()

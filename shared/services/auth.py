"""Login and sessions for citizens (portal) and staff (back office).

`start_login` keeps the state, nonce and PKCE verifier of one trip to the identity provider;
`complete_login` checks that the browser came back with a state we issued and never used,
lets the OIDC client validate everything the provider says, and opens a session with a fresh
random token (the session id is always new at login). A citizen is identified only by the
national register number in the verified token; it is kept as a keyed digest, never in clear.
Every refused login is written to the security log with a reason code and without the number.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from shared.config import get_settings
from shared.db import utcnow
from shared.errors import InvalidInput
from shared.integrations.oidc.client import (
    LoginFailed,
    OidcClient,
    ProviderConfig,
    VerifiedLogin,
    load_private_key,
)
from shared.integrations.oidc.levels import AuthLevel, acr_values_for, level_of
from shared.logging import get_logger
from shared.models.people import Organisation, StaffRole, StaffRoleAssignment, StaffUser
from shared.models.sessions import LoginAttempt, WebSession
from shared.protection import normalise_ssin, seal, ssin_digest, unseal
from shared.services import audit

log = get_logger("zegel.security")

LOGIN_ATTEMPT_LIFETIME = timedelta(minutes=10)
TOUCH_INTERVAL = timedelta(seconds=60)


class App(StrEnum):
    PORTAL = "portal"
    BACKOFFICE = "backoffice"


INVALID_STATE = "Deze aanmelding is ongeldig of verlopen. Meld u opnieuw aan."


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# -- providers --------------------------------------------------------------------------


_providers: dict[App, OidcClient] = {}


def provider_config(app: App) -> ProviderConfig:
    """The identity provider of `app` as the settings describe it."""
    settings = get_settings()
    prefix = "citizen" if app is App.PORTAL else "staff"
    key_path = getattr(settings, f"{prefix}_oidc_private_key_path")
    return ProviderConfig(
        issuer=getattr(settings, f"{prefix}_oidc_issuer"),
        client_id=getattr(settings, f"{prefix}_oidc_client_id"),
        scopes=getattr(settings, f"{prefix}_oidc_scopes"),
        client_secret=None
        if key_path
        else getattr(settings, f"{prefix}_oidc_client_secret").get_secret_value(),
        private_key=load_private_key(key_path) if key_path else None,
    )


def provider(app: App) -> OidcClient:
    """The identity provider client of `app`, built from the settings once."""
    if app not in _providers:
        _providers[app] = OidcClient(provider_config(app))
    return _providers[app]


def use_provider(app: App, client: OidcClient | None) -> None:
    """Replace (or with None: forget) the provider client of `app` — tests and the demo."""
    if client is None:
        _providers.pop(app, None)
    else:
        _providers[app] = client


@functools.cache
def citizen_levels() -> dict[str, AuthLevel]:
    from shared.integrations.oidc.levels import parse_level

    settings = get_settings()
    return {
        "view": parse_level(settings.citizen_level_view),
        "pay": parse_level(settings.citizen_level_pay),
        "dispute": parse_level(settings.citizen_level_dispute),
    }


# -- login ------------------------------------------------------------------------------


def safe_return_path(value: str | None, default: str) -> str:
    """Only paths on this site: never an open redirect."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value


def start_login(
    session: Session,
    app: App,
    *,
    redirect_uri: str,
    return_to: str,
    required_level: AuthLevel = AuthLevel.NONE,
) -> str:
    """Record a login attempt and return the provider's authorization URL."""
    acr_values = acr_values_for(required_level) if app is App.PORTAL else None
    start = provider(app).begin(redirect_uri, acr_values=acr_values)
    session.add(
        LoginAttempt(
            app=app.value,
            state_digest=_digest(start.state),
            nonce=start.nonce,
            code_verifier=start.code_verifier,
            return_to=return_to,
            required_level=int(required_level),
        )
    )
    session.flush()
    return start.url


@dataclass(frozen=True)
class OpenedSession:
    token: str
    """The cookie value; only its digest is stored."""
    web_session: WebSession
    return_to: str


def _claim_attempt(session: Session, app: App, state: str | None) -> LoginAttempt:
    if not state:
        raise LoginFailed("state_missing", INVALID_STATE)
    attempt = session.scalars(
        select(LoginAttempt)
        .where(LoginAttempt.state_digest == _digest(state), LoginAttempt.app == app.value)
        .with_for_update()
    ).one_or_none()
    if attempt is None:
        raise LoginFailed("state_unknown", INVALID_STATE)
    if attempt.used_at is not None:
        raise LoginFailed("state_replayed", INVALID_STATE)
    now = utcnow()
    attempt.used_at = now
    # The attempt is spent whatever happens next: commit that before talking to the provider.
    session.commit()
    if attempt.created_at < now - LOGIN_ATTEMPT_LIFETIME:
        raise LoginFailed("state_expired", INVALID_STATE)
    return attempt


def complete_login(
    session: Session,
    app: App,
    *,
    params: Mapping[str, str],
    redirect_uri: str,
    previous_token: str | None = None,
) -> OpenedSession:
    """Finish the login the provider sent back; raise LoginFailed (and log why) if in doubt."""
    try:
        if "error" in params:
            _claim_attempt(session, app, params.get("state"))
            cancelled = params["error"] in ("access_denied", "login_required")
            raise LoginFailed(
                f"provider_error:{params['error'][:40]}",
                "U hebt de aanmelding afgebroken." if cancelled else INVALID_STATE,
            )
        attempt = _claim_attempt(session, app, params.get("state"))
        code = params.get("code")
        if not code:
            raise LoginFailed("code_missing", INVALID_STATE)
        verified = provider(app).finish(
            code=code,
            redirect_uri=redirect_uri,
            nonce=attempt.nonce,
            code_verifier=attempt.code_verifier,
            returned_issuer=params.get("iss"),
        )
        if app is App.PORTAL:
            web_session = _citizen_session(verified, AuthLevel(attempt.required_level))
        else:
            web_session = _staff_session(session, verified)
    except LoginFailed as failure:
        log.warning("login_failed", app=app.value, reason=failure.code)
        raise
    if previous_token:
        end_session(session, app, previous_token)
    token = secrets.token_urlsafe(32)
    web_session.token_digest = _digest(token)
    session.add(web_session)
    session.flush()
    log.info(
        "login_succeeded",
        app=app.value,
        session_id=str(web_session.id),
        level=AuthLevel(web_session.auth_level).name.lower(),
    )
    default = "/mijn-documenten" if app is App.PORTAL else "/"
    return OpenedSession(token, web_session, safe_return_path(attempt.return_to, default))


def _new_session(app: App, verified: VerifiedLogin, display_name: str) -> WebSession:
    settings = get_settings()
    now = utcnow()
    return WebSession(
        app=app.value,
        issuer=verified.issuer,
        subject=verified.subject,
        display_name=display_name[:200],
        acr=verified.acr,
        auth_level=int(level_of(verified.acr)),
        id_token_sealed=seal(verified.id_token),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=settings.session_absolute_hours),
    )


def _display_name(claims: Mapping[str, object]) -> str:
    name = claims.get("name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    parts = [claims.get("given_name"), claims.get("family_name")]
    return " ".join(p for p in parts if isinstance(p, str) and p) or "Burger"


def _citizen_session(verified: VerifiedLogin, required: AuthLevel) -> WebSession:
    level = level_of(verified.acr)
    if level < required:
        raise LoginFailed(
            "acr_too_low",
            "Voor deze stap moet u zich aanmelden met een sterkere methode"
            + (
                " (eID of itsme)."
                if required >= AuthLevel.HIGH
                else " (eID, itsme of een beveiligingscode via app of sms)."
            ),
        )
    rrn = verified.claims.get("rrn")
    if not isinstance(rrn, str) or not rrn:
        raise LoginFailed(
            "rrn_missing",
            "De aanmeldingsdienst gaf uw rijksregisternummer niet door. Zonder dat nummer kunnen"
            " we uw documenten niet tonen.",
        )
    try:
        ssin = normalise_ssin(rrn)
    except InvalidInput:
        raise LoginFailed(
            "rrn_invalid",
            "Het rijksregisternummer dat de aanmeldingsdienst doorgaf, is ongeldig. Neem contact"
            " op met de helpdesk van de aanmeldingsdienst.",
        ) from None
    web_session = _new_session(App.PORTAL, verified, _display_name(verified.claims))
    web_session.citizen_ssin_digest = ssin_digest(ssin)
    return web_session


# -- staff ------------------------------------------------------------------------------

STAFF_NOT_LINKED = (
    "Uw account is nog niet gekoppeld aan een bestuur in Zegel. Vraag een beheerder van uw"
    " bestuur om u toegang te geven."
)


def _staff_session(session: Session, verified: VerifiedLogin) -> WebSession:
    user = session.scalars(
        select(StaffUser).where(
            StaffUser.issuer == verified.issuer, StaffUser.subject == verified.subject
        )
    ).one_or_none()
    claim = get_settings().staff_roles_claim
    claimed = verified.claims.get(claim) if claim else None
    # Roles come from the token when it names some; otherwise from Beheer.
    if isinstance(claimed, list) and claimed and all(isinstance(v, str) for v in claimed):
        user = sync_roles_from_claim(session, user, verified, claimed)
    if user is None:
        raise LoginFailed("staff_unknown", STAFF_NOT_LINKED)
    if not user.active:
        raise LoginFailed(
            "staff_deactivated",
            "Uw account in Zegel is uitgeschakeld. Neem contact op met een beheerder van uw"
            " bestuur.",
        )
    organisations = staff_organisations(session, user.id)
    if not organisations:
        raise LoginFailed("staff_without_roles", STAFF_NOT_LINKED)
    email = verified.claims.get("email")
    if isinstance(email, str) and email != user.email:
        user.email = email
    user.last_login_at = utcnow()
    web_session = _new_session(App.BACKOFFICE, verified, user.name)
    web_session.staff_user_id = user.id
    web_session.organisation_id = organisations[0].id
    return web_session


def staff_organisations(session: Session, staff_user_id: object) -> list[Organisation]:
    return list(
        session.scalars(
            select(Organisation)
            .join(StaffRoleAssignment, StaffRoleAssignment.organisation_id == Organisation.id)
            .where(StaffRoleAssignment.staff_user_id == staff_user_id)
            .distinct()
            .order_by(Organisation.name)
        ).all()
    )


def sync_roles_from_claim(
    session: Session, user: StaffUser | None, verified: VerifiedLogin, values: list[str]
) -> StaffUser | None:
    """Make the roles match the token: 'slug:role' for one organisation, 'role' for all of the
    organisations the member already belongs to. Unknown values are ignored. Audited."""
    wanted: dict[object, set[StaffRole]] = {}
    bare: set[StaffRole] = set()
    known_roles = {r.value: r for r in StaffRole}
    for value in values:
        slug, _, name = value.rpartition(":")
        role = known_roles.get(name)
        if role is None:
            continue
        if slug:
            organisation = session.scalars(
                select(Organisation).where(Organisation.slug == slug)
            ).one_or_none()
            if organisation is not None:
                wanted.setdefault(organisation.id, set()).add(role)
        else:
            bare.add(role)
    if user is None:
        if not wanted:
            return None
        name = _display_name(verified.claims)
        user = StaffUser(issuer=verified.issuer, subject=verified.subject, name=name)
        session.add(user)
        session.flush()
    current: dict[object, dict[StaffRole, StaffRoleAssignment]] = {}
    for assignment in session.scalars(
        select(StaffRoleAssignment).where(StaffRoleAssignment.staff_user_id == user.id)
    ):
        current.setdefault(assignment.organisation_id, {})[assignment.role] = assignment
    for organisation_id in current:
        wanted.setdefault(organisation_id, set()).update(bare)
    actor = audit.Actor(type="system", id=None, label=f"aanmelding {verified.issuer}")
    for organisation_id, roles in wanted.items():
        have = current.get(organisation_id, {})
        added = roles - set(have)
        removed = set(have) - roles
        if not added and not removed:
            continue
        for role in added:
            session.add(
                StaffRoleAssignment(
                    organisation_id=organisation_id, staff_user_id=user.id, role=role
                )
            )
        for role in removed:
            session.delete(have[role])
        session.flush()
        audit.record(
            session,
            actor=actor,
            organisation_id=organisation_id,  # type: ignore[arg-type]
            action="staff.roles_synced",
            object_type="staff_user",
            object_id=user.id,
            data={
                "added": sorted(r.value for r in added),
                "removed": sorted(r.value for r in removed),
            },
        )
    return user


# -- sessions ---------------------------------------------------------------------------


@functools.cache
def _live_session_statement() -> Select[WebSession]:
    """Built once with bound parameters: every request of a logged-in user asks it, and
    building a statement costs more than running it."""
    return select(WebSession).where(
        WebSession.token_digest == bindparam("token_digest"),
        WebSession.app == bindparam("app"),
        WebSession.ended_at.is_(None),
    )


def load_session(session: Session, app: App, token: str | None) -> WebSession | None:
    """The live session for this cookie, or None (ended, idle too long, or past its lifetime)."""
    if not token:
        return None
    web_session = session.scalars(
        _live_session_statement(), {"token_digest": _digest(token), "app": app.value}
    ).one_or_none()
    if web_session is None:
        return None
    now = utcnow()
    idle = timedelta(minutes=get_settings().session_idle_minutes)
    if web_session.expires_at <= now or web_session.last_seen_at + idle <= now:
        web_session.ended_at = now
        session.flush()
        return None
    if web_session.last_seen_at + TOUCH_INTERVAL <= now:
        web_session.last_seen_at = now
        session.flush()
    if web_session.staff_user_id is not None:
        user = session.get(StaffUser, web_session.staff_user_id)
        if user is None or not user.active:
            web_session.ended_at = now
            session.flush()
            return None
    return web_session


def end_session(session: Session, app: App, token: str | None) -> str | None:
    """End the session of this cookie; return its ID token for RP-initiated logout."""
    if not token:
        return None
    web_session = session.scalars(
        select(WebSession).where(
            WebSession.token_digest == _digest(token), WebSession.app == app.value
        )
    ).one_or_none()
    if web_session is None or web_session.ended_at is not None:
        return None
    web_session.ended_at = utcnow()
    session.flush()
    log.info("logout", app=app.value, session_id=str(web_session.id))
    return unseal(web_session.id_token_sealed) if web_session.id_token_sealed else None


def switch_organisation(session: Session, web_session: WebSession, organisation_id: object) -> None:
    from shared.errors import NotFound

    allowed = {o.id for o in staff_organisations(session, web_session.staff_user_id)}
    if organisation_id not in allowed:
        raise NotFound("Dit bestuur bestaat niet of u hebt er geen toegang toe.")
    web_session.organisation_id = organisation_id  # type: ignore[assignment]
    session.flush()

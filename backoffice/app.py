"""The staff app: `uvicorn backoffice.app:app`."""

from __future__ import annotations

from pathlib import Path

from backoffice.controllers import (
    admin,
    api,
    api_keys,
    dispatching,
    dispute_rules,
    disputes,
    document_types,
    documents,
    experience,
    front_office,
    imports,
    insights,
    intake,
    payments,
    register,
    signing_folder,
)
from backoffice.controllers.start import start_page, switch_organisation
from backoffice.navigation import BEHEER_MENU, menu_for
from shared.services.auth import App
from shared.web import ZegelApp
from shared.web import create_app as create_web_app
from shared.web.login import login_routes, provider_origin
from shared.web.sessions import STAFF_DEPENDENCIES

TEMPLATES = Path(__file__).resolve().parent / "templates"


def create_app() -> ZegelApp:
    """Build the back office. Pages guard themselves by role (shared.web.sessions)."""
    return create_web_app(
        "backoffice",
        route_handlers=[
            start_page,
            switch_organisation,
            *login_routes(App.BACKOFFICE, default_return="/"),
            documents.document_list,
            documents.document_detail,
            signing_folder.signing_folder,
            signing_folder.signing_confirm,
            signing_folder.signing_start,
            signing_folder.signing_progress,
            signing_folder.signing_decline_form,
            signing_folder.signing_decline,
            experience.experience_report,
            documents.document_check_address,
            documents.document_withdraw,
            insights.lead_time_report,
            dispatching.dispatch_send,
            dispatching.dispatch_progress,
            intake.decision_new,
            intake.decision_create,
            intake.decision_detail,
            intake.letter_new,
            intake.letter_create,
            intake.document_replace,
            intake.document_screen,
            intake.document_page_preview,
            imports.import_form,
            imports.import_example,
            imports.import_start,
            imports.import_batch,
            imports.import_progress,
            api_keys.api_key_list,
            api_keys.api_key_create,
            api_keys.api_key_revoke,
            register.register_page,
            register.register_csv,
            register.register_pdf,
            register.consultations_page,
            register.consultations_csv,
            document_types.policy_list,
            document_types.policy_form,
            document_types.policy_save,
            document_types.policy_reset,
            dispute_rules.rule_list,
            dispute_rules.rule_form,
            dispute_rules.rule_save,
            admin.staff_list,
            admin.staff_new,
            admin.staff_create,
            admin.staff_member,
            admin.staff_member_roles,
            admin.staff_member_account,
            admin.staff_member_absence,
            payments.payment_list,
            payments.payment_csv,
            payments.payment_request_detail,
            payments.payment_refund,
            payments.statement_list,
            payments.statement_upload,
            payments.statement_detail,
            payments.review_list,
            payments.review_line,
            payments.review_assign,
            payments.review_dismiss,
            payments.desk_search,
            payments.desk_payment_form,
            payments.desk_payment,
            payments.desk_payment_done,
            payments.desk_receipt,
            disputes.dispute_queue,
            disputes.dispute_report,
            disputes.dispute_detail,
            disputes.dispute_assign,
            disputes.dispute_status,
            disputes.dispute_note,
            disputes.dispute_decide,
            disputes.dispute_attachment,
            front_office.front_office_search,
            front_office.front_office_document,
            front_office.front_office_register,
            front_office.front_office_dispute,
            front_office.front_office_receipt,
            front_office.front_office_mail_receipt,
        ],
        template_dir=TEMPLATES,
        title="Zegel — backoffice",
        layout="base_backoffice.html",
        dependencies=STAFF_DEPENDENCIES,
        form_targets=provider_origin(App.BACKOFFICE),
        template_globals={"menu_for": menu_for, "beheer_menu": BEHEER_MENU},
        api_route_handlers=[api.create_decision],
        openapi_config=api.openapi_config(),
    )


app = create_app()

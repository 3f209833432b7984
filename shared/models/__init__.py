"""The domain model. Importing this package registers every table on `shared.db.Base`."""

from shared.models.audit import AuditChainHead, AuditEvent, RegisterConsultation
from shared.models.dispatch import (
    DISPATCH_STATES,
    Channel,
    DeliveryEvent,
    Dispatch,
    DispatchStatus,
    RegisterCounter,
)
from shared.models.disputes import (
    DISPUTE_STATES,
    Dispute,
    DisputeAttachment,
    DisputeChannel,
    DisputeOutcome,
    DisputeStatus,
)
from shared.models.document_types import DocumentTypePolicy, PaperDelivery
from shared.models.documents import (
    DOCUMENT_STATES,
    Decision,
    DisputeRight,
    Document,
    DocumentStatus,
    GoverningBody,
)
from shared.models.experience import ExperiencePhase, ExperienceRating, ExperienceScore
from shared.models.intake import (
    IMPORT_STATES,
    ApiKey,
    ImportBatch,
    ImportItem,
    ImportItemStatus,
    ImportStatus,
)
from shared.models.jobs import Job, JobStatus
from shared.models.notifications import SignerNotification
from shared.models.payments import (
    PAYMENT_REQUEST_STATES,
    PAYMENT_STATES,
    Payment,
    PaymentMethod,
    PaymentRequest,
    PaymentRequestStatus,
    PaymentStatus,
)
from shared.models.people import (
    EboxStatus,
    Organisation,
    OrganisationKind,
    Recipient,
    RecipientKind,
    SignerFunction,
    StaffRole,
    StaffRoleAssignment,
    StaffUser,
)
from shared.models.register_totals import RegisterDailyTotal
from shared.models.sessions import AccessCodeAttempt, LoginAttempt, WebSession
from shared.models.signing import (
    SIGNATURE_STATES,
    SIGNING_BATCH_STATES,
    SignatureRequest,
    SignatureStatus,
    SigningBatch,
    SigningBatchStatus,
)

__all__ = [
    "DISPATCH_STATES",
    "DISPUTE_STATES",
    "DOCUMENT_STATES",
    "IMPORT_STATES",
    "PAYMENT_REQUEST_STATES",
    "PAYMENT_STATES",
    "SIGNATURE_STATES",
    "SIGNING_BATCH_STATES",
    "AccessCodeAttempt",
    "ApiKey",
    "AuditChainHead",
    "AuditEvent",
    "Channel",
    "Decision",
    "DeliveryEvent",
    "Dispatch",
    "DispatchStatus",
    "Dispute",
    "DisputeAttachment",
    "DisputeChannel",
    "DisputeOutcome",
    "DisputeRight",
    "DisputeStatus",
    "Document",
    "DocumentStatus",
    "DocumentTypePolicy",
    "EboxStatus",
    "ExperiencePhase",
    "ExperienceRating",
    "ExperienceScore",
    "GoverningBody",
    "ImportBatch",
    "ImportItem",
    "ImportItemStatus",
    "ImportStatus",
    "Job",
    "JobStatus",
    "LoginAttempt",
    "Organisation",
    "OrganisationKind",
    "PaperDelivery",
    "Payment",
    "PaymentMethod",
    "PaymentRequest",
    "PaymentRequestStatus",
    "PaymentStatus",
    "Recipient",
    "RecipientKind",
    "RegisterConsultation",
    "RegisterCounter",
    "RegisterDailyTotal",
    "SignatureRequest",
    "SignatureStatus",
    "SignerFunction",
    "SignerNotification",
    "SigningBatch",
    "SigningBatchStatus",
    "StaffRole",
    "StaffRoleAssignment",
    "StaffUser",
    "WebSession",
]

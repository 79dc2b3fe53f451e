"""The registry's domain models, one module per part of the vocabulary in docs/design.md."""

from registry.models import lookups as lookups  # registers `field__any`
from registry.models.artists import Artist, ArtistLink, ArtistSite, ArtistToken
from registry.models.choices import Assurance, MinimumAssurance, Permission, Purpose
from registry.models.compliance import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WithdrawalFanOut,
    WithdrawalNotice,
)
from registry.models.disputes import Dispute, DisputeResolution, DisputeStatus
from registry.models.ledger import ConsentEvent, ConsentEventKind, LedgerCheckpoint
from registry.models.organizations import Organization, OrganizationAPIKey, OrganizationKind
from registry.models.screenings import (
    Decision,
    Screening,
    ScreeningChunk,
    ScreeningItem,
    ScreeningMode,
    ScreeningStatus,
    WorkScreening,
)
from registry.models.terms import DefaultTerms, Grant, Terms
from registry.models.uploads import PendingUpload, PendingUploadStatus, UploadProblem
from registry.models.works import Fingerprint, Work, WorkHold, WorkSourceUrl

__all__ = [
    "Artist",
    "ArtistLink",
    "ArtistSite",
    "ArtistToken",
    "Assurance",
    "ConsentEvent",
    "ConsentEventKind",
    "Decision",
    "DefaultTerms",
    "DeliveryStatus",
    "Dispute",
    "DisputeResolution",
    "DisputeStatus",
    "Fingerprint",
    "Grant",
    "LedgerCheckpoint",
    "MinimumAssurance",
    "Organization",
    "OrganizationAPIKey",
    "OrganizationKind",
    "PendingUpload",
    "PendingUploadStatus",
    "Permission",
    "Purpose",
    "Screening",
    "ScreeningChunk",
    "ScreeningItem",
    "ScreeningMode",
    "ScreeningStatus",
    "Terms",
    "UploadProblem",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WithdrawalFanOut",
    "WithdrawalNotice",
    "Work",
    "WorkHold",
    "WorkScreening",
    "WorkSourceUrl",
]

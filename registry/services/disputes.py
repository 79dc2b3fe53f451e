from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from registry.models import ConsentEventKind, Dispute, DisputeResolution, DisputeStatus
from registry.services.ledger import ledger_append
from registry.services.works import work_remove


@transaction.atomic
def dispute_resolve(*, dispute: Dispute, resolution: str, resolved_by: Any, note: str = "") -> None:
    """Staff decide who owns a disputed work; the losing registration leaves the registry."""
    if resolution not in DisputeResolution.values:
        raise ValidationError(
            _("Unknown resolution “%(resolution)s”.") % {"resolution": resolution}
        )
    now = timezone.now()
    claimed = Dispute.objects.filter(pk=dispute.pk, status=DisputeStatus.OPEN).update(
        status=DisputeStatus.RESOLVED,
        resolution=resolution,
        resolved_at=now,
        resolved_by=resolved_by,
        note=note,
    )
    if not claimed:
        raise ValidationError(_("This dispute is resolved already."))
    dispute.refresh_from_db()
    ledger_append(
        kind=ConsentEventKind.DISPUTE_RESOLVED,
        work=dispute.claimed_work,
        payload={
            "dispute_id": dispute.pk,
            "existing_work_id": dispute.existing_work_id,
            "resolution": resolution,
            "by": resolved_by.get_username() if resolved_by is not None else None,
            "note": note,
        },
    )
    loser = {
        DisputeResolution.KEEP_EXISTING: dispute.claimed_work,
        DisputeResolution.KEEP_CLAIMED: dispute.existing_work,
    }.get(DisputeResolution(resolution))
    if loser is not None:
        work_remove(work=loser, reason=f"dispute {dispute.pk} resolved: {resolution}")

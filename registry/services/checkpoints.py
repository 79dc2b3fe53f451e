"""Publishing signed checkpoints of the consent ledger's head."""

from django.db import transaction

from registry.exports.ledger import checkpoint
from registry.models import LedgerCheckpoint
from registry.selectors.ledger import registry_version


@transaction.atomic
def ledger_checkpoint_publish() -> LedgerCheckpoint | None:
    """Sign the current head; idempotent: one checkpoint per head (None for an empty ledger)."""
    head = registry_version()
    if head.sequence == 0:
        return None
    existing = LedgerCheckpoint.objects.filter(sequence=head.sequence).first()
    if existing is not None:
        return existing
    signed = checkpoint(head.sequence, head.hash)
    signature = signed.pop("signature")
    # The unique sequence decides between two beats racing for the same head.
    created, _ = LedgerCheckpoint.objects.get_or_create(
        sequence=head.sequence,
        defaults={"head_hash": head.hash, "document": signed, "signature": signature},
    )
    return created

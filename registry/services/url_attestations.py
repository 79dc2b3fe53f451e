"""The signed attestation each URL check answers with: nothing is stored, so the registry's
signature over the Merkle root of the answer's decisions is the record."""

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from django.utils import timezone

from registry.models import Organization
from registry.receipts import key_id, sign
from registry.signing import receipt_signing_key
from registry.url_receipts import (
    ATTESTATION_TYPE,
    SCOPED_VERSION,
    URL_MERKLE,
    answers_root,
    scope_fields,
)

URL_DECISIONS = ("allowed", "denied", "unknown")


def url_check_attestation(
    *,
    organization: Organization,
    checked: Mapping[str, Any],
    version: Mapping[str, Any],
    results: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """{"document", "signature"} for one URL check's answers, in the order asked."""
    counts = Counter(str(result["decision"]) for result in results)
    private_key = receipt_signing_key()
    document = {
        "type": ATTESTATION_TYPE,
        "version": SCOPED_VERSION,
        # Signed with the rest: the answers cannot be passed off as a screening's.
        **scope_fields(),
        "merkle": URL_MERKLE,
        "organization": {"id": organization.pk, "name": organization.name},
        "purpose": checked["purpose"],
        "mode": checked["mode"],
        "min_assurance": checked["min_assurance"],
        "registry_version": dict(version),
        "urls": len(results),
        "counts": {decision: counts[decision] for decision in URL_DECISIONS},
        "decisions_root": answers_root(results),
        "checked_at": timezone.now().isoformat(),
        "key_id": key_id(private_key.public_key()),
    }
    return {"document": document, "signature": sign(document, private_key)}

"""What every export says about itself: who and what it covers, the registry version, and the
key and commands that verify it."""

from typing import Any

from django.utils import timezone

from registry.receipts import key_id
from registry.selectors.compliance import ExportScope, receipt_key_url
from registry.selectors.ledger import registry_version
from registry.signing import receipt_signing_key

VERIFY_RECEIPT = "python -m registry.client verify-receipt RECEIPT.json --key-url {key_url}"
VERIFY_LEDGER = "python manage.py verify_ledger --export LEDGER.jsonl --key-file registry-key.pem"


def receipt_key() -> dict[str, str]:
    return {
        "algorithm": "Ed25519",
        "key_id": key_id(receipt_signing_key().public_key()),
        "url": receipt_key_url(),
    }


def export_header(kind: str, scope: ExportScope) -> dict[str, Any]:
    return {
        "type": kind,
        "version": 1,
        "generated_at": timezone.now().isoformat(),
        "organization": {"id": scope.organization.pk, "name": scope.organization.name},
        "period": {
            "since": scope.since.isoformat() if scope.since else None,
            "until": scope.until.isoformat() if scope.until else None,
        },
        "screening_ids": list(scope.screening_ids),
        "registry_version": registry_version().as_dict(),
        "receipt_key": receipt_key(),
        "verify": {
            "receipts": VERIFY_RECEIPT.format(key_url=receipt_key_url()),
            "ledger": VERIFY_LEDGER,
        },
    }

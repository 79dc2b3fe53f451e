from django.db import migrations, models
from django.utils import timezone

from registry.attestations import AttestationError, public_key_id
from registry.ledger import GENESIS_HASH, canonical_bytes, chain_hash

KIND = "platform_settings_changed"


def register_existing_platforms(apps, schema_editor):
    """A platform set up before its settings were recorded gets its event now, so the ledger
    names its key and verify_ledger's comparison of the organizations table holds."""
    Organization = apps.get_model("registry", "Organization")
    ConsentEvent = apps.get_model("registry", "ConsentEvent")
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [0x436F6E73656E74])
    organizations = Organization.objects.exclude(kind="ai_team", url_prefix="", attestation_key="")
    for organization in organizations.order_by("pk"):
        head = ConsentEvent.objects.order_by("-sequence").values_list("sequence", "hash").first()
        sequence, previous = (head[0] + 1, head[1]) if head else (1, GENESIS_HASH)
        key = organization.attestation_key
        try:
            key_id = public_key_id(key) if key else ""
        except AttestationError:
            key_id = ""  # verify_ledger names this event: the key stored was never readable
        payload = {
            "organization_id": organization.pk,
            "organization": organization.name,
            "kind": organization.kind,
            "url_prefix": organization.url_prefix,
            "public_key": key,
            "key_id": key_id,
            "note": "set before platform settings were recorded in the ledger",
        }
        created_at = timezone.now()
        canonical = canonical_bytes(
            sequence=sequence,
            kind=KIND,
            artist_id=None,
            work_id=None,
            payload=payload,
            created_at=created_at,
        )
        ConsentEvent.objects.create(
            sequence=sequence,
            kind=KIND,
            payload=payload,
            created_at=created_at,
            previous_hash=previous,
            hash=chain_hash(previous, canonical),
        )


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0013_merkle"),
    ]

    operations = [
        migrations.AlterField(
            model_name="consentevent",
            name="kind",
            field=models.CharField(
                choices=[
                    ("work_registered", "Work registered"),
                    ("work_removed", "Work removed"),
                    ("terms_changed", "Terms changed"),
                    ("defaults_changed", "Default terms changed"),
                    ("grant_created", "Grant created"),
                    ("grant_revoked", "Grant revoked"),
                    ("dispute_opened", "Dispute opened"),
                    ("dispute_resolved", "Dispute resolved"),
                    ("site_verified", "Site reservation verified"),
                    ("site_removed", "Site reservation removed"),
                    ("assurance_changed", "Assurance changed"),
                    ("platform_settings_changed", "Platform settings changed"),
                ],
                max_length=32,
                verbose_name="kind",
            ),
        ),
        migrations.RunPython(register_existing_platforms, migrations.RunPython.noop),
    ]

from typing import Any, cast

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from registry.attestations import AttestationError, public_key_id
from registry.models import ConsentEventKind, Organization, OrganizationAPIKey, OrganizationKind
from registry.optout.prefixes import PrefixError, normalize_prefix
from registry.services.ledger import ledger_append


@transaction.atomic
def organization_create(*, name: str) -> Organization:
    name = name.strip()
    if not name:
        raise ValidationError(_("An organization needs a name."))
    if Organization.objects.filter(name=name).exists():
        raise ValidationError(
            _("An organization named “%(name)s” exists already.") % {"name": name}
        )
    return Organization.objects.create(name=name)


def platform_settings_clean(*, kind: str, url_prefix: str, attestation_key: str) -> tuple[str, str]:
    """The URL prefix (normalized) and public key a kind of organization may hold, or a
    ValidationError saying what is missing or wrong."""
    url_prefix, attestation_key = url_prefix.strip(), attestation_key.strip()
    if kind not in OrganizationKind.values:
        raise ValidationError(_("Unknown kind of organization “%(kind)s”.") % {"kind": kind})
    if kind != OrganizationKind.PLATFORM:
        if url_prefix or attestation_key:
            raise ValidationError(_("Only a platform has a URL prefix and an attestation key."))
        return "", ""
    if not url_prefix or not attestation_key:
        raise ValidationError(_("A platform needs its URL prefix and its attestation public key."))
    try:
        url_prefix = normalize_prefix(url_prefix)
    except PrefixError:
        raise ValidationError(
            _(
                "The URL prefix must be an http(s) address with a host, e.g. https://www.example.com/."
            )
        ) from None
    try:
        public_key_id(attestation_key)
    except AttestationError:
        raise ValidationError(
            _("The attestation key must be an Ed25519 public key in PEM.")
        ) from None
    return url_prefix, attestation_key


@transaction.atomic
def organization_kind_set(
    *, organization: Organization, kind: str, url_prefix: str = "", attestation_key: str = ""
) -> Organization:
    """Make an organization a platform (or an AI team again). Only staff call this: a
    platform is trusted to say which of its accounts uploaded a work."""
    url_prefix, attestation_key = platform_settings_clean(
        kind=kind, url_prefix=url_prefix, attestation_key=attestation_key
    )
    locked = Organization.objects.select_for_update().get(pk=organization.pk)
    before = (locked.kind, locked.url_prefix, locked.attestation_key)
    organization.kind, organization.url_prefix = kind, url_prefix
    organization.attestation_key = attestation_key
    organization.save(update_fields=["kind", "url_prefix", "attestation_key"])
    if before != (kind, url_prefix, attestation_key):
        # In the ledger, so a key pasted in by anyone with admin or database access is on
        # record: verify_ledger accepts an attestation only under the key registered here.
        ledger_append(
            kind=ConsentEventKind.PLATFORM_SETTINGS_CHANGED,
            payload=platform_settings_payload(organization),
        )
    return organization


def platform_settings_payload(organization: Organization) -> dict[str, Any]:
    key = organization.attestation_key
    return {
        "organization_id": organization.pk,
        "organization": organization.name,
        "kind": organization.kind,
        "url_prefix": organization.url_prefix,
        "public_key": key,
        "key_id": public_key_id(key) if key else "",
    }


@transaction.atomic
def api_key_create(*, organization: Organization, name: str = "") -> tuple[OrganizationAPIKey, str]:
    """Return the key and its secret; only a hash of the secret is stored, so show it once."""
    api_key, secret = OrganizationAPIKey.objects.create_key(
        organization=organization, name=name or f"{organization.name} key"
    )
    return cast(OrganizationAPIKey, api_key), secret


@transaction.atomic
def api_key_revoke(*, api_key: OrganizationAPIKey) -> bool:
    """Revoke a key for good; False when it was revoked already (the first revocation wins)."""
    return bool(
        OrganizationAPIKey.objects.filter(pk=api_key.pk, revoked=False).update(revoked=True)
    )

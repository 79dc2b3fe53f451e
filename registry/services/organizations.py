from typing import cast

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from registry.models import Organization, OrganizationAPIKey


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

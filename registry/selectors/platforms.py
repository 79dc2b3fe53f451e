"""Reads of platforms' settings and the ledger events that registered them."""

from dataclasses import dataclass

from registry.attestations import AttestationError, public_key_id
from registry.models import ConsentEvent, ConsentEventKind, Organization, OrganizationKind


@dataclass(frozen=True)
class RegisteredPlatform:
    name: str
    url_prefix: str
    key_id: str
    public_key_pem: str
    ledger_sequence: int | None  # the event that registered these settings, if any


def _settings_events() -> dict[int, int]:
    events = (
        ConsentEvent.objects.filter(kind=ConsentEventKind.PLATFORM_SETTINGS_CHANGED)
        .order_by("sequence")
        .values_list("payload__organization_id", "sequence")
    )
    return dict(events)  # ordered: each organization keeps its latest event


def _key_id(public_pem: str) -> str:
    try:
        return public_key_id(public_pem)
    except AttestationError:
        return ""  # only a database edit stores an unreadable key; verify_ledger names it


def registered_platforms() -> list[RegisteredPlatform]:
    """Every platform with an attestation key, by name."""
    platforms = Organization.objects.filter(kind=OrganizationKind.PLATFORM).exclude(
        attestation_key=""
    )
    events = _settings_events()
    return [
        RegisteredPlatform(
            name=platform.name,
            url_prefix=platform.url_prefix,
            key_id=_key_id(platform.attestation_key),
            public_key_pem=platform.attestation_key,
            ledger_sequence=events.get(platform.pk),
        )
        for platform in platforms.order_by("name")
    ]


def key_in_ledger(platform: Organization) -> bool:
    """Whether the platform's key in the table is the one the ledger registered last."""
    registered = (
        ConsentEvent.objects.filter(
            kind=ConsentEventKind.PLATFORM_SETTINGS_CHANGED,
            payload__organization_id=platform.pk,
        )
        .order_by("-sequence")
        .values_list("payload__public_key", flat=True)
        .first()
    )
    return registered == platform.attestation_key

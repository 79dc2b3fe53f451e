"""A platform attests that one of its accounts uploaded a work: the claim becomes
`platform_attested`, with the signed statement in the ledger.

What stops a platform from laundering: it speaks only for an artist who named, among their own
links in the registry, the profile the statement is about, and only about profiles and posts
under the platform's own URL prefix, which staff set when they made the organization a
platform. A platform and an artist must both agree; neither alone raises a claim. Every
statement names the SHA-256 of the bytes the account uploaded (the platform never sees the
registry's images), so it binds an image: an account that registered someone else's picture gets
it attested only by re-posting those very bytes, which a dispute by the rightful artist stops.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from registry.attestations import (
    AttestationError,
    StatementError,
    parse_statement,
    public_key_id,
    verify_statement,
)
from registry.models import Artist, Organization, OrganizationKind, Work
from registry.optout.prefixes import PrefixError, url_key, url_matches_prefix
from registry.selectors.platforms import key_in_ledger
from registry.services.artists import work_assurance_set

# A signed statement is accepted this long after it was issued: a leaked one soon stops working.
MAX_AGE = timedelta(days=1)
# Clocks differ a little between the platform and the registry.
CLOCK_SKEW = timedelta(minutes=5)


class AttestationRefused(Exception):
    """The platform may not make this claim (403)."""


class AttestationNotFound(Exception):
    """The statement names no artist or work of the registry (404)."""


@dataclass(frozen=True)
class AttestedWork:
    work: Work
    changed: bool


def _issued_at(value: str, now: datetime) -> datetime:
    try:
        moment = parse_datetime(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise StatementError("issued_at", "issued_at must be an ISO 8601 time with its zone.")
    if moment > now + CLOCK_SKEW:
        raise StatementError("issued_at", "issued_at is in the future.")
    if moment < now - MAX_AGE:
        raise StatementError("issued_at", "The statement is more than a day old: sign a new one.")
    return moment


def _linked(artist: Artist, profile_url: str) -> bool:
    """Whether the artist named this profile among their own links (handles are skipped)."""
    wanted = url_key(profile_url)
    for url in artist.links.values_list("url", flat=True):
        try:
            if url_key(url) == wanted:
                return True
        except PrefixError:
            continue
    return False


def _check_platform(platform: Organization, profile_url: str, post_url: str) -> None:
    if platform.kind != OrganizationKind.PLATFORM:
        raise AttestationRefused(
            "Only an organization the registry's staff made a platform attests."
        )
    if not platform.attestation_key or not platform.url_prefix:
        raise AttestationRefused(
            "This platform has no attestation key or URL prefix yet: the registry's staff set both."
        )
    if not key_in_ledger(platform):
        # Set behind the ledger's back (a database edit): verify_ledger would refuse what it
        # verifies, so the registry refuses it first.
        raise AttestationRefused(
            "This platform's attestation key is not the one registered in the consent ledger: "
            "the registry's staff must set it again."
        )
    for field, url in (("profile_url", profile_url), ("post_url", post_url)):
        if not url_matches_prefix(url, platform.url_prefix):
            raise AttestationRefused(
                f"{field} is not under this platform's URL prefix {platform.url_prefix}."
            )


def _works(artist: Artist, work_id: int | None, sha256: str) -> list[Work]:
    works = (
        Work.objects.active()
        .filter(artist=artist, sha256=sha256)
        .select_related("artist")
        .order_by("pk")
    )
    if work_id is not None:
        works = works.filter(pk=work_id)
    found = list(works)
    if not found:
        named = f"a work with SHA-256 {sha256}" + (
            f" and registry id {work_id}" if work_id is not None else ""
        )
        raise AttestationNotFound(f"Artist {artist.pk} has no {named} in the registry.")
    return found


@transaction.atomic
def platform_attestation_record(
    *, platform: Organization, statement: object, signature: str
) -> list[AttestedWork]:
    """Check the platform's signed statement and raise the works it names to
    `platform_attested`. A statement received again changes nothing (changed=False)."""
    parsed = parse_statement(statement)
    signed = cast(Mapping[str, Any], statement)  # parse_statement refused anything else
    _check_platform(platform, parsed.profile_url, parsed.post_url)
    try:
        verify_statement(signed, signature, platform.attestation_key)
    except AttestationError as error:
        raise StatementError("signature", f"Refused: {error}.") from None
    _issued_at(parsed.issued_at, timezone.now())
    artist = Artist.objects.filter(pk=parsed.artist).first()
    if artist is None:
        raise AttestationNotFound(f"No artist {parsed.artist} in the registry.")
    if not _linked(artist, parsed.profile_url):
        raise AttestationRefused(
            "The artist has not named this profile among their links in the registry, so "
            "the platform cannot speak for them."
        )
    attestation = {
        "platform_id": platform.pk,
        "platform": platform.name,
        "statement": dict(signed),
        "signature": signature,
        "public_key": platform.attestation_key,
        "key_id": public_key_id(platform.attestation_key),
    }
    evidence = f"{platform.name} attests that {parsed.profile_url} posted {parsed.post_url}"
    return [
        AttestedWork(
            work=work,
            changed=work_assurance_set(
                work=work, method="platform", evidence=evidence, attestation=attestation
            ),
        )
        for work in _works(artist, parsed.work, parsed.sha256)
    ]

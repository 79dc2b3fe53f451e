"""Whether works may be used by one organization for one purpose: the gatekeeper's rule 3."""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from registry.models import Dispute, Grant, Organization, Permission, Work
from registry.selectors.terms import EffectiveTerms, effective_terms


@dataclass(frozen=True)
class Permit:
    allowed: bool
    reason: str  # why: allowed, licensed, not_allowed, licensed_without_grant, under_dispute
    terms: EffectiveTerms
    license: str  # the SPDX id, or the grant reference for licensed use


def disputed_work_ids(work_ids: Collection[int]) -> set[int]:
    rows = Dispute.objects.open().filter(
        Q(existing_work_id__any=work_ids) | Q(claimed_work_id__any=work_ids)
    )
    disputed: set[int] = set()
    for existing, claimed in rows.values_list("existing_work_id", "claimed_work_id"):
        disputed.update((existing, claimed))
    return disputed & set(work_ids)


def _grant_references(
    work_ids: Collection[int], organization: Organization, purpose: str, at: datetime
) -> dict[int, str]:
    """The reference of a grant that licenses each work to the organization, where one does."""
    if not work_ids:
        return {}
    artist_of = dict(Work.objects.filter(pk__any=work_ids).values_list("pk", "artist_id"))
    grants = (
        Grant.objects.valid_at(at)
        .filter(organization=organization, artist_id__in=set(artist_of.values()))
        .prefetch_related("works")
    )
    licensed: dict[int, str] = {}
    for grant in grants:
        # Purposes are checked here rather than in SQL: SQLite has no JSON containment lookup.
        if purpose not in grant.purposes:
            continue
        covered = (
            {work for work, artist in artist_of.items() if artist == grant.artist_id}
            if grant.covers_all_works
            else {work.pk for work in grant.works.all()} & set(work_ids)
        )
        for work_id in covered:
            licensed.setdefault(work_id, grant.reference)
    return licensed


def permits_for(
    work_ids: Collection[int], *, organization: Organization, purpose: str, at: datetime
) -> dict[int, Permit]:
    terms = effective_terms(work_ids, purpose)
    disputed = disputed_work_ids(work_ids)
    licensed_ids = [w for w, t in terms.items() if t.permission == Permission.LICENSED]
    grants = _grant_references(licensed_ids, organization, purpose, at)
    permits = {}
    for work_id, work_terms in terms.items():
        if work_id in disputed:
            permits[work_id] = Permit(False, "under_dispute", work_terms, "")
        elif work_terms.permission == Permission.ALLOWED:
            permits[work_id] = Permit(True, "allowed", work_terms, work_terms.license)
        elif work_terms.permission == Permission.LICENSED and work_id in grants:
            permits[work_id] = Permit(True, "licensed", work_terms, grants[work_id])
        elif work_terms.permission == Permission.LICENSED:
            permits[work_id] = Permit(False, "licensed_without_grant", work_terms, "")
        else:
            permits[work_id] = Permit(False, "not_allowed", work_terms, "")
    return permits

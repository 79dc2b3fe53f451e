"""Whether works may be used by one organization for one purpose: the gatekeeper's rule
*matched works decide*."""

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime

from django.db.models import Q

from registry.assurance import claim_level
from registry.gatekeeper import ReasonCode
from registry.models import Assurance, Dispute, Grant, Organization, Permission, Work
from registry.selectors.sites import verified_prefixes_of
from registry.selectors.terms import EffectiveTerms, effective_terms

HELD_FOR_REVIEW = ReasonCode.HELD_FOR_REVIEW.value
# The key of a dispute's distances that says whether its claim was a close copy.
CLOSE_CLAIM = "close"


@dataclass(frozen=True)
class Permit:
    allowed: bool
    # why: allowed, licensed, not_allowed, licensed_without_grant, under_dispute,
    # held_for_review
    reason: str
    terms: EffectiveTerms
    license: str  # the SPDX id, or the grant reference for licensed use
    assurance: str = Assurance.SELF_ASSERTED  # of the claim that gave the terms
    superseded_by: int | None = None  # see gatekeeper.WorkPermit
    frozen_by: tuple[tuple[int, str], ...] = ()  # see gatekeeper.WorkPermit
    held: bool = False  # see gatekeeper.WorkPermit


@dataclass(frozen=True)
class DisputedWorks:
    # denied while their dispute is open -> the works whose claims freeze them
    frozen: dict[int, set[int]]
    # a later, less sure claim -> the earlier work it disputes; kept when a dispute with
    # another work freezes it too (gatekeeper._counted decides whether it is left out)
    superseded: dict[int, int]


def disputed_works(work_ids: Collection[int]) -> DisputedWorks:
    rows = Dispute.objects.open().filter(
        Q(existing_work_id__any=work_ids) | Q(claimed_work_id__any=work_ids)
    )
    wanted = set(work_ids)
    frozen: dict[int, set[int]] = {}
    superseded: dict[int, int] = {}
    for existing, claimed, freezes, distances in rows.values_list(
        "existing_work_id", "claimed_work_id", "freezes", "distances"
    ):
        if freezes:
            frozen.setdefault(existing, set()).add(claimed)
            frozen.setdefault(claimed, set()).add(existing)
        elif _close_claim(distances):
            superseded[claimed] = existing
    return DisputedWorks(
        {work: others for work, others in frozen.items() if work in wanted},
        {c: e for c, e in superseded.items() if c in wanted},
    )


def _close_claim(distances: object) -> bool:
    """Whether a dispute's claim was a close copy (services.works records it as "close"): only
    a close, less sure later claim is superseded by the earlier work. A loose one (a region of
    a collage, an overlay inside) may be another work of the same template, or the earlier work
    may be a collage holding the later artist's picture: its refusal stands. Disputes recorded
    before the flag count as close, as they did."""
    return not isinstance(distances, dict) or distances.get(CLOSE_CLAIM, True) is not False


def claim_assurances(work_ids: Collection[int]) -> dict[int, str]:
    """Each work's claim assurance (assurance.claim_level)."""
    return _claims(work_ids)[0]


def _claims(work_ids: Collection[int]) -> tuple[dict[int, str], set[int]]:
    """Each work's claim assurance, and which of the works are held (Work.hold), in one read."""
    rows = list(
        Work.objects.filter(pk__any=work_ids).values_list(
            "pk", "assurance", "artist_id", "artist__assurance", "source_urls", "hold"
        )
    )
    sites = verified_prefixes_of({row[2] for row in rows}) if rows else {}
    assurances, held = {}, set()
    for pk, own, artist_id, artist, source_urls, hold in rows:
        assurances[pk] = claim_level(own, artist, source_urls, sites.get(artist_id, ()))
        if hold:
            held.add(pk)
    return assurances, held


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
    disputed = disputed_works(work_ids)
    # The claims that freeze a work are read with its own: _counted weighs them against the
    # earlier work it is superseded by.
    freezing = set().union(*disputed.frozen.values())
    assurances, held = _claims({*work_ids, *freezing})
    licensed_ids = [w for w, t in terms.items() if t.permission == Permission.LICENSED]
    grants = _grant_references(licensed_ids, organization, purpose, at)
    permits = {}
    for work_id, work_terms in terms.items():
        level = assurances.get(work_id, Assurance.SELF_ASSERTED)
        if work_id in disputed.frozen:
            permit = Permit(False, "under_dispute", work_terms, "", level)
        elif work_id in disputed.superseded:
            # Alone (without the earlier work in the same item) it still counts as denied.
            permit = Permit(False, "under_dispute", work_terms, "", level)
        elif work_terms.permission == Permission.ALLOWED:
            permit = Permit(True, "allowed", work_terms, work_terms.license, level)
        elif work_terms.permission == Permission.LICENSED and work_id in grants:
            permit = Permit(True, "licensed", work_terms, grants[work_id], level)
        elif work_terms.permission == Permission.LICENSED:
            permit = Permit(False, "licensed_without_grant", work_terms, "", level)
        else:
            permit = Permit(False, "not_allowed", work_terms, "", level)
        if work_id in held and permit.allowed:
            # Registered without its check finishing: its consent takes effect only once an
            # operator's full check releases it (fail closed); its restrictions stand.
            permit = Permit(False, HELD_FOR_REVIEW, work_terms, "", level)
        # A claim whose assurance cannot be read might be the rights holder's: the surest.
        frozen_by = tuple(
            (other, assurances.get(other, Assurance.OPERATOR_VERIFIED))
            for other in sorted(disputed.frozen.get(work_id, ()))
        )
        permits[work_id] = replace(
            permit,
            superseded_by=disputed.superseded.get(work_id),
            frozen_by=frozen_by,
            held=work_id in held,
        )
    return permits

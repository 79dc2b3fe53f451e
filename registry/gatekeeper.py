"""The gatekeeper's rules (docs/gatekeeper.md), as plain functions over what the selectors found.

Fail closed: an item is `allowed` only when every path below says so; anything unexpected ends
in `invalid` or `denied`, never in `allowed`.
"""

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from registry.assurance import SELF_ASSERTED, VERIFIED, meets, rank


# The owners of the gatekeeper's terms. The values are what the database, the API, receipts and
# exports store and show; Django's choices (registry.models) add labels to these same values.
class Decision(StrEnum):
    """What the gatekeeper decides for one item."""

    ALLOWED = "allowed"
    DENIED = "denied"
    UNREGISTERED = "unregistered"
    INVALID = "invalid"


class Mode(StrEnum):
    """What a screening lets through: only consented items, or unregistered ones too."""

    CONSENT_REQUIRED = "consent_required"
    RESPECT_OPT_OUTS = "respect_opt_outs"


class Purpose(StrEnum):
    """The four uses named by the C2PA 1.4 / CAWG training-and-data-mining assertion."""

    AI_TRAINING = "ai_training"
    AI_GENERATIVE_TRAINING = "ai_generative_training"
    DATA_MINING = "data_mining"
    AI_INFERENCE = "ai_inference"


ALLOWED, DENIED, UNREGISTERED, INVALID = Decision
CONSENT_REQUIRED, RESPECT_OPT_OUTS = Mode
# The rule *what passes*, as data: the decisions each mode lets through.
_PASSING: dict[str, tuple[Decision, ...]] = {
    Mode.CONSENT_REQUIRED: (Decision.ALLOWED,),
    Mode.RESPECT_OPT_OUTS: (Decision.ALLOWED, Decision.UNREGISTERED),
}


class ReasonCode(StrEnum):
    """Why an item got its decision. The value is the kind reports count the item under, as
    they always have; a matched work's permit gives the first five (registry.selectors.consent)."""

    ALLOWED = "allowed"
    LICENSED = "licensed"
    NOT_ALLOWED = "not_allowed"
    LICENSED_WITHOUT_GRANT = "licensed_without_grant"
    UNDER_DISPUTE = "under_dispute"
    # The work was registered without its check against other artists' works finishing: its
    # terms would allow, but they take effect only once an operator's check releases it.
    HELD_FOR_REVIEW = "held_for_review"
    # A permission given by a claim less sure than the screening asks for.
    CONSENT_UNVERIFIED = "consent_unverified"
    TERMS_UNKNOWN = "terms unknown"
    NO_CREDIT = "no credit on record"
    RESERVED = "reserved by"
    NO_MATCH = "no registered work matches"
    UNREADABLE = "the image could not be read"
    MALFORMED = "malformed fingerprint"
    WEAK_IMAGE = "the image carries too little information to match reliably"
    # Sent as hashes alone, it needed verifying and its payload did not come in time.
    VERIFICATION_MISSING = "verification payload never came"
    # More candidate works than one item may verify (MatchingConfig.max_verifications): an
    # unverified one might be its work.
    OVER_BUDGET = "the image has more candidate works than one item may verify"
    # Every match was found in a part of the picture: the rest of it is content of unknown
    # consent, so in consent_required the item is decided as unregistered content is.
    INSIDE_LARGER_PICTURE = "a registered work was found inside a larger picture"
    # Every match was weak (MatchingConfig: not a whole-picture near copy, e.g. an overlay
    # inside the picture or a dHash-only candidate): enough to deny, not to grant consent.
    LOOSE_MATCH = "a registered work was found, but not as a close copy of the whole picture"


CONSENT_UNVERIFIED = ReasonCode.CONSENT_UNVERIFIED
# Invalid items' reasons whose text carries their argument after a colon (parse_reasons).
_WITH_DETAIL = (ReasonCode.UNREADABLE, ReasonCode.MALFORMED, ReasonCode.VERIFICATION_MISSING)
# Longest reason text an item stores (ScreeningItem.reason); whole reasons are kept.
MAX_REASON_TEXT = 500
# Ends a stored text that had to leave reasons out.
REASONS_CUT = "…"
_WORK_PREFIX = re.compile(r"^work (\d+): (.*)$", re.DOTALL)
_TRAILING_WORK = re.compile(r"^(.*) for work (\d+)$", re.DOTALL)
_UNVERIFIED = re.compile(rf"^{CONSENT_UNVERIFIED} \((.*)\)$", re.DOTALL)


@dataclass(frozen=True)
class Reason:
    """One reason as data: a code, the matched work it is about, and its argument (the signal
    that reserves, the assurance that fell short, the parser's message). Its text is made only
    when it is shown or stored, and read back by `parse_reasons`."""

    code: str  # a ReasonCode; a stored text may hold a kind the registry no longer writes
    work_id: int | None = None
    detail: str = ""

    @property
    def kind(self) -> str:
        """What reports count: the code, with the argument where reports always showed it."""
        if self.code == ReasonCode.RESERVED:
            return f"{self.code} {self.detail}"
        if self.code == ReasonCode.CONSENT_UNVERIFIED and self.detail:
            return f"{self.code} ({self.detail})"
        return self.code

    def as_dict(self) -> dict[str, Any]:
        """As an item row stores it (ScreeningItem.reasons): the code, then what is set."""
        stored: dict[str, Any] = {"code": str(self.code)}
        if self.work_id is not None:
            stored["work_id"] = self.work_id
        if self.detail:
            stored["detail"] = self.detail
        return stored

    @classmethod
    def from_dict(cls, stored: Mapping[str, Any]) -> "Reason":
        return cls(str(stored["code"]), stored.get("work_id"), str(stored.get("detail", "")))

    def text(self) -> str:
        if self.code in _WITH_DETAIL:
            return f"{self.code}: {self.detail}"
        if self.code == ReasonCode.NO_CREDIT:
            return f"{self.code} for work {self.work_id}"
        return self.kind if self.work_id is None else f"work {self.work_id}: {self.kind}"


def reasons_text(reasons: Iterable[Reason], limit: int | None = None) -> str:
    """The reasons as one text; within `limit`, whole reasons only, then REASONS_CUT."""
    texts = [reason.text() for reason in reasons]
    text = "; ".join(texts)
    if limit is None or len(text) <= limit:
        return text
    kept: list[str] = []
    for part in texts:
        if len("; ".join([*kept, part, REASONS_CUT])) > limit:
            break
        kept.append(part)
    if not kept:  # one reason longer than the limit: its start, cut
        return texts[0][: limit - 1] + REASONS_CUT
    return "; ".join([*kept, REASONS_CUT])


def parse_reasons(decision: str, text: str) -> list[Reason]:
    """A stored reason text back as reasons (rows written before reasons were data)."""
    if decision == Decision.INVALID:
        head, _, detail = text.partition(":")
        return [Reason(head.strip(), detail=detail.strip())]
    reasons = []
    for part in text.split("; "):
        rest, work_id = part.strip(), None
        if match := _WORK_PREFIX.match(rest):
            work_id, rest = int(match[1]), match[2]
        if match := _TRAILING_WORK.match(rest):
            rest, work_id = match[1], int(match[2])
        if rest.startswith(f"{ReasonCode.RESERVED} "):
            reasons.append(
                Reason(ReasonCode.RESERVED, work_id, rest[len(ReasonCode.RESERVED) + 1 :])
            )
        elif match := _UNVERIFIED.match(rest):
            reasons.append(Reason(ReasonCode.CONSENT_UNVERIFIED, work_id, match[1]))
        elif rest and rest != REASONS_CUT:
            reasons.append(Reason(rest, work_id))
    return reasons


def stored_reasons(
    decision: str, text: str, data: Sequence[Mapping[str, Any]] | None = None
) -> list[Reason]:
    """An item row's reasons: its data, or for a row written before reasons were stored as
    data (or by a writer that stores none), its text read back."""
    if data:
        return [Reason.from_dict(stored) for stored in data]
    return parse_reasons(decision, text)


def reason_kinds(
    decision: str, text: str, data: Sequence[Mapping[str, Any]] | None = None
) -> list[str]:
    """The distinct kinds of reason of one item row, in order."""
    kinds: list[str] = []
    for reason in stored_reasons(decision, text, data):
        if reason.kind not in kinds:
            kinds.append(reason.kind)
    return kinds


# A box within the query frame: left, top, right, bottom in thousandths of it.
Box = tuple[int, int, int, int]
# A match found through a region covering less than this share of the query frame leaves the
# rest of the picture unmatched. Regions cut from a screenshot, collage or meme cover at most
# 85% of it (fingerprints.regions.MAX_AREA), so they are always partial; the untrimmed frame
# covers all of it. What 90% leaves out, a strip of at most a tenth, is no more than the
# overlays (a watermark bar, a caption band) a match of the whole picture already tolerates.
WHOLE_PICTURE_SHARE = 0.9


def covers_whole_picture(region: Box | None) -> bool:
    """Whether a match found through `region` (None: the whole query) speaks for the whole
    picture."""
    if region is None:
        return True
    left, top, right, bottom = region
    return (right - left) * (bottom - top) >= WHOLE_PICTURE_SHARE * 1000 * 1000


# The variant a match by a work's listed source URL is recorded under: it names no image.
SOURCE_URL = "source_url"
# The variant of a work assumed in the picture because the budget left it unverified.
UNVERIFIED = "unverified"


@dataclass(frozen=True)
class MatchedWork:
    work_id: int
    variant: str
    distances: Mapping[str, int | float]
    exact: bool = False
    region: Box | None = None  # the query region that found it; None: the whole query
    # A whole-picture near copy (rules.Verdict.strong); exact copies are strong too. Only a
    # strong match may allow an item, any match may deny it.
    strong: bool = False

    @property
    def by_source_url(self) -> bool:
        """Found by the URL alone (a work lists it as its source), not by the image."""
        return self.variant == SOURCE_URL

    @property
    def close(self) -> bool:
        """Whether this match may allow its item: an exact copy of its bytes, or a strong
        match. A source URL is not: the page may serve another picture now, or anyone may
        put any picture at that address."""
        return (self.exact and not self.by_source_url) or self.strong

    def as_dict(self) -> dict[str, Any]:
        algorithm = "phash+verify"
        if self.exact:  # a source-URL match names no image; the others matched its bytes
            algorithm = SOURCE_URL if self.by_source_url else "sha256"
        described = {
            "work_id": self.work_id,
            "variant": self.variant,
            "algorithm": algorithm,
            "distance": 0 if self.exact else self.distances.get("phash"),
            "distances": dict(self.distances),
            # Whether this match could allow the item (a close copy of the whole picture).
            "strong": self.close,
        }
        if self.region is not None:
            # The distances are the region's, not the whole image's: an auditor finds the
            # region again by running fingerprints.regions on the image; the box says where
            # it lies (for a picture put upright, fingerprints.rectify, the box bounds the
            # turned picture, which was warped rather than cut out).
            described["algorithm"] = f"region+{algorithm}"
            described["region"] = list(self.region)
        return described


@dataclass(frozen=True)
class WorkPermit:
    allowed: bool
    reason: str
    license: str
    assurance: str = SELF_ASSERTED
    # Set when this work is the later, less sure claim in an open dispute with that work: it
    # cannot change the decision of an item that matches the earlier work too.
    superseded_by: int | None = None
    # The works whose claims freeze this one in open disputes, each with its claim's
    # assurance: `_counted` weighs them against the work it is superseded by.
    frozen_by: tuple[tuple[int, str], ...] = ()
    # Registered without its check against other artists' works finishing (Work.hold): it
    # allows nothing, and its refusals stand; see `_counted` for when it is left out.
    held: bool = False


@dataclass(frozen=True)
class Credit:
    """What a passing item must carry: who made it, what it is, and on what terms."""

    artist: str
    credit_line: str
    title: str
    work_id: int
    url: str
    license: str
    attribution: str
    assurance: str = SELF_ASSERTED


@dataclass(frozen=True)
class ItemDecision:
    decision: str
    reasons: tuple[Reason, ...]
    matches: list[dict[str, Any]] = field(default_factory=list)
    credit: list[dict[str, Any]] = field(default_factory=list)

    @property
    def work_ids(self) -> list[int]:
        return [match["work_id"] for match in self.matches]

    @property
    def reason(self) -> str:
        """The reasons in words, as the API answers them."""
        return reasons_text(self.reasons)

    @property
    def stored_reason(self) -> str:
        """The reasons in words, within what an item row holds."""
        return reasons_text(self.reasons, MAX_REASON_TEXT)


def invalid(reason: str | Reason) -> ItemDecision:
    """An item that cannot be judged; a text is read as "code: detail"."""
    if isinstance(reason, str):
        (reason,) = parse_reasons(INVALID, reason)
    return ItemDecision(INVALID, (reason,))


def _refusal(work_id: int, permit: WorkPermit | None, min_assurance: str) -> Reason | None:
    """Why a matched work stops the item, or None. A restriction counts at any assurance;
    a permission only at or above the screening's minimum."""
    if permit is None:
        return Reason(ReasonCode.TERMS_UNKNOWN, work_id)
    if not permit.allowed:
        return Reason(permit.reason, work_id)
    if not meets(permit.assurance, min_assurance):
        return Reason(CONSENT_UNVERIFIED, work_id, f"{permit.assurance}, below {min_assurance}")
    return None


def _may_allow(match: MatchedWork, url_check: bool) -> bool:
    """Whether a match may allow: a close one; in a URL check, a source URL too."""
    return match.close or (url_check and match.by_source_url)


def _frozen(permit: WorkPermit) -> bool:
    """Whether an open dispute freezes the work: one that names the claims freezing it, or a
    dispute that does not say it is only superseded (fail closed)."""
    disputed = permit.reason == ReasonCode.UNDER_DISPUTE and permit.superseded_by is None
    return bool(permit.frozen_by) or disputed


def _outranks(earlier: WorkPermit | None, later: WorkPermit) -> bool:
    """Whether the earlier work's claim is surer than the later one's, as the registry knows
    them now. A dispute that freezes nothing was opened by a less sure claim, or by a loose
    one (another work of a template, a sticker put on a picture), which may be surer: only a
    less sure claim is silenced, else an account with any claim registered first could get a
    surer rights holder's later work left out of a close copy of its own."""
    return earlier is not None and rank(earlier.assurance) > rank(later.assurance)


def _frozen_only_behind(permit: WorkPermit, earlier_id: int, earlier: WorkPermit | None) -> bool:
    """Whether every dispute freezing this work (if any) is with a claim the earlier work it is
    superseded by outranks anyway: one registered after that work, at lower assurance. Set
    against the earlier work, such a claim would be the later, less sure one, which freezes
    nothing, so a freeze between two such copies says nothing about the earlier work's
    consent. A claim registered before it, or as sure as it, might be the rights holder's: its
    freeze stands (fail closed), as does everything about an earlier work frozen itself."""
    if not permit.frozen_by:
        return True
    if earlier is None or _frozen(earlier):
        return False
    return all(
        other > earlier_id and rank(level) < rank(earlier.assurance)
        for other, level in permit.frozen_by
    )


def _counted(
    matches: Sequence[MatchedWork], permits: Mapping[int, WorkPermit]
) -> list[MatchedWork]:
    """The matches that take part in the decision: a later, less sure claim is left out when
    the item is a close copy of the earlier work it disputes. A weak match to the earlier work
    does not silence the later one's refusal: too loose to grant that work's consent, it is
    too loose to speak for the picture against another's restriction. It is left out even when
    a dispute with another copy freezes it too, as long as every claim freezing it is later and
    less sure than the earlier work's (`_frozen_only_behind`): else two throwaway accounts, each
    registering a copy of a verified work, would freeze each other and deny the original's
    every screening until staff decide.

    A held work is left out likewise, whatever its terms, when the item is a close copy of it
    and of an earlier, surer work that is not held: a close copy of both means the two are
    near copies of each other, so a finished check would have made the held work's claim the
    later, less sure one of a dispute that freezes nothing. So a copy registered by an
    unverified account behind a padded registry cannot deny the surer original's items, with
    its hold or with its own refusing terms. A held work matched only weakly or in a part of
    the picture, or assumed in it because the budget left it unverified, is not left out (a
    finished check might have found no claim on the earlier work at all): its refusals stand,
    unless its dispute leaves it out as above. Nor is one frozen by a dispute it has already,
    which a finished check would have left frozen too (selectors.consent.disputed_works)."""
    # Only the image decides who is left out: a listed source URL is free text any artist may
    # add to an old work, so in a URL check it must not silence another work's refusal.
    closely_matched = {match.work_id for match in matches if match.close}
    surer_earlier = [
        (work_id, permit.assurance)
        for work_id in closely_matched
        if (permit := permits.get(work_id)) is not None and not permit.held
    ]

    def left_out(work_id: int, permit: WorkPermit) -> bool:
        original = permit.superseded_by
        if original is not None and original in closely_matched:
            earlier = permits.get(original)
            if _outranks(earlier, permit) and _frozen_only_behind(permit, original, earlier):
                return True
        return (
            permit.held
            and not _frozen(permit)
            and work_id in closely_matched
            and any(
                other < work_id and rank(level) > rank(permit.assurance)
                for other, level in surer_earlier
            )
        )

    return [
        match
        for match in matches
        if (permit := permits.get(match.work_id)) is None or not left_out(match.work_id, permit)
    ]


def decide(
    matches: Sequence[MatchedWork],
    permits: Mapping[int, WorkPermit],
    credits: Mapping[int, Credit],
    *,
    reservations: Sequence[str] = (),
    min_assurance: str = VERIFIED,
    mode: str = Mode.CONSENT_REQUIRED,
    unverified: Collection[int] = (),
    url_check: bool = False,
) -> ItemDecision:
    """The rules *matched works decide* and *embedded reservations*: unregistered, denied by
    any match or embedded reservation, else allowed. Only a close copy of the whole picture
    (an exact or strong match) allows it; with weak matches only, it is decided as
    unregistered content, credited where that passes. A match by a work's source URL may
    deny but never allows an image: only `url_check` (POST /api/v1/urls/check, which
    answers for a URL before anything is downloaded, not for an image) lets it allow.
    Fail closed: `unverified` are candidate works the verification budget did not reach; an
    item that would pass while one of them does not allow the purpose is `invalid`."""
    decision = _decide_on_matches(
        matches,
        permits,
        credits,
        reservations=reservations,
        min_assurance=min_assurance,
        mode=mode,
        url_check=url_check,
    )
    if unverified and passes(decision.decision, mode):
        # Were each work the budget did not reach in the picture too (weakly: it was never
        # compared, so it could not allow), would the item still pass? Not only a refusing
        # permit says no: a work allowed on too little assurance, or without its credit, denies.
        matched = {match.work_id for match in matches}
        assumed = [
            MatchedWork(work_id, UNVERIFIED, {}) for work_id in unverified if work_id not in matched
        ]
        worst = _decide_on_matches(
            [*matches, *assumed],
            permits,
            credits,
            reservations=reservations,
            min_assurance=min_assurance,
            mode=mode,
            url_check=url_check,
        )
        if not passes(worst.decision, mode):
            return invalid(Reason(ReasonCode.OVER_BUDGET))
    return decision


def _weak_reason(match: MatchedWork) -> Reason:
    """Why a weak match did not allow its item: found in a part of it, or not close enough."""
    if covers_whole_picture(match.region):
        return Reason(ReasonCode.LOOSE_MATCH, match.work_id)
    return Reason(ReasonCode.INSIDE_LARGER_PICTURE, match.work_id)


def _decide_on_matches(
    matches: Sequence[MatchedWork],
    permits: Mapping[int, WorkPermit],
    credits: Mapping[int, Credit],
    *,
    reservations: Sequence[str],
    min_assurance: str,
    mode: str,
    url_check: bool,
) -> ItemDecision:
    described = [match.as_dict() for match in matches]
    counted = _counted(matches, permits)
    refusals = [Reason(ReasonCode.RESERVED, detail=signal) for signal in reservations]
    for match in counted:
        why = _refusal(match.work_id, permits.get(match.work_id), min_assurance)
        if why is not None:
            refusals.append(why)
    if refusals:
        return ItemDecision(DENIED, tuple(refusals), described)
    if not counted:
        return ItemDecision(UNREGISTERED, (Reason(ReasonCode.NO_MATCH),), described)
    missing = [match.work_id for match in counted if match.work_id not in credits]
    if missing:  # an allowed item must carry its credit; without one it cannot pass
        return ItemDecision(DENIED, (Reason(ReasonCode.NO_CREDIT, missing[0]),), described)
    credited = [asdict(credits[match.work_id]) for match in counted]
    if not any(_may_allow(match, url_check) for match in counted):
        # Decided as unregistered content: it passes only where that does, credited there.
        passing = passes(UNREGISTERED, mode)
        reasons = tuple(map(_weak_reason, counted))
        return ItemDecision(UNREGISTERED, reasons, described, credited if passing else [])
    return ItemDecision(
        ALLOWED,
        tuple(Reason(permits[m.work_id].reason, m.work_id) for m in counted),
        described,
        credited,
    )


def weakest_assurance(decision: ItemDecision) -> str | None:
    """The least assurance among the permissions an allowed item used (receipts count these)."""
    levels = [credit.get("assurance", SELF_ASSERTED) for credit in decision.credit]
    if decision.decision != ALLOWED or not levels:
        return None
    return min(levels, key=rank)


def passing_decisions(mode: str) -> tuple[Decision, ...]:
    """The rule *what passes*: the decisions a screening in this mode lets through. An unknown
    mode lets through what the strictest does (fail closed)."""
    return _PASSING.get(mode, _PASSING[Mode.CONSENT_REQUIRED])


def passes(decision: str, mode: str) -> bool:
    """The rule *what passes*: whether a screening in this mode lets this decision through."""
    return decision in passing_decisions(mode)

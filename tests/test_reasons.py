"""Reasons as data: the gatekeeper writes codes with their arguments, words are made at the
edge, and texts stored before read back as the same reasons."""

import pytest
from django.utils import translation

from registry.exports.labels import reason_label
from registry.gatekeeper import (
    MAX_REASON_TEXT,
    REASONS_CUT,
    SOURCE_URL,
    Credit,
    MatchedWork,
    Reason,
    ReasonCode,
    WorkPermit,
    decide,
    invalid,
    parse_reasons,
    reason_kinds,
)
from registry.selectors.decisions import WEAK_IMAGE


def matched(*work_ids, strong=True):
    return [MatchedWork(work_id, "original", {"phash": 0}, strong=strong) for work_id in work_ids]


def credit(work_id):
    return Credit("Alice", "Alice", f"Work {work_id}", work_id, "", "CC-BY-4.0", "")


@pytest.mark.parametrize(
    ("decision", "text", "kinds"),
    [
        ("allowed", "work 1: allowed; work 3: licensed", ["allowed", "licensed"]),
        ("denied", "work 2: not_allowed; work 4: not_allowed", ["not_allowed"]),
        (
            "denied",
            'reserved by http:X-Robots-Tag "noai"',
            ['reserved by http:X-Robots-Tag "noai"'],
        ),
        (
            "denied",
            "work 7: consent_unverified (self_asserted, below verified)",
            ["consent_unverified (self_asserted, below verified)"],
        ),
        ("denied", "no credit on record for work 5", ["no credit on record"]),
        ("denied", "work 9: terms unknown", ["terms unknown"]),
        ("unregistered", "no registered work matches", ["no registered work matches"]),
        ("invalid", "malformed fingerprint: phash: not hex", ["malformed fingerprint"]),
        ("invalid", WEAK_IMAGE, [WEAK_IMAGE]),
    ],
)
def test_a_stored_text_reads_back_as_reasons_that_write_the_same_text(decision, text, kinds):
    reasons = parse_reasons(decision, text)
    assert "; ".join(reason.text() for reason in reasons) == text
    assert reason_kinds(decision, text) == kinds


def test_the_gatekeeper_gives_codes_with_their_work_and_argument():
    permits = {
        1: WorkPermit(True, "allowed", "CC-BY-4.0", "self_asserted"),
        2: WorkPermit(False, "not_allowed", ""),
    }
    decision = decide(matched(1, 2), permits, {1: credit(1)}, reservations=["iptc:x"])

    assert decision.decision == "denied"
    assert decision.reasons == (
        Reason(ReasonCode.RESERVED, detail="iptc:x"),
        Reason(ReasonCode.CONSENT_UNVERIFIED, 1, "self_asserted, below verified"),
        Reason(ReasonCode.NOT_ALLOWED, 2),
    )
    assert decision.reason == (
        "reserved by iptc:x; work 1: consent_unverified (self_asserted, below verified); "
        "work 2: not_allowed"
    )


def test_a_long_reason_is_stored_whole_reasons_first_and_no_fragment_is_counted():
    signals = [f'xmp:plus:DataMining "{"x" * 60}" ({n})' for n in range(20)]
    decision = decide(matched(), {}, {}, reservations=signals)

    stored = decision.stored_reason
    assert len(decision.reason) > MAX_REASON_TEXT >= len(stored)
    assert stored.endswith("; " + REASONS_CUT)
    kinds = reason_kinds("denied", stored)
    assert kinds and all(kind in [f"reserved by {s}" for s in signals] for kind in kinds)


def test_an_invalid_item_keeps_its_code_and_the_parsers_message():
    decision = invalid("malformed fingerprint: pdq: wrong length")
    assert decision.reasons == (Reason(ReasonCode.MALFORMED, detail="pdq: wrong length"),)
    assert decision.reason == "malformed fingerprint: pdq: wrong length"


def test_reason_words_come_in_both_languages():
    kind = "consent_unverified (self_asserted, below verified)"
    with translation.override("en"):
        assert reason_label(kind) == (
            "allowed only by a claim less sure than the screening accepts "
            "(self_asserted, below verified)"
        )
        assert reason_label(ReasonCode.NOT_ALLOWED) == "not allowed by the artist"
    with translation.override("zh-hans"):
        assert reason_label(kind).startswith("仅由核验级别低于本次筛查要求的权利声明许可")
        assert reason_label(ReasonCode.NOT_ALLOWED) != "not allowed by the artist"


def test_a_report_counts_every_reason_of_a_row_whose_text_was_cut():
    from registry.exports.reasons import count_reasons

    signals = [f'xmp:plus:DataMining "{"x" * 60}" ({n})' for n in range(20)]
    decision = decide(matched(), {}, {}, reservations=signals)
    data = [reason.as_dict() for reason in decision.reasons]

    counts = count_reasons([("denied", decision.stored_reason, data, 1)])
    assert len(counts) == 20 and set(counts.values()) == {1}
    # Without the data, only the reasons the text kept are counted; never a fragment.
    assert 0 < len(count_reasons([("denied", decision.stored_reason, None, 1)])) < 20


ALLOWING = WorkPermit(True, "allowed", "CC-BY-4.0", "operator_verified")
ALLOWING_SITE_VERIFIED = WorkPermit(True, "allowed", "CC-BY-4.0", "site_verified")


def test_a_weak_match_to_an_allowing_work_does_not_grant_consent():
    """A loose match (an overlay inside the picture, a candidate found by dHash only) may be
    another work of the same template: it names the work but does not let the item through."""
    decision = decide(matched(1, strong=False), {1: ALLOWING}, {1: credit(1)})

    assert decision.decision == "unregistered"
    assert decision.reasons == (Reason(ReasonCode.LOOSE_MATCH, 1),)
    assert [match["work_id"] for match in decision.matches] == [1]


def test_a_weak_match_beside_a_strong_one_allows_and_credits_both():
    weak, strong = matched(1, strong=False), matched(2)
    permits = {1: ALLOWING, 2: ALLOWING}

    decision = decide([*weak, *strong], permits, {1: credit(1), 2: credit(2)})

    assert decision.decision == "allowed"
    assert [entry["work_id"] for entry in decision.credit] == [1, 2]


def test_a_weak_match_to_a_refusing_work_denies():
    refusing = WorkPermit(False, "not_allowed", "")

    decision = decide(matched(1, strong=False), {1: refusing}, {})

    assert decision.decision == "denied"


def test_respecting_opt_outs_a_weak_match_passes_as_unregistered_content_credited():
    """It passes there as unregistered content would, credited, without being called consent;
    where unregistered content does not pass it carries no credit."""
    weak = matched(1, strong=False)

    passing = decide(weak, {1: ALLOWING}, {1: credit(1)}, mode="respect_opt_outs")
    held = decide(weak, {1: ALLOWING}, {1: credit(1)}, mode="consent_required")

    assert passing.decision == held.decision == "unregistered"
    assert [entry["work_id"] for entry in passing.credit] == [1]
    assert held.credit == []
    assert [match["strong"] for match in passing.matches] == [False]


@pytest.mark.parametrize("mode", ["consent_required", "respect_opt_outs"])
def test_a_weak_match_to_an_earlier_work_does_not_silence_a_later_works_refusal(mode):
    """Work 2 is the later, less sure claim disputing work 1: a close copy of work 1 leaves it
    out, but a picture that only loosely resembles work 1 is still refused by work 2."""
    disputed = WorkPermit(False, "under_dispute", "", "self_asserted", superseded_by=1)
    permits = {1: ALLOWING, 2: disputed}
    credits = {1: credit(1)}

    loose = decide([*matched(1, strong=False), *matched(2)], permits, credits, mode=mode)
    close = decide(matched(1, 2), permits, credits, mode=mode)

    assert loose.decision == "denied"
    assert close.decision == "allowed"


def _copy(original, *frozen_by, assurance="self_asserted"):
    """A later, less sure claim on `original`, frozen too by disputes with `frozen_by` (work
    id, assurance): as selectors.consent.permits_for reads an open dispute."""
    return WorkPermit(
        False, "under_dispute", "", assurance, superseded_by=original, frozen_by=frozen_by
    )


def test_two_unverified_copies_frozen_by_each_other_do_not_deny_the_verified_originals_items():
    """alice's verified work 1; two unverified accounts each register a copy (2, 3): each is
    the later, less sure claim on work 1, and their dispute with each other freezes both. A
    close copy of work 1 is allowed on alice's terms, credited to her alone, whichever of the
    copies it matches too; the copies are listed, and left out."""
    permits = {
        1: ALLOWING,
        2: _copy(1, (3, "self_asserted")),
        3: _copy(1, (2, "self_asserted")),
    }
    credits = {1: credit(1)}

    both = decide(matched(1, 2, 3), permits, credits)
    one = decide(matched(1, 3), permits, credits)

    assert both.decision == one.decision == "allowed"
    assert [c["work_id"] for c in both.credit] == [c["work_id"] for c in one.credit] == [1]
    assert both.work_ids == [1, 2, 3]


def test_frozen_copies_still_deny_a_picture_the_original_does_not_closely_match():
    """Left out only beside a close copy of the original: matched alone, or beside a weak
    match of it, the frozen copies deny as before."""
    permits = {1: ALLOWING, 2: _copy(1, (3, "self_asserted")), 3: _copy(1, (2, "self_asserted"))}

    alone = decide(matched(2, 3), permits, {1: credit(1)})
    loose = decide([*matched(1, strong=False), *matched(2, 3)], permits, {1: credit(1)})

    assert (alone.decision, alone.reason) == (
        "denied",
        "work 2: under_dispute; work 3: under_dispute",
    )
    assert loose.decision == "denied"


def test_a_copy_frozen_by_a_claim_that_might_be_the_rights_holders_still_denies():
    """The freeze is set aside only when every claim freezing the copy is later and less sure
    than the original's. One registered before the original (work 0), or as sure as it (a
    verified one), or a surer one, keeps the copy frozen and the item denied; so does an
    original frozen itself. Nothing an unverified account registers gets the original out."""
    credits = {1: credit(1)}

    def screened(copy, original=ALLOWING):
        return decide(matched(1, 2), {1: original, 2: copy}, credits)

    earlier = screened(_copy(1, (0, "self_asserted")))
    as_sure = screened(_copy(1, (3, "operator_verified")))
    surer = screened(_copy(1, (3, "operator_verified")), ALLOWING_SITE_VERIFIED)
    frozen_original = WorkPermit(
        False, "under_dispute", "", "operator_verified", frozen_by=((3, "self_asserted"),)
    )
    original_frozen = screened(_copy(1, (3, "self_asserted")), frozen_original)

    for decision in (earlier, as_sure, surer):
        assert (decision.decision, decision.reason) == ("denied", "work 2: under_dispute")
    assert original_frozen.decision == "denied"
    assert original_frozen.reason == "work 1: under_dispute; work 2: under_dispute"


def test_an_attackers_earlier_copy_does_not_get_a_surer_later_work_left_out():
    """Turned around: mallory registers a loose copy of alice's picture (1: a sticker inside
    it) from a site she verified, and an exact copy (2, unverified), before alice registers
    hers (3, operator verified). alice's loose claim on work 1 opens a dispute that freezes
    nothing, her close one on work 2 freezes both. A close copy of mallory's loose copy is
    still denied by alice's work, frozen or not: work 1's claim is not surer than hers."""
    mallorys = WorkPermit(True, "allowed", "CC-BY-4.0", "site_verified")
    exact = WorkPermit(False, "under_dispute", "", frozen_by=((3, "operator_verified"),))
    alices = _copy(1, assurance="operator_verified")
    alices_frozen = _copy(1, (2, "self_asserted"), assurance="operator_verified")
    items = [*matched(1), *matched(3, strong=False)]
    credits = {1: credit(1)}

    frozen = decide(items, {1: mallorys, 2: exact, 3: alices_frozen}, credits)
    loose_only = decide(items, {1: mallorys, 3: alices}, credits)

    assert (frozen.decision, frozen.reason) == ("denied", "work 3: under_dispute")
    assert (loose_only.decision, loose_only.reason) == ("denied", "work 3: under_dispute")


def test_the_loose_match_reason_reads_in_words_and_in_chinese():
    assert reason_label(ReasonCode.LOOSE_MATCH).startswith("resembles a registered work")
    with translation.override("zh-hans"):
        assert reason_label(ReasonCode.LOOSE_MATCH).startswith("与已登记作品相似")


def _held(assurance, reason="held_for_review"):
    return WorkPermit(False, reason, "", assurance, held=True)


def test_a_held_work_denies_alone_and_beside_an_earlier_work_no_surer_than_it():
    """A held work allows nothing: alone it denies, with its hold as the reason; beside a
    close copy of an earlier work at the same assurance it denies too (had its check
    finished, that claim would have frozen both)."""
    verified = WorkPermit(True, "allowed", "CC-BY-4.0", "operator_verified")
    alone = decide(matched(2), {2: _held("operator_verified")}, {})
    beside_equal = decide(
        matched(1, 2), {1: verified, 2: _held("operator_verified")}, {1: credit(1)}
    )

    assert (alone.decision, alone.reason) == ("denied", "work 2: held_for_review")
    assert (beside_equal.decision, beside_equal.reason) == ("denied", "work 2: held_for_review")


def test_a_held_less_sure_work_is_left_out_only_beside_a_close_copy_of_an_earlier_surer_one():
    """The later, less sure held claim is left out of a close copy of the earlier, surer work,
    as a superseded claim is, whatever its own terms: an attacker's held copy at the default
    terms (not allowed) cannot deny the verified original's screenings. Not when that work is
    later than it, only loosely matched, or held itself."""
    surer = WorkPermit(True, "allowed", "CC-BY-4.0", "operator_verified")
    less_sure = _held("self_asserted")
    credits = {1: credit(1), 3: credit(3)}

    left_out = decide(matched(1, 2), {1: surer, 2: less_sure}, credits)
    later = decide(matched(2, 3), {3: surer, 2: less_sure}, credits)
    loose = decide([*matched(1, strong=False), *matched(2)], {1: surer, 2: less_sure}, credits)
    both_held = decide(matched(1, 2), {1: _held("operator_verified"), 2: less_sure}, credits)
    refusing = decide(matched(1, 2), {1: surer, 2: _held("self_asserted", "not_allowed")}, credits)

    assert left_out.decision == "allowed" and [c["work_id"] for c in left_out.credit] == [1]
    assert (later.decision, later.reason) == ("denied", "work 2: held_for_review")
    assert loose.decision == "denied"
    assert both_held.decision == "denied"
    assert refusing.decision == "allowed" and [c["work_id"] for c in refusing.credit] == [1]


def _in_a_part(work_id):
    """Found only through a region of the item: a weak match."""
    return MatchedWork(work_id, "original", {"phash": 9}, region=(0, 0, 300, 1000))


def test_a_held_work_matched_weakly_or_left_unverified_keeps_its_refusals():
    """The item is a close copy of an earlier, surer work (1) with a held work (2) found only
    in a part of it, or assumed in it by the budget: nothing says the two works are copies of
    each other, so the held one is not left out. It denies as it would released (an
    unverified claim, below the screening's minimum) and more (its hold): a hold never lets
    through what the released work would stop."""
    surer = WorkPermit(True, "allowed", "CC-BY-4.0", "operator_verified")
    released = WorkPermit(True, "allowed", "CC-BY-4.0", "self_asserted")
    both = [*matched(1), _in_a_part(2)]
    credits = {1: credit(1), 2: credit(2)}

    as_released = decide(both, {1: surer, 2: released}, credits)
    while_held = decide(both, {1: surer, 2: _held("self_asserted")}, credits)
    refusing = decide(both, {1: surer, 2: _held("self_asserted", "not_allowed")}, credits)
    unverified = decide(matched(1), {1: surer, 2: _held("self_asserted")}, credits, unverified=[2])

    assert as_released.decision == "denied"
    assert as_released.reason == "work 2: consent_unverified (self_asserted, below verified)"
    assert (while_held.decision, while_held.reason) == ("denied", "work 2: held_for_review")
    assert (refusing.decision, refusing.reason) == ("denied", "work 2: not_allowed")
    assert (unverified.decision, unverified.reason) == ("invalid", ReasonCode.OVER_BUDGET)


def test_a_held_work_is_left_out_of_a_part_only_where_its_dispute_leaves_it_out():
    """The dispute rule still applies to a held work: superseded by the earlier work the item
    closely copies, it is left out even where it is matched only in a part. Frozen by a
    dispute of its own, it denies even beside a close copy of an earlier, surer work."""
    surer = WorkPermit(True, "allowed", "CC-BY-4.0", "operator_verified")
    superseded = WorkPermit(False, "under_dispute", "", "self_asserted", superseded_by=1, held=True)
    frozen = _held("self_asserted", "under_dispute")
    credits = {1: credit(1)}

    in_a_part = decide([*matched(1), _in_a_part(2)], {1: surer, 2: superseded}, credits)
    close_but_frozen = decide(matched(1, 2), {1: surer, 2: frozen}, credits)

    assert in_a_part.decision == "allowed" and [c["work_id"] for c in in_a_part.credit] == [1]
    assert (close_but_frozen.decision, close_but_frozen.reason) == (
        "denied",
        "work 2: under_dispute",
    )


def test_the_held_reason_reads_in_words_and_in_chinese():
    assert reason_label(ReasonCode.HELD_FOR_REVIEW).startswith("the matched work is held")
    with translation.override("zh-hans"):
        assert "运营人员" in reason_label(ReasonCode.HELD_FOR_REVIEW)


def test_in_a_url_check_a_listed_url_does_not_leave_a_refusing_held_work_out():
    """Both works list the checked URL. Listing it is free text any artist may add to an old
    work, so it must not silence the held work's refusal the way a close image match to an
    earlier, surer work would."""
    matches = [MatchedWork(work_id, SOURCE_URL, {}, exact=True) for work_id in (1, 2)]
    permits = {
        1: WorkPermit(True, "allowed", "CC-BY-4.0", assurance="operator_verified"),
        2: WorkPermit(False, "not_allowed", "", held=True),
    }

    decided = decide(matches, permits, {1: credit(1), 2: credit(2)}, url_check=True)

    assert decided.decision == "denied"
    assert [reason.work_id for reason in decided.reasons] == [2]

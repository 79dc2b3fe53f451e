"""An item's candidates the verification budget did not reach: the item passes only if it
would pass with each of them in the picture too (fail closed)."""

import pytest

from registry.assurance import OPERATOR_VERIFIED, SELF_ASSERTED, VERIFIED
from registry.gatekeeper import Credit, MatchedWork, ReasonCode, WorkPermit, decide


def _credit(work_id: int) -> Credit:
    return Credit("Alice", "Alice", f"Work {work_id}", work_id, "", "CC-BY-4.0", "", VERIFIED)


def _allowed(assurance: str = OPERATOR_VERIFIED) -> WorkPermit:
    return WorkPermit(allowed=True, reason="allowed", license="CC-BY-4.0", assurance=assurance)


# Work 1 is the verified, strong match of the picture; work 2 a candidate left unverified.
COPY = [MatchedWork(1, "original", {"phash": 0}, strong=True)]


@pytest.mark.parametrize("mode", ["consent_required", "respect_opt_outs"])
@pytest.mark.parametrize(
    ("permit_2", "credited_2"),
    [
        (WorkPermit(allowed=False, reason="not_allowed", license=""), True),
        (_allowed(SELF_ASSERTED), True),  # allowed, but below the screening's assurance
        (_allowed(), False),  # allowed, but no credit on record to pass with
        (None, False),  # no terms known
    ],
    ids=["refused", "unverified_consent", "no_credit", "no_terms"],
)
def test_an_unverified_candidate_that_would_stop_the_item_makes_it_invalid(
    mode, permit_2, credited_2
):
    permits = {1: _allowed(), **({2: permit_2} if permit_2 else {})}
    credits = {1: _credit(1), **({2: _credit(2)} if credited_2 else {})}

    verified_only = decide(COPY, permits, credits, mode=mode)
    budget_short = decide(COPY, permits, credits, mode=mode, unverified=[2])

    assert verified_only.decision == "allowed"
    assert budget_short.decision == "invalid"
    assert budget_short.reasons[0].code == ReasonCode.OVER_BUDGET


def test_an_unverified_candidate_that_would_not_stop_the_item_leaves_it_allowed():
    permits = {1: _allowed(), 2: _allowed()}
    credits = {1: _credit(1), 2: _credit(2)}

    decided = decide(COPY, permits, credits, unverified=[2])

    assert decided.decision == "allowed"
    assert decided.work_ids == [1]  # the assumed candidate is not reported as a match

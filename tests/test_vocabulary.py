"""One owner per term: the gatekeeper's enums hold the values, everything else derives them."""

import pytest

from registry import gatekeeper
from registry.gatekeeper import Decision, Mode, passes, passing_decisions
from registry.models import Decision as DecisionChoices
from registry.models import Purpose, ScreeningMode
from registry.optout.purposes import PURPOSES


@pytest.mark.parametrize(
    ("choices", "owner"),
    [(Purpose, gatekeeper.Purpose), (DecisionChoices, Decision), (ScreeningMode, Mode)],
)
def test_djangos_choices_are_the_gatekeepers_terms_in_its_order(choices, owner):
    assert choices.values == [member.value for member in owner]
    assert choices.names == [member.name for member in owner]


def test_the_opt_out_readers_know_the_same_purposes():
    assert list(PURPOSES) == list(Purpose.values)


def test_stored_values_are_unchanged():
    # Rows, receipts and exports already hold these strings; renaming one breaks them all.
    assert list(Decision) == ["allowed", "denied", "unregistered", "invalid"]
    assert list(Mode) == ["consent_required", "respect_opt_outs"]
    assert list(gatekeeper.Purpose) == [
        "ai_training",
        "ai_generative_training",
        "data_mining",
        "ai_inference",
    ]


@pytest.mark.parametrize(
    ("mode", "passing"),
    [
        ("consent_required", {"allowed"}),
        ("respect_opt_outs", {"allowed", "unregistered"}),
        ("no_such_mode", {"allowed"}),  # fail closed: as strict as consent_required
    ],
)
def test_what_passes_in_each_mode(mode, passing):
    assert set(passing_decisions(mode)) == passing
    assert {decision for decision in Decision if passes(decision, mode)} == passing


def test_the_weak_image_reason_is_the_gatekeepers_code():
    from registry.gatekeeper import ReasonCode
    from registry.selectors.decisions import WEAK_IMAGE

    assert WEAK_IMAGE == ReasonCode.WEAK_IMAGE

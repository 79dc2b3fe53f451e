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


def _invalid_codes() -> list[str]:
    """The reason code of every `invalid(...)` call in the registry's code: a ReasonCode
    member, a Reason made of one, a name bound to either, or a text "code: detail"."""
    import ast
    from pathlib import Path

    from registry.gatekeeper import Reason, ReasonCode
    from registry.selectors import decisions

    codes = []
    for path in Path(decisions.__file__).parents[1].rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "invalid"):
                continue
            (argument,) = node.args
            if isinstance(argument, ast.Call):  # Reason(ReasonCode.X, ...)
                argument = argument.args[0]
            if isinstance(argument, ast.Attribute):  # ReasonCode.X
                codes.append(str(ReasonCode[argument.attr]))
            elif isinstance(argument, ast.Name):  # a constant of the module
                value = getattr(decisions, argument.id)
                codes.append(str(value.code if isinstance(value, Reason) else value))
            elif isinstance(argument, ast.JoinedStr):  # f"{ReasonCode.X}: {detail}"
                head = argument.values[0]
                assert isinstance(head, ast.FormattedValue), ast.unparse(argument)
                assert isinstance(head.value, ast.Attribute), ast.unparse(argument)
                codes.append(str(ReasonCode[head.value.attr]))
            else:
                raise AssertionError(f"{path}: invalid({ast.unparse(argument)}) names no code")
    return codes


def test_every_invalid_reason_is_a_reason_code_with_a_label():
    from registry.exports.labels import REASON_LABELS
    from registry.gatekeeper import ReasonCode

    codes = _invalid_codes()

    assert ReasonCode.VERIFICATION_MISSING in codes and len(codes) >= 4
    assert all(code in set(ReasonCode) for code in codes), codes
    assert all(code in REASON_LABELS for code in codes), codes


def test_the_missing_payload_reason_reads_in_chinese():
    from django.utils import translation

    from registry.exports.labels import reason_label
    from registry.gatekeeper import ReasonCode

    with translation.override("zh-hans"):
        label = reason_label(ReasonCode.VERIFICATION_MISSING)

    assert label.startswith("仅以哈希发送") and label.endswith("其验证数据未按时送达")

"""Words a reader understands for the codes the exports carry (decision, purpose, mode,
reason kind), in the active language. The machine-readable exports keep the codes."""

from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from registry.gatekeeper import ReasonCode
from registry.models import Decision, Purpose, ScreeningMode, ScreeningStatus

_RESERVED_BY = f"{ReasonCode.RESERVED} "
_UNVERIFIED = f"{ReasonCode.CONSENT_UNVERIFIED} ("

# The gatekeeper's reason codes in words; its reason kinds are these codes, two with arguments.
REASON_LABELS: dict[str, Promise] = {
    ReasonCode.ALLOWED: _("allowed by the artist's terms"),
    ReasonCode.LICENSED: _("licensed to this organization by a grant"),
    ReasonCode.NOT_ALLOWED: _("not allowed by the artist"),
    ReasonCode.LICENSED_WITHOUT_GRANT: _(
        "licensed organizations only, and this one holds no grant"
    ),
    ReasonCode.UNDER_DISPUTE: _("the matched work is under dispute"),
    ReasonCode.HELD_FOR_REVIEW: _(
        "the matched work is held until an operator checks it against other artists' works"
    ),
    ReasonCode.TERMS_UNKNOWN: _("no terms on record for the matched work"),
    ReasonCode.NO_CREDIT: _("no credit on record for the matched work"),
    ReasonCode.NO_MATCH: _("no registered work matches"),
    ReasonCode.MALFORMED: _("malformed fingerprint"),
    ReasonCode.UNREADABLE: _("the image could not be read"),
    ReasonCode.WEAK_IMAGE: _("too little image information to match reliably"),
    ReasonCode.VERIFICATION_MISSING: _(
        "sent as hashes alone, its verification payload did not come in time"
    ),
    ReasonCode.OVER_BUDGET: _("more candidate works than one item may verify"),
    ReasonCode.INSIDE_LARGER_PICTURE: _(
        "a registered work fills only part of the picture; the rest is unregistered"
    ),
    ReasonCode.LOOSE_MATCH: _(
        "resembles a registered work, but not closely enough for its consent to count"
    ),
}

MODE_LABELS: dict[str, Promise] = {
    ScreeningMode.CONSENT_REQUIRED: _("Consent required"),
    ScreeningMode.RESPECT_OPT_OUTS: _("Respect opt-outs"),
}


def decision_label(code: str) -> str:
    return _label(Decision, code)


def purpose_label(code: str) -> str:
    return _label(Purpose, code)


def status_label(code: str) -> str:
    return _label(ScreeningStatus, code)


def mode_label(code: str) -> str:
    return str(MODE_LABELS.get(code, code))


def reason_label(kind: str) -> str:
    """A reason kind in words; one the registry does not know yet stays as its code."""
    if kind.startswith(_RESERVED_BY):
        return gettext("reserved by an embedded signal (%(signal)s)") % {
            "signal": kind[len(_RESERVED_BY) :]
        }
    if kind.startswith(_UNVERIFIED) and kind.endswith(")"):
        return gettext(
            "allowed only by a claim less sure than the screening accepts (%(assurance)s)"
        ) % {"assurance": kind[len(_UNVERIFIED) : -1]}
    return str(REASON_LABELS.get(kind, kind))


def _label(choices: type[Decision | Purpose | ScreeningStatus], code: str) -> str:
    try:
        return str(choices(code).label)
    except ValueError:
        return code

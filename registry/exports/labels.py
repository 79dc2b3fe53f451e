"""Words a reader understands for the codes the exports carry (decision, purpose, mode,
reason kind), in the active language. The machine-readable exports keep the codes."""

from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from registry.models import Decision, Purpose, ScreeningMode, ScreeningStatus
from registry.selectors.decisions import WEAK_IMAGE

_RESERVED_BY = "reserved by "

# The reason kinds that registry.exports.reasons reduces the gatekeeper's reason texts to.
REASON_LABELS: dict[str, Promise] = {
    "allowed": _("allowed by the artist's terms"),
    "licensed": _("licensed to this organization by a grant"),
    "not_allowed": _("not allowed by the artist"),
    "licensed_without_grant": _("licensed organizations only, and this one holds no grant"),
    "under_dispute": _("the matched work is under dispute"),
    "terms unknown": _("no terms on record for the matched work"),
    "no credit on record": _("no credit on record for the matched work"),
    "no registered work matches": _("no registered work matches"),
    "malformed fingerprint": _("malformed fingerprint"),
    "the image could not be read": _("the image could not be read"),
    WEAK_IMAGE: _("too little image information to match reliably"),
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
    return str(REASON_LABELS.get(kind, kind))


def _label(choices: type[Decision | Purpose | ScreeningStatus], code: str) -> str:
    try:
        return str(choices(code).label)
    except ValueError:
        return code

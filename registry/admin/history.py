"""Consent ledger events in words an artist reads: what changed, and what it was before."""

from collections.abc import Iterable, Mapping
from typing import Any

from django.utils.translation import gettext as _

from registry.admin.display import PERMISSION_SHORT, purpose_label, purposes_label
from registry.models import (
    ConsentEvent,
    ConsentEventKind,
    DisputeResolution,
    Organization,
    Permission,
)


def _terms_words(terms: dict[str, Any] | None) -> str:
    if not terms:
        return _("nothing set")
    permission = terms.get("permission", "")
    words = (
        str(PERMISSION_SHORT[Permission(permission)])
        if permission in Permission.values
        else permission
    )
    if terms.get("license"):
        words += f" ({terms['license']})"
    return words


def _terms_change(payload: dict[str, Any]) -> dict[str, str]:
    return {
        "purpose": purpose_label(payload.get("purpose", "")),
        "terms": _terms_words(payload),
        "previous": _terms_words(payload.get("previous")),
    }


def _resolution(payload: dict[str, Any]) -> str:
    value = payload.get("resolution", "")
    return str(DisputeResolution(value).label) if value in DisputeResolution.values else value


# Payload fields that name the other party of a dispute: shown to operators only.
OTHER_PARTY_FIELDS = frozenset({"existing_work_id"})


def payload_for(event: ConsentEvent, *, operator: bool) -> dict[str, Any]:
    """The event's payload as the reader may see it: an artist never sees the other work of
    a dispute, though the event is about their own work."""
    payload: dict[str, Any] = dict(event.payload or {})
    if operator:
        return payload
    return {key: value for key, value in payload.items() if key not in OTHER_PARTY_FIELDS}


def organization_names(events: Iterable[ConsentEvent]) -> dict[int, str]:
    """The names of the organizations that grant events on one page name by id: one query."""
    ids = {
        event.payload.get("organization_id")
        for event in events
        if event.kind in {ConsentEventKind.GRANT_CREATED, ConsentEventKind.GRANT_REVOKED}
    }
    return dict(Organization.objects.filter(pk__in=ids - {None}).values_list("pk", "name"))


def event_summary(event: ConsentEvent, organizations: Mapping[int, str] | None = None) -> str:
    payload: dict[str, Any] = event.payload or {}
    organization_id = payload.get("organization_id")
    organization = (organizations or {}).get(organization_id or 0) or organization_id
    kind = event.kind
    if kind == ConsentEventKind.WORK_REGISTERED:
        if payload.get("hold"):
            return _(
                "Registered as “%(title)s”, held: it could not be checked against all other "
                "artists' works, and allows no use until an operator reviews it."
            ) % {"title": payload.get("title", "")}
        return _("Registered as “%(title)s”.") % {"title": payload.get("title", "")}
    if kind == ConsentEventKind.WORK_HOLD_CLEARED:
        # The disputes it opened have events of their own, which never name the other work.
        return _("Checked against all other artists' works by an operator and released.")
    if kind == ConsentEventKind.WORK_REMOVED:
        return _("Removed from the registry: %(reason)s") % {"reason": payload.get("reason", "")}
    if kind == ConsentEventKind.WORK_REFINGERPRINTED:
        if payload.get("exact_copies_only"):
            return _(
                "Fingerprinted again by matching version %(version)s: too plain to recognise "
                "re-posts, it is matched by its exact copies only."
            ) % {"version": payload.get("fingerprint_version", "")}
        return _("Fingerprinted again by matching version %(version)s.") % {
            "version": payload.get("fingerprint_version", "")
        }
    if kind == ConsentEventKind.TERMS_CHANGED:
        return _("%(purpose)s: %(terms)s (was: %(previous)s).") % _terms_change(payload)
    if kind == ConsentEventKind.DEFAULTS_CHANGED:
        return _("Default for %(purpose)s: %(terms)s (was: %(previous)s).") % _terms_change(payload)
    if kind == ConsentEventKind.GRANT_CREATED:
        return _("Grant %(grant)s to organization %(organization)s for %(purposes)s.") % {
            "grant": payload.get("grant", ""),
            "organization": organization,
            "purposes": purposes_label(payload.get("purposes")),
        }
    if kind == ConsentEventKind.GRANT_REVOKED:
        return _("Grant %(grant)s to organization %(organization)s revoked.") % {
            "grant": payload.get("grant", ""),
            "organization": organization,
        }
    if kind == ConsentEventKind.DISPUTE_OPENED and payload.get("upgraded"):
        return _(
            "Dispute %(dispute)s now denies both works: the operator's check found them "
            "near-identical."
        ) % {"dispute": payload.get("dispute_id", "")}
    if kind == ConsentEventKind.DISPUTE_OPENED:
        # The other work is never named: its id leads to its artist (docs/admin.md's promise).
        return _("Dispute %(dispute)s opened: near-identical to a work registered earlier.") % {
            "dispute": payload.get("dispute_id", ""),
        }
    if kind == ConsentEventKind.DISPUTE_RESOLVED:
        return _("Dispute %(dispute)s resolved: %(resolution)s.") % {
            "dispute": payload.get("dispute_id", ""),
            "resolution": _resolution(payload),
        }
    return str(event.get_kind_display())

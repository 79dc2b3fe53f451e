"""Replaying the consent ledger: the state its events say the registry is in.

Plain Python, like registry.ledger: the hash chain proves the ledger was not edited; the replay
proves the tables the gatekeeper reads (works, terms, grants, disputes, assurance, artists'
verified sites, and which organizations are platforms with which prefix and attestation key)
say what the ledger says, so an edit of those tables behind the ledger's back is caught too.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from registry.assurance import SELF_ASSERTED
from registry.ledger import LedgerEntry

TermsState = tuple[str, str, str]  # permission, licence, attribution
PlatformSettings = tuple[str, str, str]  # kind, url_prefix, public key (PEM)
NO_PLATFORM: PlatformSettings = ("ai_team", "", "")


@dataclass
class ReplayedRegistry:
    works: dict[int, dict[str, Any]] = field(default_factory=dict)
    terms: dict[tuple[int, str], TermsState] = field(default_factory=dict)
    defaults: dict[tuple[int, str], TermsState] = field(default_factory=dict)
    grants: dict[str, dict[str, Any]] = field(default_factory=dict)
    disputes: dict[int, dict[str, Any]] = field(default_factory=dict)
    artist_assurance: dict[int, str] = field(default_factory=dict)
    work_assurance: dict[int, str] = field(default_factory=dict)
    # Artist id -> verified site prefixes: they reserve URLs, and an artist's site_verified
    # counts only for works published under them (assurance.claim_level).
    verified_sites: dict[int, set[str]] = field(default_factory=dict)
    # Organization id -> kind, url_prefix, public_key; an organization never named is an AI
    # team with neither.
    platforms: dict[Any, tuple[Any, Any, Any]] = field(default_factory=dict)


def _terms(payload: dict[str, Any]) -> TermsState:
    return (payload["permission"], payload.get("license", ""), payload.get("attribution", ""))


def _apply(state: ReplayedRegistry, entry: LedgerEntry) -> None:
    payload: dict[str, Any] = dict(entry.payload)
    kind, work_id, artist_id = entry.kind, entry.work_id, entry.artist_id
    if kind == "work_registered" and work_id is not None:
        state.works[work_id] = {
            "sha256": payload.get("sha256"),
            "removed": False,
            "hold": payload.get("hold", ""),
        }
    elif kind == "work_removed" and work_id in state.works:
        state.works[work_id]["removed"] = True
    elif kind == "work_hold_cleared" and work_id in state.works:
        state.works[work_id]["hold"] = ""
    elif kind == "terms_changed" and work_id is not None:
        state.terms[(work_id, payload["purpose"])] = _terms(payload)
    elif kind == "defaults_changed" and artist_id is not None:
        state.defaults[(artist_id, payload["purpose"])] = _terms(payload)
    elif kind == "grant_created":
        state.grants[payload["grant"]] = {**payload, "artist_id": artist_id, "revoked": False}
    elif kind == "grant_revoked" and payload["grant"] in state.grants:
        state.grants[payload["grant"]]["revoked"] = True
    elif kind == "dispute_opened":
        # Again for an open dispute (payload "upgraded"): an operator's check of a held work
        # made a loose one freezing (services.works); its state from then on is this one.
        state.disputes[payload["dispute_id"]] = {
            "existing_work_id": payload["existing_work_id"],
            "claimed_work_id": work_id,
            "freezes": payload.get("freezes", True),
            "status": "open",
            "resolution": "",
        }
    elif kind == "dispute_resolved" and payload["dispute_id"] in state.disputes:
        state.disputes[payload["dispute_id"]] |= {
            "status": "resolved",
            "resolution": payload["resolution"],
        }
    elif kind == "platform_settings_changed":
        state.platforms[payload.get("organization_id")] = (
            payload.get("kind"),
            payload.get("url_prefix"),
            payload.get("public_key"),
        )
    elif kind == "site_verified" and artist_id is not None:
        state.verified_sites.setdefault(artist_id, set()).add(payload["url_prefix"])
    elif kind == "site_removed" and artist_id is not None:
        state.verified_sites.get(artist_id, set()).discard(payload["url_prefix"])
    elif kind == "assurance_changed":
        if work_id is not None:
            state.work_assurance[work_id] = payload["assurance"]
        elif artist_id is not None:
            state.artist_assurance[artist_id] = payload["assurance"]


def replay(entries: Iterable[LedgerEntry]) -> ReplayedRegistry:
    """The registry's state after every event, in the order given (the ledger's order)."""
    state = ReplayedRegistry()
    for entry in entries:
        _apply(state, entry)
    return state


def assurance_of_artist(state: ReplayedRegistry, artist_id: int) -> str:
    return state.artist_assurance.get(artist_id, SELF_ASSERTED)


def assurance_of_work(state: ReplayedRegistry, work_id: int) -> str:
    return state.work_assurance.get(work_id, SELF_ASSERTED)


def verified_sites_of(state: ReplayedRegistry, artist_id: int) -> set[str]:
    return state.verified_sites.get(artist_id, set())


def platform_settings_of(state: ReplayedRegistry, organization_id: int) -> PlatformSettings:
    return state.platforms.get(organization_id, NO_PLATFORM)

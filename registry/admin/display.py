"""Small pieces of HTML the admin pages share: thumbnails and terms badges."""

from collections.abc import Mapping
from typing import Any

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from registry.models import Decision, Permission, Purpose
from registry.selectors.terms import EffectiveTerms

# The same words as the work page's choices (Permission's labels), shown in lists and history.
PERMISSION_SHORT = {
    Permission.ALLOWED: _("Allowed"),
    Permission.NOT_ALLOWED: _("Not allowed"),
    Permission.LICENSED: Permission.LICENSED.label,
}
# What each purpose of the C2PA / CAWG training-and-data-mining assertion covers.
PURPOSE_HELP = {
    Purpose.AI_TRAINING: _(
        "Using the image to train or fine-tune any AI or machine-learning model, "
        "for example a classifier or a search model."
    ),
    Purpose.AI_GENERATIVE_TRAINING: _(
        "Using the image to train a model that generates images, text or other content "
        "(image generators, style models, LoRAs)."
    ),
    Purpose.DATA_MINING: _(
        "Automated analysis of the image to find patterns or facts (text and data mining), "
        "without training a model on it."
    ),
    Purpose.AI_INFERENCE: _(
        "Giving the image to an already trained AI model as input, for example to edit it, "
        "describe it or copy its style."
    ),
}
TERMS_SOURCE = {
    "work": _("set for this work"),
    "default": _("from the artist's defaults"),
    "consent_first": _("nothing set: consent first, so not allowed"),
}


def thumbnail_url(work_id: int) -> str:
    return reverse("admin:registry_work_thumbnail", args=[work_id])


def thumbnail(work_id: int | None, size: int = 64, alt: str = "") -> SafeString:
    if work_id is None:
        return format_html("{}", "—")
    return format_html(
        '<img class="consentry-thumb" src="{}" width="{}" height="{}" alt="{}" loading="lazy">',
        thumbnail_url(work_id),
        size,
        size,
        alt,
    )


def terms_badge(terms: EffectiveTerms) -> SafeString:
    """One purpose's terms at a glance; inherited terms are drawn dashed."""
    tooltip = str(TERMS_SOURCE.get(terms.source, ""))
    if terms.license:
        tooltip = f"{tooltip} · {terms.license}"
    badge = format_html(
        '<span class="consentry-terms consentry-terms--{} consentry-terms--{}" title="{}">'
        "{}</span>",
        terms.permission,
        terms.source,
        tooltip,
        PERMISSION_SHORT.get(Permission(terms.permission), terms.permission),
    )
    if not terms.license:
        return badge
    # The licence is part of the terms: shown, not left to a tooltip.
    return format_html('{}<span class="consentry-licence">{}</span>', badge, terms.license)


def decision_badge(decision: str) -> SafeString:
    label = Decision(decision).label if decision in Decision.values else decision
    return format_html(
        '<span class="consentry-decision consentry-decision--{}">{}</span>', decision, label
    )


def purpose_label(purpose: str) -> str:
    return str(Purpose(purpose).label) if purpose in Purpose.values else purpose


def purposes_label(purposes: Any) -> str:
    return ", ".join(purpose_label(purpose) for purpose in purposes or [])


def distances_table(distances: Mapping[str, Any]) -> SafeString:
    if not distances:
        return format_html("{}", "—")
    rows = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", sorted(distances.items()))
    return format_html('<table class="consentry-distances">{}</table>', rows)


def related_only_filter(title: Any) -> type[admin.RelatedOnlyFieldListFilter]:
    """A filter on a relation, listing only the related objects the user's rows point to,
    under a translated title (relations without a verbose name would show the field name)."""

    class Filter(admin.RelatedOnlyFieldListFilter):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.title = title

    return Filter

"""Screenings: operators see every job; artists see which screenings matched their works."""

import json
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from registry.admin.access import ScopedAdmin
from registry.admin.compliance import SCREENING_EXPORT_ACTIONS
from registry.admin.display import decision_badge, related_only_filter, thumbnail
from registry.models import Decision, Screening, WorkScreening
from registry.selectors.coverage import item_coverage


class ReadOnlyMixin:
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Screening)
class ScreeningAdmin(ReadOnlyMixin, ScopedAdmin):
    artists_may_view = False
    actions = SCREENING_EXPORT_ACTIONS
    list_display = [
        "created_at",
        "organization_column",
        "purpose",
        "mode",
        "status",
        "progress",
        "counts_column",
    ]
    list_filter = [
        "status",
        "purpose",
        "mode",
        ("organization", related_only_filter(_("organization"))),
        "created_at",
    ]
    list_select_related = ["organization"]
    search_fields = ["=id", "organization__name"]
    date_hierarchy = "created_at"
    list_per_page = 100
    fields = readonly_fields = (
        "id",
        "organization_column",
        "purpose",
        "mode",
        "status",
        "progress",
        "counts_column",
        "coverage",
        "matched_works",
        "registry_sequence",
        "registry_hash",
        "created_at",
        "finished_at",
        "receipt_json",
        "receipt_signature",
    )

    class Media:
        css = {"all": ["registry/admin.css"]}

    @admin.display(description=_("Organization"), ordering="organization__name")
    def organization_column(self, screening: Screening) -> str:
        return screening.organization.name

    @admin.display(description=_("Progress"))
    def progress(self, screening: Screening) -> str:
        return f"{screening.done_items} / {screening.total_items}"

    @admin.display(description=_("Decisions"))
    def counts_column(self, screening: Screening) -> SafeString:
        parts = [
            format_html("{} {}", decision_badge(decision), screening.counts.get(decision, 0))
            for decision in Decision.values
            if screening.counts.get(decision)
        ]
        return format_html(" ".join(["{}"] * len(parts)), *parts) if parts else format_html("—")

    @admin.display(description=_("Listed one by one"))
    def coverage(self, screening: Screening) -> str:
        covered = item_coverage(screening)
        return _(
            "%(listed)s items that matched a registered work or were denied; counted only, "
            "each provable against the receipt's Merkle roots: %(unregistered)s unregistered, "
            "%(invalid)s invalid"
        ) % {"listed": covered["listed_items"], **covered["counted_only"]}

    @admin.display(description=_("Matched works"))
    def matched_works(self, screening: Screening) -> SafeString:
        url = reverse("admin:registry_workscreening_changelist")
        return format_html(
            '<a href="{}?screening__id__exact={}">{}</a>', url, screening.pk, _("See the matches")
        )

    @admin.display(description=_("Receipt"))
    def receipt_json(self, screening: Screening) -> SafeString:
        if not screening.receipt:
            return format_html("—")
        text = json.dumps(screening.receipt, indent=2, ensure_ascii=False, sort_keys=True)
        return format_html('<pre class="consentry-json">{}</pre>', text)


@admin.register(WorkScreening)
class WorkScreeningAdmin(ReadOnlyMixin, ScopedAdmin):
    """“Who screened my work”: every screened item that matched a work of the artist."""

    owner_lookup = "work__artist__user"
    list_display = [
        "thumbnail_column",
        "work_column",
        "organization_column",
        "purpose",
        "decision_column",
        "decided_at",
    ]
    list_display_links = None
    list_select_related = ["work", "organization", "screening"]
    search_fields = ["work__title", "organization__name"]
    date_hierarchy = "decided_at"
    list_per_page = 100
    fields = readonly_fields = (
        "work_column",
        "organization_column",
        "screening_column",
        "purpose",
        "decision_column",
        "decided_at",
    )

    class Media:
        css = {"all": ["registry/admin.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).defer("work__thumbnail").order_by("-decided_at")

    def get_list_filter(self, request: HttpRequest) -> list[Any]:
        filters: list[Any] = [
            "decision",
            "screening__purpose",
            ("organization", related_only_filter(_("organization"))),
            ("work", related_only_filter(_("work"))),
            "decided_at",
        ]
        return filters

    @admin.display(description=_("Work"), ordering="work__title")
    def work_column(self, row: WorkScreening) -> SafeString:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:registry_work_change", args=[row.work_id]),
            row.work.title,
        )

    @admin.display(description=_("Organization"), ordering="organization__name")
    def organization_column(self, row: WorkScreening) -> str:
        return row.organization.name

    @admin.display(description=_("Screening"))
    def screening_column(self, row: WorkScreening) -> str:
        return str(row.screening_id)

    @admin.display(description=_("Image"))
    def thumbnail_column(self, row: WorkScreening) -> SafeString:
        return thumbnail(row.work_id, alt=row.work.title)

    @admin.display(description=_("Purpose"), ordering="screening__purpose")
    def purpose(self, row: WorkScreening) -> str:
        return str(row.screening.get_purpose_display())

    @admin.display(description=_("Decision"), ordering="decision")
    def decision_column(self, row: WorkScreening) -> SafeString:
        return decision_badge(row.decision)

"""The consent ledger: read-only for everyone; an artist reads the events about their own works."""

from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from registry.admin.access import ScopedAdmin, is_operator
from registry.admin.history import event_summary, organization_names, payload_for
from registry.models import ConsentEvent


class LedgerChangeList(ChangeList):
    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        events = list(self.result_list)
        names = organization_names(events)
        for event in events:
            event.organization_names = names
        self.result_list = events


@admin.register(ConsentEvent)
class ConsentEventAdmin(ScopedAdmin):
    owner_lookup = "artist__user"
    list_per_page = 100
    list_filter = ["kind", "created_at"]
    search_fields = ["=sequence", "work__title", "=hash"]
    date_hierarchy = "created_at"
    list_display_links = ["sequence"]
    fields = readonly_fields = (
        "sequence",
        "kind",
        "summary",
        "artist_column",
        "work_column",
        "payload_table",
        "created_at",
        "previous_hash",
        "hash",
    )

    class Media:
        css = {"all": ["registry/admin.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return (
            super()
            .get_queryset(request)
            .select_related("artist", "work")
            .defer("work__thumbnail", "work__image")
        )

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return LedgerChangeList

    def get_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        if is_operator(request.user):
            return self.fields
        return [("artist_payload_table" if f == "payload_table" else f) for f in self.fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        return self.get_fields(request, obj)

    def get_list_display(self, request: HttpRequest) -> Any:
        columns = ["sequence", "kind", "summary", "work_column", "created_at", "short_hash"]
        if is_operator(request.user):
            columns.insert(3, "artist_column")
        return columns

    # The ledger is append-only: no page adds, changes or deletes an event, for anyone.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    @admin.display(description=_("Artist"))
    def artist_column(self, event: ConsentEvent) -> str:
        return event.artist.display_name if event.artist else "—"

    @admin.display(description=_("Work"))
    def work_column(self, event: ConsentEvent) -> SafeString | str:
        if event.work is None:
            return "—"
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:registry_work_change", args=[event.work_id]),
            event.work.title,
        )

    @admin.display(description=_("What happened"))
    def summary(self, event: ConsentEvent) -> str:
        names = getattr(event, "organization_names", None)
        return event_summary(event, names if names is not None else organization_names([event]))

    @admin.display(description=_("Hash"))
    def short_hash(self, event: ConsentEvent) -> SafeString:
        return format_html('<code title="{}">{}…</code>', event.hash, event.hash[:12])

    @admin.display(description=_("Payload"))
    def payload_table(self, event: ConsentEvent) -> SafeString:
        return _payload_table(payload_for(event, operator=True))

    @admin.display(description=_("Payload"))
    def artist_payload_table(self, event: ConsentEvent) -> SafeString:
        return _payload_table(payload_for(event, operator=False))


def _payload_table(payload: dict[str, Any]) -> SafeString:
    rows = format_html_join(
        "", "<tr><th>{}</th><td><code>{}</code></td></tr>", sorted(payload.items())
    )
    return format_html('<table class="consentry-payload">{}</table>', rows)

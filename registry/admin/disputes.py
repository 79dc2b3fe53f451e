"""Disputes: operators compare both works side by side and resolve; artists follow their own."""

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, F, Q, QuerySet, When
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from registry.admin.access import ScopedAdmin, is_operator
from registry.admin.display import distances_table, thumbnail
from registry.admin.forms import DisputeResolveForm
from registry.models import Dispute, DisputeStatus, Work
from registry.services.disputes import dispute_resolve


def _side(work: Work, request: HttpRequest, label: Any) -> dict[str, Any]:
    """One work of the pair, as far as the user may see it: another artist's work stays hidden."""
    visible = is_operator(request.user) or work.artist.user_id == request.user.pk
    return {
        "label": label,
        "visible": visible,
        "work": work if visible else None,
        "thumbnail": thumbnail(work.pk, size=240, alt=work.title) if visible else None,
    }


@admin.register(Dispute)
class DisputeAdmin(ScopedAdmin):
    operators_may_change = True

    form = DisputeResolveForm
    list_filter = ["status", "resolution", "opened_at"]
    list_per_page = 50
    list_select_related = ["existing_work__artist", "claimed_work__artist"]
    change_form_template = "admin/registry/dispute/change_form.html"
    date_hierarchy = "opened_at"

    class Media:
        css = {"all": ["registry/admin.css"]}

    def owned_by(self, user: Any) -> Q:
        return Q(existing_work__artist__user=user) | Q(claimed_work__artist__user=user)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = (
            super()
            .get_queryset(request)
            .select_related("existing_work__artist", "claimed_work__artist")
            .defer("existing_work__thumbnail", "claimed_work__thumbnail")
        )
        if is_operator(request.user):
            return queryset
        # Which side of each dispute is the artist's own: the list shows only that side.
        return queryset.annotate(
            own_work_id=Case(
                When(existing_work__artist__user=request.user, then=F("existing_work_id")),
                default=F("claimed_work_id"),
            ),
            own_title=Case(
                When(existing_work__artist__user=request.user, then=F("existing_work__title")),
                default=F("claimed_work__title"),
            ),
        )

    def get_list_display(self, request: HttpRequest) -> Any:
        if is_operator(request.user):
            return [
                "dispute_column",
                "existing_column",
                "claimed_column",
                "distances_column",
                "assurance_column",
                "status",
                "resolution",
                "opened_at",
            ]
        return [
            "dispute_column",
            "own_work_column",
            "effect_column",
            "status",
            "resolution",
            "opened_at",
        ]

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        fields = ["existing_work__title", "claimed_work__title"]
        if is_operator(request.user):
            fields += ["existing_work__artist__display_name", "claimed_work__artist__display_name"]
        return fields

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        if is_operator(request.user) or not search_term:
            return super().get_search_results(request, queryset, search_term)
        # An artist searches their own works' titles only, never the other side's.
        mine = Q(
            existing_work__artist__user=request.user, existing_work__title__icontains=search_term
        )
        mine |= Q(
            claimed_work__artist__user=request.user, claimed_work__title__icontains=search_term
        )
        return queryset.filter(mine), False

    @admin.display(description=_("Earlier registration"))
    def existing_column(self, dispute: Dispute) -> SafeString:
        return thumbnail(dispute.existing_work_id, alt=dispute.existing_work.title)

    @admin.display(description=_("Later registration"))
    def claimed_column(self, dispute: Dispute) -> SafeString:
        return thumbnail(dispute.claimed_work_id, alt=dispute.claimed_work.title)

    @admin.display(description=_("Dispute"), ordering="pk")
    def dispute_column(self, dispute: Dispute) -> str:
        return _("Dispute %(number)s") % {"number": dispute.pk}

    @admin.display(description=_("Assurance (earlier / later)"))
    def assurance_column(self, dispute: Dispute) -> str:
        effect = _("both denied") if dispute.freezes else _("the earlier one stands")
        return f"{dispute.existing_assurance} / {dispute.claimed_assurance}: {effect}"

    @admin.display(description=_("What it changes"))
    def effect_column(self, dispute: Dispute) -> str:
        # Told to each side in its own terms; the other party's name and work stay hidden.
        if dispute.status != DisputeStatus.OPEN:
            return ""
        if dispute.freezes:
            return str(_("Both registrations count as denied until the registry's staff decide."))
        if getattr(dispute, "own_work_id", None) == dispute.existing_work_id:
            return str(
                _(
                    "Your terms still apply: the later registration was less verified than "
                    "yours. The registry's staff will review it."
                )
            )
        return str(
            _(
                "An earlier, better verified registration of this image exists: yours does not "
                "count until the registry's staff decide. Getting verified helps your claim."
            )
        )

    @admin.display(description=_("Your work"))
    def own_work_column(self, dispute: Dispute) -> SafeString:
        return format_html(
            "{} {}",
            thumbnail(getattr(dispute, "own_work_id", None), alt=""),
            getattr(dispute, "own_title", ""),
        )

    @admin.display(description=_("Distances"))
    def distances_column(self, dispute: Dispute) -> SafeString:
        return distances_table(dispute.distances)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["resolution", "note"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if isinstance(obj, Dispute) and obj.status != DisputeStatus.OPEN:
            return False
        return super().has_change_permission(request, obj)

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Any:
        dispute = context.get("original")
        if dispute is not None:
            context["sides"] = [
                _side(dispute.existing_work, request, _("Earlier registration")),
                _side(dispute.claimed_work, request, _("Later registration")),
            ]
            context["distances"] = distances_table(dispute.distances)
        return super().render_change_form(request, context, *args, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not (change and is_operator(request.user)):
            raise PermissionDenied
        try:
            dispute_resolve(
                dispute=obj,
                resolution=form.cleaned_data["resolution"],
                resolved_by=request.user,
                note=form.cleaned_data.get("note", ""),
            )
        except ValidationError as error:
            messages.error(request, "; ".join(error.messages))

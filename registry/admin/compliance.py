"""Compliance in the admin (operators only): exports for regulators, withdrawal notices and the
webhook deliveries that carried them, with every attempt and a redeliver action.

Importing this module registers the ModelAdmins. `SCREENING_EXPORT_ACTIONS` are admin actions
for the screening list: they export the selected screenings of one organization.
"""

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.template import engines
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from registry.admin.access import ScopedAdmin
from registry.exports.kinds import (
    CONTENT_TYPES,
    KINDS,
    PreparedExport,
    UnknownExport,
    prepare_export,
)
from registry.models import (
    Organization,
    Screening,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WithdrawalNotice,
)
from registry.models.artists import is_operator
from registry.selectors.compliance import ExportScope
from registry.services.compliance import webhook_endpoint_disable, webhook_redeliver


def _download(prepared: PreparedExport) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        (chunk.encode() for chunk in prepared.chunks()), content_type=prepared.content_type
    )
    response["Content-Disposition"] = f'attachment; filename="{prepared.filename}"'
    return response


# --- Exports of selected screenings (actions for the screening list) --------------------------


def _screening_export_action(kind: str, fmt: str, label: Any) -> Callable[..., Any]:
    def action(
        modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Screening]
    ) -> HttpResponseBase | None:
        if not is_operator(request.user):
            raise PermissionDenied
        organizations = set(queryset.values_list("organization_id", flat=True))
        if len(organizations) != 1:
            modeladmin.message_user(
                request, _("Select screenings of one organization."), messages.ERROR
            )
            return None
        scope = ExportScope(
            organization=Organization.objects.get(pk=organizations.pop()),
            screening_ids=tuple(str(pk) for pk in queryset.values_list("pk", flat=True)),
        )
        try:
            return _download(prepare_export(kind, fmt, scope))
        except ValidationError as error:
            modeladmin.message_user(request, "; ".join(error.messages), messages.ERROR)
            return None

    action.__name__ = f"export_{kind.replace('-', '_')}_{fmt}"
    return admin.action(description=label)(action)


SCREENING_EXPORT_ACTIONS = [
    _screening_export_action("screening-report", "csv", _("Export: screening report (CSV)")),
    _screening_export_action("screening-report", "html", _("Export: screening report (print)")),
    _screening_export_action("eu-ai-act", "json", _("Export: EU AI Act evidence pack")),
    _screening_export_action("china-art7", "csv", _("Export: China Art. 7 record (CSV)")),
    _screening_export_action("croissant", "jsonld", _("Export: Croissant dataset")),
]


# --- The export page --------------------------------------------------------------------------


class ExportForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Export"), choices=[(name, kind.title) for name, kind in KINDS.items()]
    )
    format = forms.ChoiceField(
        label=_("Format"),
        required=False,
        choices=[("", _("the export's default")), *[(f, f) for f in CONTENT_TYPES]],
    )
    organization = forms.ModelChoiceField(
        label=_("Organization"), queryset=Organization.objects.order_by("name")
    )
    since = forms.DateTimeField(label=_("Screenings started on or after"), required=False)
    until = forms.DateTimeField(label=_("Screenings started before"), required=False)
    screenings = forms.CharField(
        label=_("Only these screening ids"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 40}),
        help_text=_("One id per line; empty for every screening of the period."),
    )


EXPORT_PAGE = engines["django"].from_string(
    """{% extends "admin/base_site.html" %}
{% block title %}{{ title }} | {{ site_title }}{% endblock %}
{% block content %}
<h1>{{ title }}</h1>
<p>{{ intro }}</p>
<form method="post">{% csrf_token %}
  <table>{{ form.as_table }}</table>
  <div class="submit-row"><input type="submit" class="default" value="{{ button }}"></div>
</form>
<p>{{ verify }}</p>
{% endblock %}"""
)


def export_page(request: HttpRequest, admin_site: admin.AdminSite) -> HttpResponseBase:
    if not is_operator(request.user):
        raise PermissionDenied
    form = ExportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        scope = ExportScope(
            organization=data["organization"],
            since=data["since"],
            until=data["until"],
            screening_ids=tuple(data["screenings"].split()),
        )
        try:
            return _download(prepare_export(data["kind"], data["format"] or None, scope))
        except Screening.DoesNotExist:
            form.add_error("screenings", _("The organization has no such screening."))
        except UnknownExport as error:
            form.add_error("format", str(error))
        except ValidationError as error:
            form.add_error(None, error)
    context = {
        **admin_site.each_context(request),
        "title": _("Compliance exports"),
        "intro": _(
            "Evidence for regulators, streamed as it is read. Each export names the registry "
            "version and carries or links the signed receipts it rests on."
        ),
        "verify": _(
            "Regulators verify receipts with `python -m registry.client verify-receipt` and a "
            "ledger export with `python manage.py verify_ledger --export FILE --key-file PEM`."
        ),
        "button": _("Download"),
        "form": form,
    }
    return TemplateResponse(request, EXPORT_PAGE, context)


# --- Withdrawal notices and webhook deliveries ------------------------------------------------


class OperatorsOnly(ScopedAdmin):
    artists_may_view = False


def _export_link() -> SafeString:
    return format_html(
        '<a class="button" href="{}">{}</a>',
        reverse("admin:registry_compliance_exports"),
        _("Compliance exports…"),
    )


@admin.register(WithdrawalNotice)
class WithdrawalNoticeAdmin(OperatorsOnly):
    list_display = ["sequence", "organization", "event_kind", "item_count", "created_at"]
    list_filter = ["event__kind"]
    search_fields = ["organization__name", "=public_id"]
    list_select_related = ["organization", "event"]
    fields = readonly_fields = (
        "public_id",
        "organization",
        "event",
        "sequence",
        "item_count",
        "affected",
        "created_at",
    )

    @admin.display(description=_("Consent change"), ordering="event__kind")
    def event_kind(self, notice: WithdrawalNotice) -> str:
        return notice.event.get_kind_display()

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(lambda request: export_page(request, self.admin_site))
        return [
            path("exports/", view, name="registry_compliance_exports"),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        if is_operator(request.user):
            messages.info(request, _export_link())
        return super().changelist_view(request, extra_context)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(OperatorsOnly):
    list_display = ["url", "organization", "active", "created_at", "disabled_at"]
    list_filter = ["active"]
    search_fields = ["url", "organization__name"]
    list_select_related = ["organization"]
    fields = readonly_fields = (
        "organization",
        "url",
        "description",
        "active",
        "created_at",
        "disabled_at",
    )
    actions = ["disable_endpoints"]

    @admin.action(description=_("Stop sending to the selected endpoints"))
    def disable_endpoints(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        disabled = sum(webhook_endpoint_disable(endpoint=endpoint) for endpoint in queryset)
        self.message_user(
            request,
            ngettext("%d endpoint disabled.", "%d endpoints disabled.", disabled) % disabled,
        )


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = readonly_fields = ("number", "attempted_at", "status_code", "error", "duration_ms")
    extra = 0
    can_delete = False
    verbose_name_plural = _("attempts")

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator(request.user)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(OperatorsOnly):
    list_display = [
        "created_at",
        "organization",
        "event_id",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "delivered_at",
    ]
    list_filter = ["status"]
    search_fields = ["=notice__public_id", "endpoint__url", "notice__organization__name"]
    list_select_related = ["notice__organization", "endpoint"]
    fields = readonly_fields = (
        "notice",
        "endpoint",
        "status",
        "attempts",
        "next_attempt_at",
        "delivered_at",
        "last_status_code",
        "last_error",
        "created_at",
    )
    inlines = [WebhookAttemptInline]
    actions = ["redeliver"]

    @admin.display(description=_("Organization"), ordering="notice__organization__name")
    def organization(self, delivery: WebhookDelivery) -> str:
        return delivery.notice.organization.name

    @admin.display(description=_("Event id"))
    def event_id(self, delivery: WebhookDelivery) -> SafeString:
        return format_html("<code>{}</code>", delivery.notice.public_id)

    @admin.action(description=_("Redeliver (same event id)"))
    def redeliver(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        sent = sum(webhook_redeliver(delivery=delivery) for delivery in queryset)
        self.message_user(
            request,
            ngettext("%d delivery queued again.", "%d deliveries queued again.", sent) % sent,
        )

"""Organizations (AI teams) and their API keys: operators only. A key's secret is shown once."""

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Model, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from registry.admin.access import ScopedAdmin
from registry.admin.display import related_only_filter
from registry.admin.forms import APIKeyForm, OrganizationForm
from registry.admin.saved import adopt_saved
from registry.models import Organization, OrganizationAPIKey
from registry.services.organizations import (
    api_key_create,
    api_key_revoke,
    organization_create,
    organization_kind_set,
)


class OperatorsOnlyAdmin(ScopedAdmin):
    artists_may_view = False


class APIKeyColumns:
    """The key's own fields come from rest_framework_api_key without translated names."""

    @admin.display(description=gettext_lazy("Name"), ordering="name")
    def key_name(self, api_key: OrganizationAPIKey) -> str:
        return api_key.name

    @admin.display(description=gettext_lazy("Prefix"), ordering="prefix")
    def key_prefix(self, api_key: OrganizationAPIKey) -> SafeString:
        return format_html("<code>{}</code>", api_key.prefix)

    @admin.display(description=gettext_lazy("Created"), ordering="created")
    def key_created(self, api_key: OrganizationAPIKey) -> str:
        return date_format(localtime(api_key.created), "DATETIME_FORMAT")

    @admin.display(description=gettext_lazy("Expires"), ordering="expiry_date")
    def key_expiry(self, api_key: OrganizationAPIKey) -> str:
        if api_key.expiry_date is None:
            return "—"
        return date_format(localtime(api_key.expiry_date), "DATETIME_FORMAT")

    @admin.display(description=gettext_lazy("Revoked"), boolean=True, ordering="revoked")
    def key_revoked(self, api_key: OrganizationAPIKey) -> bool:
        return bool(api_key.revoked)


KEY_COLUMNS = ("key_name", "key_prefix", "key_created", "key_expiry", "key_revoked")


class APIKeyInline(APIKeyColumns, admin.TabularInline):
    model = OrganizationAPIKey
    fields = readonly_fields = KEY_COLUMNS
    extra = 0
    show_change_link = True
    verbose_name = gettext_lazy("API key")
    verbose_name_plural = gettext_lazy("API keys")

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        parent = self.admin_site.get_model_admin(Organization)
        return bool(parent.has_view_permission(request, obj))  # type: ignore[arg-type]

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class RevokedFilter(admin.SimpleListFilter):
    title = gettext_lazy("revoked")
    parameter_name = "revoked"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("no", gettext_lazy("In use")), ("yes", gettext_lazy("Revoked"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in {"yes", "no"}:
            return queryset.filter(revoked=self.value() == "yes")
        return queryset


@admin.register(Organization)
class OrganizationAdmin(OperatorsOnlyAdmin):
    operators_may_add = True
    # Only the kind and a platform's prefix and key change; the name stays as created.
    operators_may_change = True
    form = OrganizationForm
    inlines = [APIKeyInline]
    list_display = ["name", "kind", "active_keys", "screening_count", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name"]
    list_per_page = 100
    change_form_template = "admin/registry/organization/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                active_key_count=Count(
                    "api_keys", filter=Q(api_keys__revoked=False), distinct=True
                ),
                screening_total=Count("screenings", distinct=True),
            )
        )

    @admin.display(description=gettext_lazy("Active API keys"), ordering="active_key_count")
    def active_keys(self, organization: Organization) -> int:
        return int(getattr(organization, "active_key_count", 0))

    @admin.display(description=gettext_lazy("Screenings"), ordering="screening_total")
    def screening_count(self, organization: Organization) -> int:
        return int(getattr(organization, "screening_total", 0))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["name", "created_at"] if obj is not None else []

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        platform = ["kind", "url_prefix", "attestation_key"]
        return ["name", *platform, "created_at"] if obj is not None else ["name", *platform]

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[Any]:
        return list(self.inlines) if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = form.cleaned_data
        organization = obj if change else organization_create(name=data["name"])
        organization_kind_set(
            organization=organization,
            kind=data["kind"],
            url_prefix=data["url_prefix"],
            attestation_key=data["attestation_key"],
        )
        adopt_saved(obj, organization)


@admin.register(OrganizationAPIKey)
class OrganizationAPIKeyAdmin(APIKeyColumns, OperatorsOnlyAdmin):
    operators_may_add = True
    form = APIKeyForm
    actions = ["revoke_keys"]
    list_display = ["key_name", "organization_link", *KEY_COLUMNS[1:]]
    list_display_links = ["key_name"]
    list_filter = [
        RevokedFilter,
        ("organization", related_only_filter(gettext_lazy("organization"))),
    ]
    list_select_related = ["organization"]
    search_fields = ["name", "=prefix", "organization__name"]
    list_per_page = 100

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["organization", "name"]
        return ["organization_link", *KEY_COLUMNS]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return self.get_fields(request, obj) if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            raise PermissionDenied
        api_key, secret = api_key_create(
            organization=form.cleaned_data["organization"], name=form.cleaned_data["name"]
        )
        adopt_saved(obj, api_key)
        obj.secret_shown_once = secret

    def response_add(
        self, request: HttpRequest, obj: Any, post_url_continue: str | None = None
    ) -> HttpResponse:
        # The secret is in this one response and nowhere else: not in a message (messages may
        # sit in a cookie) and not in the database, which keeps only its hash.
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "api_key": obj,
            "secret": obj.secret_shown_once,
            "organization_url": reverse(
                "admin:registry_organization_change", args=[obj.organization_id]
            ),
            "title": _("API key created"),
            "subtitle": None,
        }
        response = TemplateResponse(
            request, "admin/registry/organizationapikey/secret.html", context
        )
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description=gettext_lazy("Revoke the selected API keys"))
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        revoked = sum(api_key_revoke(api_key=key) for key in queryset.filter(revoked=False))
        messages.success(
            request,
            ngettext("%(count)d API key was revoked.", "%(count)d API keys were revoked.", revoked)
            % {"count": revoked},
        )

    @admin.display(description=gettext_lazy("Organization"))
    def organization_link(self, api_key: OrganizationAPIKey) -> SafeString:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:registry_organization_change", args=[api_key.organization_id]),
            api_key.organization.name,
        )

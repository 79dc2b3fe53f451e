"""Grants: an artist licenses works to one organization; revoking ends it for good."""

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelectMultiple
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, ForeignKey, ManyToManyField, QuerySet
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from registry.admin.access import ScopedAdmin, artist_of, is_operator
from registry.admin.display import purposes_label, related_only_filter
from registry.admin.forms import GrantForm
from registry.admin.saved import adopt_saved
from registry.models import Artist, Grant, Work
from registry.services.grants import grant_create, grant_revoke


class GrantStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("valid", _("In force")),
            ("upcoming", _("Not started yet")),
            ("expired", _("Expired")),
            ("revoked", _("Revoked")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = timezone.now()
        value = self.value()
        if value == "valid":
            return queryset.filter(pk__in=Grant.objects.valid_at(now).values("pk"))
        if value == "upcoming":
            return queryset.filter(revoked_at__isnull=True, valid_from__gt=now)
        if value == "expired":
            return queryset.filter(revoked_at__isnull=True, valid_until__lte=now)
        if value == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


def grant_state(grant: Grant) -> str:
    now = timezone.now()
    if grant.revoked_at is not None:
        return str(_("Revoked"))
    if grant.valid_from > now:
        return str(_("Not started yet"))
    if grant.valid_until is not None and grant.valid_until <= now:
        return str(_("Expired"))
    return str(_("In force"))


# A grant's page once it exists: read-only, since a grant never changes after it is made.
GRANT_DETAILS = (
    "reference",
    "artist_column",
    "organization_column",
    "purposes_column",
    "works_column",
    "work_titles",
    "valid_from",
    "valid_until",
    "state_column",
    "revoked_at",
    "created_at",
)


@admin.register(Grant)
class GrantAdmin(ScopedAdmin):
    owner_lookup = "artist__user"
    artists_may_add = True
    operators_may_add = True

    form = GrantForm
    actions = ["revoke_grants"]
    list_select_related = ["artist", "organization"]
    list_per_page = 100
    search_fields = ["reference", "organization__name"]
    change_form_template = "admin/registry/grant/change_form.html"

    class Media:
        css = {"all": ["registry/admin.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).annotate(work_count=Count("works"))

    def get_list_display(self, request: HttpRequest) -> Any:
        columns = [
            "reference",
            "organization_column",
            "purposes_column",
            "works_column",
            "valid_from",
            "valid_until",
            "state_column",
        ]
        if is_operator(request.user):
            columns.insert(1, "artist_column")
        return columns

    def get_list_filter(self, request: HttpRequest) -> list[Any]:
        return [GrantStateFilter, ("organization", related_only_filter(_("organization")))]

    @admin.display(description=_("Artist"), ordering="artist__display_name")
    def artist_column(self, grant: Grant) -> str:
        return grant.artist.display_name

    @admin.display(description=_("Organization"), ordering="organization__name")
    def organization_column(self, grant: Grant) -> str:
        return grant.organization.name

    @admin.display(description=_("Purposes"))
    def purposes_column(self, grant: Grant) -> str:
        return purposes_label(grant.purposes)

    @admin.display(description=_("Works"), ordering="work_count")
    def works_column(self, grant: Grant) -> str:
        if grant.covers_all_works:
            return str(_("All works"))
        count = int(getattr(grant, "work_count", 0))
        return ngettext("%(count)d work", "%(count)d works", count) % {"count": count}

    @admin.display(description=_("State"))
    def state_column(self, grant: Grant) -> str:
        return grant_state(grant)

    # --- adding: the form goes to grant_create; a grant never changes after that ---------------

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        if obj is None:
            fields = list(GrantForm.Meta.fields)
            if not is_operator(request.user):
                fields.remove("artist")
            return [(None, {"fields": fields})]
        return [
            (
                None,
                {"fields": GRANT_DETAILS},
            )
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return []
        return list(GRANT_DETAILS)

    @admin.display(description=_("Works covered"))
    def work_titles(self, grant: Grant) -> str:
        if grant.covers_all_works:
            return str(_("All works of the artist, including later ones"))
        titles = list(grant.works.order_by("-created_at").values_list("title", flat=True)[:50])
        more = int(getattr(grant, "work_count", len(titles))) - len(titles)
        return ", ".join(titles) + (f" … (+{more})" if more > 0 else "")

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        for name in ("works", "artist"):
            if name in form.base_fields:
                # No "add" button beside these: works come from uploads, artists from operators.
                form.base_fields[name].widget.can_add_related = False
        # The grant's artist is the user's own; the form checks the works against it.
        form.artist = artist_of(request.user) if not is_operator(request.user) else None  # type: ignore[attr-defined]
        return form

    def formfield_for_foreignkey(
        self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any
    ) -> Any:
        if db_field.name == "artist":
            kwargs["queryset"] = Artist.objects.visible_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(
        self, db_field: ManyToManyField, request: HttpRequest, **kwargs: Any
    ) -> Any:
        if db_field.name == "works":
            # Only works the user may see can be chosen, by search or by a crafted POST alike.
            kwargs["queryset"] = Work.objects.visible_to(request.user).active().defer("thumbnail")
            kwargs["widget"] = AutocompleteSelectMultiple(db_field, self.admin_site)
            kwargs["required"] = False
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            raise PermissionDenied  # a grant is revoked, never edited
        data = form.cleaned_data
        artist = data.get("artist") if is_operator(request.user) else artist_of(request.user)
        if artist is None:
            raise PermissionDenied
        created = grant_create(
            artist=artist,
            organization=data["organization"],
            purposes=data["purposes"],
            works=list(data.get("works") or []),
            covers_all_works=data["covers_all_works"],
            valid_from=data.get("valid_from"),
            valid_until=data.get("valid_until"),
        )
        adopt_saved(obj, created)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """grant_create has set the works already."""

    # --- revoking ------------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:object_id>/revoke/",
                self.admin_site.admin_view(self.revoke_view),
                name="registry_grant_revoke",
            ),
            *super().get_urls(),
        ]

    def revoke_view(self, request: HttpRequest, object_id: int) -> HttpResponseRedirect:
        grant = self.get_queryset(request).filter(pk=object_id).first()
        if grant is None:
            raise Http404(_("No such grant."))
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:registry_grant_change", args=[grant.pk]))
        self._revoke(request, [grant])
        return HttpResponseRedirect(reverse("admin:registry_grant_change", args=[grant.pk]))

    @admin.action(description=_("Revoke the selected grants"))
    def revoke_grants(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._revoke(request, list(queryset.filter(revoked_at__isnull=True)))

    def _revoke(self, request: HttpRequest, grants: list[Grant]) -> None:
        try:
            revoked = sum(grant_revoke(grant=grant) for grant in grants)
        except ValidationError as error:
            messages.error(request, "; ".join(error.messages))
            return
        messages.success(
            request,
            ngettext("%(count)d grant was revoked.", "%(count)d grants were revoked.", revoked)
            % {"count": revoked},
        )

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Any:
        obj = context.get("original")
        context["can_revoke"] = obj is not None and obj.revoked_at is None
        return super().render_change_form(request, context, *args, **kwargs)

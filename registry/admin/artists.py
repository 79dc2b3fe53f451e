"""Artists: an artist's own profile (credit line, links, default terms); operators verify."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Model, QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from registry.admin.access import ScopedAdmin, artist_of, is_operator
from registry.admin.display import PURPOSE_HELP
from registry.admin.forms import ArtistCreateForm, ArtistProfileForm, terms_field_names
from registry.admin.saved import adopt_saved
from registry.assurance import is_verified
from registry.models import Artist, ArtistLink, Assurance, Purpose
from registry.services.artists import (
    artist_create,
    artist_link_delete,
    artist_link_save,
    artist_profile_update,
    artist_verify,
)
from registry.services.terms import default_terms_set


def _assurance_explained(level: str) -> tuple[str, str]:
    """What the artist's level changes and what to do next, in the artist's language."""
    if level == Assurance.OPERATOR_VERIFIED:
        return (
            gettext("You are verified by the registry's staff."),
            gettext(
                "Every AI team's screening counts the terms you set: what you allow can be "
                "used, credited to you, and receipts record that your permission was verified."
            ),
        )
    if level == Assurance.SITE_VERIFIED:
        return (
            gettext("You proved control of a site of yours."),
            gettext(
                "Screenings count what you allow for your works published on your verified "
                "sites: list their addresses there among the work's source URLs. Your other "
                "works need another verification: send the registry's staff evidence that "
                "they are yours (drafts, source files, your profiles)."
            ),
        )
    if is_verified(level):
        return (
            gettext("You are verified: %(level)s.") % {"level": Assurance(level).label},
            gettext(
                "Screenings count what you allow, except those of organizations that accept only "
                "artists verified by the registry's staff. To be verified by staff, send them "
                "evidence that the works are yours (drafts, source files, your profiles)."
            ),
        )
    return (
        gettext(
            "You are not verified yet. Until you are, what you allow does not count: AI teams' "
            "screenings deny matching items with the reason “consent_unverified”. What you "
            "refuse counts already, and protects your works."
        ),
        gettext(
            "To become verified, send the registry's staff evidence that the works are yours "
            "(drafts, source files, your Xiaohongshu or other profiles), or prove that you "
            "control a site where your works are published. A platform where you publish can "
            "also attest your uploads there, once your profile on it is among your links."
        ),
    )


class VerifyActionForm(ActionForm):
    # Staff say what they checked; the verification action refuses to run without it.
    evidence = forms.CharField(
        label=_("Evidence checked"),
        required=False,
        widget=forms.TextInput(attrs={"size": 50}),
    )


class ArtistLinkInline(admin.TabularInline):
    model = ArtistLink
    fields = ["label", "url"]
    extra = 1
    verbose_name = _("link")
    verbose_name_plural = _("Where you publish (e.g. your Xiaohongshu handle)")

    # An artist's links follow the artist's page: whoever may change the artist may change them.
    def _parent_allows(self, request: HttpRequest, obj: Model | None) -> bool:
        parent = self.admin_site.get_model_admin(Artist)
        return bool(parent.has_change_permission(request, obj))  # type: ignore[arg-type]

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        parent = self.admin_site.get_model_admin(Artist)
        return bool(parent.has_view_permission(request, obj))  # type: ignore[arg-type]

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._parent_allows(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._parent_allows(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._parent_allows(request, obj)


@admin.register(Artist)
class ArtistAdmin(ScopedAdmin):
    owner_lookup = "user"
    artists_may_change = True
    operators_may_change = True
    operators_may_add = True

    inlines = [ArtistLinkInline]
    actions = ["verify_artists"]
    action_form = VerifyActionForm
    list_display = ["display_name", "username", "assurance", "work_count", "created_at"]
    list_filter = ["assurance", "verified", "created_at"]
    search_fields = ["display_name", "credit_line", "user__username"]
    list_select_related = ["user"]
    list_per_page = 100

    class Media:
        css = {"all": ["registry/admin.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).annotate(work_count=Count("works"))

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        # An artist has one profile: the list would hold one row, so go straight to it.
        artist = artist_of(request.user)
        if artist is not None and not is_operator(request.user):
            return HttpResponseRedirect(reverse("admin:registry_artist_change", args=[artist.pk]))
        return super().changelist_view(request, extra_context)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return super().get_actions(request) if is_operator(request.user) else {}

    @admin.display(description=_("Username"), ordering="user__username")
    def username(self, artist: Artist) -> str:
        return str(artist.user.get_username())

    @admin.display(description=_("Works"), ordering="work_count")
    def work_count(self, artist: Artist) -> int:
        return int(getattr(artist, "work_count", 0))

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        kwargs["form"] = ArtistProfileForm if obj is not None else ArtistCreateForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        if obj is None:
            return [
                (None, {"fields": ["username", "email", "password"]}),
                (_("Artist"), {"fields": ["display_name", "credit_line"]}),
            ]
        fieldsets: list[Any] = [
            (None, {"fields": ["display_name", "credit_line"]}),
            (
                _("Verification"),
                {"fields": ["assurance", "assurance_explained", "verified_at"]},
            ),
        ]
        fieldsets += [
            (
                _("Default for %(purpose)s") % {"purpose": Purpose(purpose).label},
                {
                    "fields": list(terms_field_names(purpose)),
                    "description": format_html(
                        '<span class="consentry-purpose-help">{}</span> {}',
                        PURPOSE_HELP[Purpose(purpose)],
                        _(
                            "Applies to every work of yours without terms of its own "
                            "for this purpose."
                        ),
                    ),
                    "classes": ["consentry-terms-fieldset"],
                },
            )
            for purpose in Purpose.values
        ]
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return []
        fields = ["assurance", "assurance_explained", "verified_at"]
        if is_verified(obj.assurance) and not is_operator(request.user):
            # The name staff verified: only they change it (artist_profile_update).
            fields.insert(0, "display_name")
        return fields

    @admin.display(description=_("What this means"))
    def assurance_explained(self, artist: Artist) -> SafeString:
        return format_html("<p>{}</p><p>{}</p>", *_assurance_explained(artist.assurance))

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[Any]:
        return list(self.inlines) if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = form.cleaned_data
        if not change:
            created = artist_create(
                username=data["username"],
                password=data["password"],
                email=data.get("email", ""),
                display_name=data["display_name"],
                credit_line=data.get("credit_line", ""),
            )
            adopt_saved(obj, created)
            return
        if {"display_name", "credit_line"} & set(form.changed_data):
            artist_profile_update(
                artist=obj,
                # Read-only, so left out of the form, for a verified artist's own profile.
                display_name=data.get("display_name", obj.display_name),
                credit_line=data["credit_line"],
                by_operator=is_operator(request.user),
            )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)
        if change:
            for purpose, terms in form.changed_terms().items():
                default_terms_set(artist=form.instance, purpose=purpose, **terms)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        # The links go through services; the lists below feed the admin's change message.
        artist: Artist = form.instance
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for link_form in formset.forms:
            if not getattr(link_form, "cleaned_data", None):
                continue
            link = link_form.instance if link_form.instance.pk else None
            if formset.can_delete and link_form.cleaned_data.get("DELETE"):
                if link is not None:
                    artist_link_delete(artist=artist, link=link)
                    formset.deleted_objects.append(link)
            elif link is None or link_form.has_changed():
                saved = artist_link_save(
                    artist=artist,
                    label=link_form.cleaned_data["label"],
                    url=link_form.cleaned_data["url"],
                    link=link,
                )
                if link is None:
                    formset.new_objects.append(saved)
                else:
                    formset.changed_objects.append((saved, link_form.changed_data))

    @admin.action(description=_("Verify the selected artists (staff checked the evidence)"))
    def verify_artists(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        if not is_operator(request.user):
            raise PermissionDenied
        evidence = request.POST.get("evidence", "").strip()
        if not evidence:
            messages.error(request, _("Say what evidence was checked; nobody was verified."))
            return
        verified = [
            artist
            for artist in queryset.exclude(assurance=Assurance.OPERATOR_VERIFIED)
            if artist_verify(artist=artist, evidence=evidence, by=request.user)
        ]
        messages.success(
            request,
            ngettext(
                "%(count)d artist was verified.", "%(count)d artists were verified.", len(verified)
            )
            % {"count": len(verified)},
        )

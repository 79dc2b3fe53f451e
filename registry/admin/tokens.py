"""Artists' personal API tokens: an artist makes and revokes her own, operators revoke any.
The secret is shown once; Consentry keeps only its digest."""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from registry.admin.access import ScopedAdmin, artist_of
from registry.admin.saved import adopt_saved
from registry.models import Artist, ArtistToken
from registry.services.tokens import artist_token_create, artist_token_revoke


class ArtistTokenForm(forms.ModelForm):
    days = forms.IntegerField(
        label=gettext_lazy("Valid for (days)"),
        min_value=1,
        max_value=3650,
        required=False,
        help_text=gettext_lazy("Empty: the registry's default."),
    )

    class Meta:
        model = ArtistToken
        fields = ["artist", "name"]
        help_texts = {"name": gettext_lazy("What the token is for, e.g. the tool using it.")}


@admin.register(ArtistToken)
class ArtistTokenAdmin(ScopedAdmin):
    owner_lookup = "artist__user"
    artists_may_add = True
    operators_may_add = True
    form = ArtistTokenForm
    actions = ["revoke_tokens"]
    list_display = ["name", "prefix", "artist", "created_at", "expires_at", "state"]
    list_select_related = ["artist"]
    search_fields = ["name", "=prefix", "artist__display_name"]
    list_per_page = 100
    shown_fields = ("name", "prefix", "artist", "created_at", "expires_at", "revoked_at", "state")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None:
            return self.shown_fields
        if artist_of(request.user) is not None:
            return ["name", "days"]
        return ["artist", "name", "days"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.shown_fields if obj is not None else ()

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        if "days" in form.base_fields:
            form.base_fields["days"].help_text = _(
                "Empty: %(days)d days, the registry's default."
            ) % {"days": settings.CONSENTRY_ARTIST_TOKEN_DAYS}
        return form

    @admin.display(description=gettext_lazy("State"))
    def state(self, token: ArtistToken) -> str:
        if token.revoked_at is not None:
            return _("Revoked")
        if token.expires_at <= timezone.now():
            return _("Expired")
        return _("In use")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            raise PermissionDenied
        artist: Artist | None = artist_of(request.user) or form.cleaned_data.get("artist")
        if artist is None:
            raise PermissionDenied
        try:
            token, secret = artist_token_create(
                artist=artist, name=form.cleaned_data["name"], days=form.cleaned_data["days"]
            )
        except ValidationError as error:
            raise PermissionDenied(" ".join(error.messages)) from None
        adopt_saved(obj, token)
        obj.secret_shown_once = secret

    def response_add(
        self, request: HttpRequest, obj: Any, post_url_continue: str | None = None
    ) -> HttpResponse:
        # The secret is in this one response only: not in a message (a cookie may hold
        # messages), not in the database, which keeps its digest.
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "token": obj,
            "secret": obj.secret_shown_once,
            "list_url": reverse("admin:registry_artisttoken_changelist"),
            "title": _("Personal API token created"),
            "subtitle": None,
        }
        response = TemplateResponse(request, "admin/registry/artisttoken/secret.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description=gettext_lazy("Revoke the selected tokens"))
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        revoked = sum(
            artist_token_revoke(token=token) for token in queryset.filter(revoked_at__isnull=True)
        )
        messages.success(
            request,
            ngettext("%(count)d token was revoked.", "%(count)d tokens were revoked.", revoked)
            % {"count": revoked},
        )

"""Who may see what in the admin.

Artists are staff users without Django model permissions: their access to the registry's pages
comes from being an artist (their own rows) or an operator (every row), never from per-model
permissions, so a forgotten permission can neither lock an artist out nor let one see more.
Every row-level rule is a queryset filter: lists, change pages, search, filters, autocomplete,
actions, exports and thumbnails all read through the same `get_queryset`.
"""

from typing import Any

from django.contrib import admin
from django.db.models import Model, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from registry.models import Artist
from registry.models.artists import is_operator


def artist_of(user: Any) -> Artist | None:
    """The artist behind a logged-in user, or None for operators and other staff."""
    if not user.is_authenticated or not user.is_active:
        return None
    try:
        artist: Artist = user.artist
    except Artist.DoesNotExist:
        return None
    return artist


def is_artist(user: Any) -> bool:
    return artist_of(user) is not None


class ScopedAdmin(admin.ModelAdmin):
    """Operators see every row; an artist sees only the rows `owned_by` their user."""

    # The path from this model to the owning user, e.g. "artist__user"; or override owned_by.
    owner_lookup: str = ""
    # False for the pages only operators use (organizations, API keys, screenings).
    artists_may_view = True
    artists_may_change = False
    artists_may_add = False
    operators_may_change = False
    operators_may_add = False

    def owned_by(self, user: Any) -> Q:
        return Q(**{self.owner_lookup: user})

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        if is_operator(request.user):
            return queryset
        if not (self.artists_may_view and is_artist(request.user)):
            return queryset.none()
        return queryset.filter(self.owned_by(request.user))

    def may_enter(self, request: HttpRequest) -> bool:
        return is_operator(request.user) or (self.artists_may_view and is_artist(request.user))

    def owns(self, request: HttpRequest, obj: Model | None) -> bool:
        if obj is None or is_operator(request.user):
            return True
        # Objects reach the admin's own views through get_queryset already; custom views and
        # inlines get the same answer from here.
        return self.get_queryset(request).filter(pk=obj.pk).exists()

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.may_enter(request)

    def _get_obj_does_not_exist_redirect(
        self, request: HttpRequest, opts: Any, object_id: str
    ) -> HttpResponse:
        # Django's change, delete and history views redirect to the index with "… doesn't
        # exist" when get_queryset hides a row. Answer 404 instead, as the API does: another
        # artist's object is indistinguishable from one that was never there.
        raise Http404(_("No such object."))

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.may_enter(request) and self.owns(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if is_operator(request.user):
            return self.operators_may_change
        return self.artists_may_change and self.may_enter(request) and self.owns(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        if is_operator(request.user):
            return self.operators_may_add
        return self.artists_may_add and self.may_enter(request)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        # Nothing in the registry is deleted here: works are removed, grants and keys revoked,
        # and the ledger keeps every event. Each of those is an action that calls a service.
        return False

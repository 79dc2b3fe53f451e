"""Failed admin logins and lockouts (django-axes): operators see them and unlock."""

from typing import Any

from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy, ngettext

from registry.admin.access import ScopedAdmin
from registry.services.logins import login_unlock


@admin.register(AccessAttempt)
class LoginFailuresAdmin(ScopedAdmin):
    artists_may_view = False
    actions = ["unlock"]
    list_display = ["username", "ip_address", "failures_since_start", "attempt_time"]
    fields = readonly_fields = ("username", "ip_address", "failures_since_start", "attempt_time")
    search_fields = ["username", "ip_address"]
    ordering = ["-attempt_time"]

    @admin.action(description=gettext_lazy("Unlock the selected accounts and addresses"))
    def unlock(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        removed = sum(
            login_unlock(username=attempt.username or "", address=attempt.ip_address or "")
            for attempt in queryset
        )
        messages.success(
            request,
            ngettext(
                "%(count)d record of failed logins was removed.",
                "%(count)d records of failed logins were removed.",
                removed,
            )
            % {"count": removed},
        )

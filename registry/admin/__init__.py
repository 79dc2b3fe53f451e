"""The Django admin of artists and operators (docs/admin.md).

Artists log in and see only their own works, terms, grants, disputes and the screenings that
matched their works; operators see everything. Every write goes through a service.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import APIKey

from registry.admin import (  # noqa: F401 - importing registers the ModelAdmins
    artists,
    compliance,
    disputes,
    grants,
    ledger,
    logins,
    organizations,
    screenings,
    tokens,
    works,
)

admin.site.site_header = _("Consentry: consent for AI training")
admin.site.site_title = _("Consentry")
admin.site.index_title = _("Your consent registry")
admin.site.index_template = "registry/admin/index.html"
admin.site.login_template = "registry/admin/login.html"
admin.site.app_index_template = "registry/admin/app_index.html"
# Works need the width for terms at a glance; the index and breadcrumbs lead everywhere.
admin.site.enable_nav_sidebar = False
# There is no public site to view: the registry's public face is its API.
admin.site.site_url = None

# The library's own key model is unused: organizations' keys are OrganizationAPIKey.
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)

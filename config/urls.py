"""The site's URLs: the admin, the versioned API, and the admin's language switch."""

from django.contrib import admin
from django.urls import include, path

from registry.api import health

urlpatterns = [
    # Probes for load balancers and orchestrators, outside the API (docs/operations.md).
    # HealthProbeMiddleware answers them first; the routes make them reachable by name too.
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("registry.api.urls")),
    # set_language: the admin's language switcher posts here; the browser's language is the default.
    path("i18n/", include("django.conf.urls.i18n")),
]

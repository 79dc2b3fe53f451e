"""Compliance endpoints, relative to /api/v1/ (included by registry.api.urls)."""

from django.urls import path

from registry.api import compliance

urlpatterns = [
    path("consent-changes", compliance.ConsentChangesApi.as_view(), name="api-consent-changes"),
    path("webhooks", compliance.WebhookListCreateApi.as_view(), name="api-webhooks"),
    path("webhooks/<int:webhook_id>", compliance.WebhookDetailApi.as_view(), name="api-webhook"),
    path(
        "exports/screening-report",
        compliance.ScreeningReportExportApi.as_view(),
        name="api-export-screening-report",
    ),
    path("exports/ledger", compliance.LedgerExportApi.as_view(), name="api-export-ledger"),
    path("exports/eu-ai-act", compliance.EuAiActExportApi.as_view(), name="api-export-eu-ai-act"),
    path(
        "exports/china-art7",
        compliance.ChinaArt7ExportApi.as_view(),
        name="api-export-china-art7",
    ),
    path("exports/croissant", compliance.CroissantExportApi.as_view(), name="api-export-croissant"),
    path(
        "artist/works/<int:work_id>/withdrawals",
        compliance.WorkWithdrawalsApi.as_view(),
        name="api-artist-work-withdrawals",
    ),
]

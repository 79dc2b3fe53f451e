from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from registry.api import (
    artists,
    chunk_decisions,
    compliance_urls,
    errors,
    optout,
    platform,
    public,
    schema,  # noqa: F401 - registers the API key scheme with the schema
    screenings,
    urls_check,
)

urlpatterns = [
    path("schema", SpectacularAPIView.as_view(), name="api-schema"),
    # Split: the page's start-up script is a file of its own, so the CSP needs no inline script.
    path("docs", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("matching", public.MatchingApi.as_view(), name="api-matching"),
    path("receipts/key", public.ReceiptKeyApi.as_view(), name="api-receipt-key"),
    path("platforms", public.PlatformKeysApi.as_view(), name="api-platforms"),
    path("ledger/checkpoint", public.LedgerCheckpointApi.as_view(), name="api-ledger-checkpoint"),
    path("credits/<int:work_id>", public.CreditApi.as_view(), name="api-credit"),
    path(
        "artists/<int:artist_id>/policy", public.ArtistPolicyApi.as_view(), name="api-artist-policy"
    ),
    path("screenings", screenings.ScreeningListCreateApi.as_view(), name="api-screenings"),
    path(
        "screenings/<uuid:screening_id>",
        screenings.ScreeningDetailApi.as_view(),
        name="api-screening-detail",
    ),
    path(
        "screenings/<uuid:screening_id>/items",
        screenings.ScreeningItemsApi.as_view(),
        name="api-screening-items",
    ),
    path(
        "screenings/<uuid:screening_id>/chunks",
        screenings.ScreeningChunkApi.as_view(),
        name="api-screening-chunks",
    ),
    path(
        "screenings/<uuid:screening_id>/chunks/<int:number>/verification",
        screenings.ScreeningChunkVerificationApi.as_view(),
        name="api-screening-chunk-verification",
    ),
    path(
        "screenings/<uuid:screening_id>/decisions",
        chunk_decisions.ScreeningChunkDecisionsApi.as_view(),
        name="api-screening-decisions",
    ),
    path(
        "screenings/<uuid:screening_id>/close",
        screenings.ScreeningCloseApi.as_view(),
        name="api-screening-close",
    ),
    path("check", screenings.CheckApi.as_view(), name="api-check"),
    path("urls/check", urls_check.UrlCheckApi.as_view(), name="api-urls-check"),
    path(
        "platform/attestations",
        platform.PlatformAttestationApi.as_view(),
        name="api-platform-attestations",
    ),
    path("artist/works", artists.WorkListCreateApi.as_view(), name="api-artist-works"),
    path("artist/works/<int:work_id>", artists.WorkDetailApi.as_view(), name="api-artist-work"),
    path(
        "artist/works/<int:work_id>/screenings",
        artists.WorkScreeningsApi.as_view(),
        name="api-artist-work-screenings",
    ),
    path("artist/uploads", artists.UploadListApi.as_view(), name="api-artist-uploads"),
    path(
        "artist/uploads/<int:upload_id>",
        artists.UploadDetailApi.as_view(),
        name="api-artist-upload",
    ),
    path("artist/terms", artists.TermsApi.as_view(), name="api-artist-terms"),
    path("artist/defaults", artists.DefaultTermsApi.as_view(), name="api-artist-defaults"),
    path("artist/sites", optout.SitesApi.as_view(), name="api-artist-sites"),
    path("artist/sites/<int:site_id>", optout.SiteDetailApi.as_view(), name="api-artist-site"),
    path(
        "artist/sites/<int:site_id>/verification",
        optout.SiteVerificationApi.as_view(),
        name="api-artist-site-verification",
    ),
    path("artist/signals", optout.SignalFilesApi.as_view(), name="api-artist-signals"),
    path(
        "artist/works/<int:work_id>/tagged-image",
        optout.TaggedImageApi.as_view(),
        name="api-artist-work-tagged-image",
    ),
]
# Spread rather than include()d, so every route is listed (and schema-tested) on its own.
urlpatterns += compliance_urls.urlpatterns
# Last: whatever matched no route above answers the API's JSON 404.
# "^" without "$" matches every path, even one with a newline in it.
urlpatterns.append(re_path(r"^", errors.not_found, name="api-not-found"))

"""Artists' opt-out signals: their sites' reservations, and the standard files and headers that
say their terms to every crawler (TDMRep, ai.txt, X-Robots-Tag, IPTC plus:DataMining)."""

from typing import TYPE_CHECKING

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from registry.api.artists import ArtistApi
from registry.api.auth import artist_of
from registry.api.fields import StrictCharField
from registry.api.parsers import JSONParser
from registry.api.schema import error
from registry.optout import (
    XmpWriteError,
    ai_txt,
    header_lines,
    image_with_data_mining,
    tdmrep_files,
)
from registry.selectors.sites import site_of, site_prefixes, sites_of
from registry.selectors.terms import default_permissions, work_permissions
from registry.selectors.works import work_of_artist
from registry.services.site_tokens import site_token_check_request
from registry.services.sites import site_register, site_remove
from registry.site_fetch import token_url

if TYPE_CHECKING:
    from registry.models import Artist

SIGNAL_FILES = ("tdmrep", "ai-txt", "headers")


class SiteOut(serializers.Serializer):
    id = serializers.IntegerField()
    url_prefix = serializers.CharField()
    verified = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class SiteIn(serializers.Serializer):
    url_prefix = StrictCharField(max_length=500)


class SitesApi(ArtistApi):
    parser_classes = [JSONParser]

    @extend_schema(responses=SiteOut(many=True), summary="Your sites' URL prefixes")
    def get(self, request: Request) -> Response:
        sites = sites_of(artist_of(request))
        return Response(SiteOut(sites, many=True).data)

    @extend_schema(
        request=SiteIn,
        responses={201: SiteOut},
        summary="Register a URL prefix of your own site",
        description="Items downloaded from under it count as your works once staff verify it.",
    )
    def post(self, request: Request) -> Response:
        data = SiteIn(data=request.data)
        data.is_valid(raise_exception=True)
        site = site_register(artist=artist_of(request), **data.validated_data)
        return Response(SiteOut(site).data, status=status.HTTP_201_CREATED)


class SiteDetailApi(ArtistApi):
    @extend_schema(responses={204: None}, summary="Remove one of your site prefixes")
    def delete(self, request: Request, site_id: int) -> Response:
        site_remove(site=site_of(artist=artist_of(request), site_id=site_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SiteVerificationOut(serializers.Serializer):
    token = serializers.CharField(help_text="Serve exactly this text at token_url.")
    token_url = serializers.URLField()
    verified = serializers.BooleanField()


class SiteVerificationApi(ArtistApi):
    @extend_schema(
        request=None,
        responses={202: SiteVerificationOut},
        summary="Prove you control one of your sites",
        description="Serve the token at token_url, then call this again: a worker fetches it "
        "(redirects only within the same host) and, when it matches, the site is verified and "
        "your claims become site_verified.",
    )
    def post(self, request: Request, site_id: int) -> Response:
        site = site_of(artist=artist_of(request), site_id=site_id)
        site_token_check_request(site=site)
        body = {"token": site.token, "token_url": token_url(site.url_prefix)}
        return Response(
            SiteVerificationOut({**body, "verified": site.verified}).data,
            status=status.HTTP_202_ACCEPTED,
        )


def _signal_file(kind: str, artist: "Artist", policy_url: str) -> str:
    permissions = default_permissions(artist)
    if kind == "headers":
        return "\n".join(header_lines(permissions, policy_url=policy_url)) + "\n"
    if kind == "ai-txt":
        return ai_txt(permissions, credit=artist.credit)
    files = tdmrep_files(
        site_prefixes(artist) or ["https://example.org/"],
        permissions,
        policy_url=policy_url,
    )
    return "\n".join(
        f"# {origin}/.well-known/tdmrep.json\n{text}" for origin, text in files.items()
    )


class SignalFilesApi(ArtistApi):
    @extend_schema(
        parameters=[OpenApiParameter("kind", enum=list(SIGNAL_FILES), required=True)],
        responses={(200, "text/plain"): OpenApiTypes.STR},
        summary="Your terms as crawler signals: tdmrep.json, ai.txt or response headers",
        description="From your default terms. Serve tdmrep.json at /.well-known/tdmrep.json of "
        "each registered site, ai.txt at its root, the header lines on your images.",
    )
    def get(self, request: Request) -> HttpResponse:
        kind = request.query_params.get("kind", "")
        if kind not in SIGNAL_FILES:
            raise serializers.ValidationError(
                {"detail": f"kind must be one of {', '.join(SIGNAL_FILES)}."}
            )
        artist = artist_of(request)
        policy_url = request.build_absolute_uri(reverse("api-artist-policy", args=[artist.pk]))
        text = _signal_file(kind, artist, policy_url)
        return HttpResponse(text, content_type="text/plain; charset=utf-8")


class TaggedImageApi(ArtistApi):
    @extend_schema(
        responses={
            (200, "image/*"): OpenApiTypes.BINARY,
            404: error("Not yours, or no image stored"),
            409: error("The image cannot carry XMP"),
        },
        summary="A copy of your work's image with plus:DataMining written into its XMP",
    )
    def get(self, request: Request, work_id: int) -> HttpResponse | Response:
        work = work_of_artist(artist=artist_of(request), work_id=work_id)
        if not work.image:
            return Response({"detail": "No image is stored for this work."}, status=404)
        with work.image.open("rb") as stored:
            data = stored.read()
        try:
            tagged = image_with_data_mining(data, work_permissions(work))
        except XmpWriteError as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        response = HttpResponse(tagged.data, content_type=f"image/{tagged.format.lower()}")
        filename = f"work-{work.pk}.{tagged.format.lower()}"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

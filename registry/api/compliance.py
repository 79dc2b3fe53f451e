"""Compliance endpoints: exports for the organization concerned, the consent-changes feed, its
webhooks, and the artist's view of who was told about a withdrawal.

Scoped to the caller: another organization's screening, another organization's webhook and
another artist's work all answer 404, as if they did not exist.
"""

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from registry.api.artists import ArtistApi
from registry.api.auth import artist_of, organization_of
from registry.api.fields import StrictCharField, refuse_empty
from registry.api.parsers import JSONParser
from registry.api.schema import error
from registry.api.screenings import OrganizationApi
from registry.exports.kinds import (
    CONTENT_TYPES,
    KINDS,
    UnknownExport,
    parse_moment,
    prepare_export,
)
from registry.selectors.compliance import (
    FEED_MAX_PAGE_SIZE,
    FEED_PAGE_SIZE,
    ExportScope,
    consent_changes,
    webhook_endpoint_of,
    webhook_endpoints_of,
    withdrawals_for_work,
    work_withdrawal,
)
from registry.selectors.ledger import registry_version
from registry.selectors.screenings import ScreeningMissing
from registry.selectors.works import work_of_artist
from registry.services.compliance import (
    notice_document,
    webhook_endpoint_disable,
    webhook_endpoint_register,
)

if TYPE_CHECKING:
    from registry.models import WebhookEndpoint

# --- Exports ----------------------------------------------------------------------------------


class DownloadNegotiation(BaseContentNegotiation):
    """An export has one media type per format, chosen by `?format=`, whatever Accept says."""

    def select_parser(self, request: Request, parsers: Any) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Request, renderers: Any, format_suffix: Any = None) -> Any:
        return (renderers[0], renderers[0].media_type)


def _scope_of(request: Request) -> ExportScope:
    params = request.query_params
    try:
        # Given means given: an empty value is refused like any other that is not a moment.
        since, until = (
            parse_moment(params[name]) if name in params else None for name in ("since", "until")
        )
    except UnknownExport as error:
        raise exceptions.ValidationError({"detail": str(error)}) from None
    return ExportScope(
        organization=organization_of(request),
        since=since,
        until=until,
        screening_ids=tuple(params.getlist("screening")),
    )


class ExportApi(OrganizationApi):
    content_negotiation_class = DownloadNegotiation
    kind = ""

    def get(self, request: Request) -> StreamingHttpResponse:
        # prepare_export reads an empty format as the default; the API refuses it.
        refuse_empty(request, "format")
        try:
            prepared = prepare_export(
                self.kind, request.query_params.get("format"), _scope_of(request)
            )
        except ScreeningMissing:
            raise exceptions.NotFound("No such screening.") from None
        except (UnknownExport, ValidationError) as error:
            message = "; ".join(error.messages) if isinstance(error, ValidationError) else error
            raise exceptions.ValidationError({"detail": str(message)}) from None
        response = StreamingHttpResponse(
            (chunk.encode() for chunk in prepared.chunks()), content_type=prepared.content_type
        )
        response["Content-Disposition"] = f'attachment; filename="{prepared.filename}"'
        return response


def _export_body(fmt: str) -> OpenApiTypes:
    """A JSON export is one document (an object); CSV, HTML and JSON Lines are text."""
    return OpenApiTypes.OBJECT if fmt in ("json", "jsonld") else OpenApiTypes.STR


def _export_schema(kind_name: str, summary: str, description: str) -> Any:
    kind = KINDS[kind_name]
    parameters = [
        OpenApiParameter(
            "format",
            str,
            enum=list(kind.formats),
            required=False,
            description=f"Format (default {kind.default_format}).",
        ),
        OpenApiParameter("until", OpenApiTypes.DATETIME, required=False),
    ]
    if kind_name != "ledger":
        parameters += [
            OpenApiParameter("since", OpenApiTypes.DATETIME, required=False),
            OpenApiParameter(
                "screening",
                OpenApiTypes.UUID,
                many=True,
                required=False,
                description="Only these screenings (repeat the parameter).",
            ),
        ]
    responses: dict[Any, Any] = {
        (200, CONTENT_TYPES[fmt].split(";")[0]): _export_body(fmt) for fmt in kind.formats
    }
    responses[400] = error("Bad parameter")
    responses[404] = error("No such screening, or not yours")
    return extend_schema(
        parameters=parameters, responses=responses, summary=summary, description=description
    )


class ScreeningReportExportApi(ExportApi):
    kind = "screening-report"

    @_export_schema(
        "screening-report",
        "Screening report (CSV, JSON or printable HTML)",
        "Per screening of the period: purpose, mode, counts per decision and per reason, "
        "registry version and signed receipt. CSV cells are escaped against formula injection.",
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        return super().get(request)


class LedgerExportApi(ExportApi):
    kind = "ledger"

    @_export_schema(
        "ledger",
        "The consent ledger as JSON Lines with a signed checkpoint",
        "Verify offline with `python manage.py verify_ledger --export FILE --key-file PEM`.",
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        return super().get(request)


class EuAiActExportApi(ExportApi):
    kind = "eu-ai-act"

    @_export_schema(
        "eu-ai-act",
        "EU AI Act Art. 53(1)(c)-(d) evidence pack",
        "How reservations of rights were identified and honoured, what was screened, excluded "
        "and why, and the data-processing answers of the training-content summary template.",
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        return super().get(request)


class ChinaArt7ExportApi(ExportApi):
    kind = "china-art7"

    @_export_schema(
        "china-art7",
        "China Generative AI Measures Art. 7 lawful-source record",
        "Per item that passed: the registered work, artist, terms and grant it rests on.",
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        return super().get(request)


class CroissantExportApi(ExportApi):
    kind = "croissant"

    @_export_schema(
        "croissant",
        "Croissant 1.1 JSON-LD of the items that passed",
        "License, creator and citeAs per record, with the Responsible-AI fields that apply.",
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        return super().get(request)


# --- The consent-changes feed -----------------------------------------------------------------


class AffectedScreeningOut(serializers.Serializer):
    screening_id = serializers.UUIDField()
    purpose = serializers.CharField()
    item_ids = serializers.ListField(child=serializers.CharField())


class ConsentEventRefOut(serializers.Serializer):
    sequence = serializers.IntegerField()
    kind = serializers.CharField()
    hash = serializers.CharField()
    recorded_at = serializers.DateTimeField()


class ConsentChangeOut(serializers.Serializer):
    id = serializers.UUIDField(help_text="The event id, also sent as Consentry-Event-Id.")
    type = serializers.CharField()
    consent_event = ConsentEventRefOut()
    work_ids = serializers.ListField(child=serializers.IntegerField())
    affected = AffectedScreeningOut(many=True)
    item_count = serializers.IntegerField()
    published_at = serializers.DateTimeField()


class ConsentChangesApi(OrganizationApi):
    class ConsentChangesPageOut(serializers.Serializer):
        results = ConsentChangeOut(many=True)
        next_after = serializers.IntegerField(allow_null=True)
        next = serializers.CharField(allow_null=True)
        registry_version = serializers.DictField()

    class FeedQueryIn(serializers.Serializer):
        after = serializers.IntegerField(min_value=0, default=0)
        limit = serializers.IntegerField(
            min_value=1, max_value=FEED_MAX_PAGE_SIZE, default=FEED_PAGE_SIZE
        )

    @extend_schema(
        parameters=[FeedQueryIn],
        responses={200: ConsentChangesPageOut},
        summary="Consent withdrawals that concern you, after a ledger sequence",
        description="Works you were told `allowed` for whose consent was withdrawn, with the "
        "affected item ids of your screenings. Page with `after` = the last `sequence` seen "
        "(`next_after`); an empty page means you are up to date.",
    )
    def get(self, request: Request) -> Response:
        # DRF reads `after=` as absent (the default, 0); a client that sent it meant a value.
        refuse_empty(request, *self.FeedQueryIn().fields)
        query = self.FeedQueryIn(data=request.query_params)
        query.is_valid(raise_exception=True)
        limit = query.validated_data["limit"]
        notices = consent_changes(
            organization=organization_of(request),
            after=query.validated_data["after"],
            limit=limit,
        )
        next_after = notices[-1].sequence if len(notices) == limit else None
        next_url = (
            request.build_absolute_uri(f"{request.path}?after={next_after}&limit={limit}")
            if next_after is not None
            else None
        )
        return Response(
            {
                "results": [notice_document(notice) for notice in notices],
                "next_after": next_after,
                "next": next_url,
                "registry_version": registry_version().as_dict(),
            }
        )


# --- Webhooks ---------------------------------------------------------------------------------


class WebhookEndpointOut(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.URLField()
    description = serializers.CharField()
    active = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class WebhookListCreateApi(OrganizationApi):
    parser_classes = [JSONParser]

    class WebhookEndpointIn(serializers.Serializer):
        url = serializers.URLField(max_length=2048)
        description = StrictCharField(max_length=200, required=False, default="", allow_blank=True)

    class WebhookEndpointCreatedOut(WebhookEndpointOut):
        secret = serializers.CharField(
            help_text="Verifies the Consentry-Signature header; shown only in this answer."
        )

    @extend_schema(responses=WebhookEndpointOut(many=True), summary="Your webhook endpoints")
    def get(self, request: Request) -> Response:
        endpoints = webhook_endpoints_of(organization_of(request))
        return Response(WebhookEndpointOut(endpoints, many=True).data)

    @extend_schema(
        request=WebhookEndpointIn,
        responses={201: WebhookEndpointCreatedOut, 400: error("Bad URL, or registered already")},
        summary="Register a webhook endpoint for consent withdrawals",
        description="HTTPS only (plain HTTP for loopback in development). Each POST carries "
        "`Consentry-Event-Id` and `Consentry-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "
        '"<t>.<body>" with the secret>`; answer 2xx, else it is retried with back-off.',
    )
    def post(self, request: Request) -> Response:
        data = self.WebhookEndpointIn(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = webhook_endpoint_register(
            organization=organization_of(request), **data.validated_data
        )
        return Response(
            self.WebhookEndpointCreatedOut(endpoint).data, status=status.HTTP_201_CREATED
        )


class WebhookDetailApi(OrganizationApi):
    def _own_endpoint(self, request: Request, webhook_id: int) -> "WebhookEndpoint":
        return webhook_endpoint_of(organization=organization_of(request), webhook_id=webhook_id)

    @extend_schema(
        responses={200: WebhookEndpointOut, 404: error("Not yours")},
        summary="One of your webhook endpoints",
    )
    def get(self, request: Request, webhook_id: int) -> Response:
        return Response(WebhookEndpointOut(self._own_endpoint(request, webhook_id)).data)

    @extend_schema(
        responses={204: None, 404: error("Not yours")},
        summary="Stop sending to a webhook endpoint",
        description="Disables it, and keeps it: it is still read here and listed, with "
        "`active` false, as the record of where notices went.",
    )
    def delete(self, request: Request, webhook_id: int) -> Response:
        webhook_endpoint_disable(endpoint=self._own_endpoint(request, webhook_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- The artist's view ------------------------------------------------------------------------


class WorkWithdrawalsApi(ArtistApi):
    class WorkWithdrawalOut(serializers.Serializer):
        organization = serializers.CharField()
        sequence = serializers.IntegerField(help_text="The consent change in the ledger.")
        kind = serializers.CharField()
        recorded_at = serializers.DateTimeField()
        published_at = serializers.DateTimeField(
            help_text="When the organization's feed showed it."
        )
        item_count = serializers.IntegerField()
        webhook_delivered_at = serializers.DateTimeField(
            allow_null=True, help_text="When its webhook first answered 2xx, if it has one."
        )

    class Pagination(CursorPagination):
        ordering = "-sequence"

    pagination_class = Pagination  # documents the paged answer and its cursor

    @extend_schema(
        responses={
            200: WorkWithdrawalOut(many=True),
            404: error("Not yours"),
        },
        summary="Which organizations were told your consent was withdrawn, and when",
    )
    def get(self, request: Request, work_id: int) -> Response:
        work = work_of_artist(artist=artist_of(request), work_id=work_id)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(withdrawals_for_work(work), request, view=self)
        rows = [work_withdrawal(notice) for notice in page or []]
        return paginator.get_paginated_response(self.WorkWithdrawalOut(rows, many=True).data)

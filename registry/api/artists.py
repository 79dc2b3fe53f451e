"""Artists' endpoints for their own works: upload, terms, defaults, and who screened them.

Scoped to the caller: another artist's work answers 404, as if it did not exist.
"""

import uuid
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from registry.api.auth import (
    ArtistTokenAuthentication,
    IsArtist,
    admit_upload,
    artist_of,
    request_object,
)
from registry.api.fields import LicenseField, StrictCharField, UploadField
from registry.api.parsers import JSONParser
from registry.api.schema import ConsentryAutoSchema, error
from registry.choice_labels import (
    PendingUploadStatus,
    Permission,
    Purpose,
    UploadProblem,
    WorkHold,
)
from registry.selectors.terms import default_terms_rows, work_terms
from registry.selectors.uploads import (
    problem_sentence,
    upload_notice,
    upload_of,
    uploads_of,
)
from registry.selectors.works import (
    hold_sentence,
    work_of_artist,
    work_screenings,
    works_of,
    works_of_artist,
)
from registry.services.pending_uploads import pending_uploads_create
from registry.services.terms import default_terms_set, terms_set

if TYPE_CHECKING:
    from registry.models import PendingUpload, Work
else:
    # drf-spectacular resolves every annotation of a method field to read its return type.
    PendingUpload = Work = Any


class ArtistApi(APIView):
    # The token first: a refused call answers 401 with WWW-Authenticate: Token, not 403.
    authentication_classes = [ArtistTokenAuthentication, SessionAuthentication]
    permission_classes = [IsArtist]
    schema = ConsentryAutoSchema()


class TermsIn(serializers.Serializer):
    purpose = serializers.ChoiceField(choices=Purpose.choices)
    permission = serializers.ChoiceField(choices=Permission.choices)
    license = LicenseField()
    attribution = StrictCharField(required=False, default="", allow_blank=True)


class WorkOut(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    credit_line = serializers.CharField(source="credit")
    source_urls = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    removed_at = serializers.DateTimeField(allow_null=True)
    hold = serializers.ChoiceField(
        choices=WorkHold.choices,
        allow_blank=True,
        help_text="Set while the work is held: it allows no use until an operator reviews it",
    )
    held_because = serializers.SerializerMethodField(
        help_text="While the work is held: why, in a sentence; else null"
    )
    terms = serializers.SerializerMethodField()

    def get_held_because(self, work: Work) -> str | None:
        return hold_sentence(work) or None

    def get_terms(self, work: Work) -> dict[str, dict[str, str]]:
        return {
            purpose: {
                "permission": terms.permission,
                "license": terms.license,
                "attribution": terms.attribution,
                "source": terms.source,
            }
            for purpose, terms in work_terms(work).items()
        }


class UploadOut(serializers.Serializer):
    id = serializers.IntegerField()
    file = serializers.CharField(source="filename")
    batch = serializers.UUIDField(help_text="The same for every file of one request")
    status = serializers.ChoiceField(choices=PendingUploadStatus.choices)
    url = serializers.SerializerMethodField(help_text="Where this file's status is read")
    work_id = serializers.IntegerField(allow_null=True, help_text="Once registered")
    disputes = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="Disputes opened because the image resembles another artist's work",
    )
    problem = serializers.ChoiceField(
        choices=UploadProblem.choices, allow_blank=True, help_text="Once refused: why"
    )
    error = serializers.SerializerMethodField(help_text="Once refused: why, in a sentence")
    detail = serializers.CharField(help_text="The decoder's or the registry's own words")
    notice = serializers.SerializerMethodField(
        help_text=(
            "Once registered: why the work is held (it allows no use until an operator "
            "reviews it), or why only exact copies of it will be matched; else null"
        )
    )

    def get_url(self, upload: PendingUpload) -> str:
        path = reverse("api-artist-upload", args=[upload.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path

    def get_error(self, upload: PendingUpload) -> str | None:
        return problem_sentence(upload) if upload.problem else None

    def get_notice(self, upload: PendingUpload) -> str | None:
        return upload_notice(upload) or None


def _own_work(request: Request, work_id: int) -> "Work":
    return work_of_artist(artist=artist_of(request), work_id=work_id)


class WorkListCreateApi(ArtistApi):
    parser_classes = [MultiPartParser, JSONParser]

    class Pagination(CursorPagination):
        ordering = "-created_at"

    pagination_class = Pagination  # documents the paged answer and its cursor

    class UploadIn(serializers.Serializer):
        images = serializers.ListField(child=UploadField(), min_length=1)
        allow = serializers.ListField(
            child=serializers.ChoiceField(choices=Purpose.choices), required=False, default=list
        )
        license = LicenseField()

    @extend_schema(responses=WorkOut(many=True), summary="Your works")
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        works = works_of(artist_of(request))
        page = paginator.paginate_queryset(works, request, view=self)
        return paginator.get_paginated_response(WorkOut(page, many=True).data)

    @extend_schema(
        request={"multipart/form-data": UploadIn},
        responses={
            202: UploadOut(many=True),
            400: error("Too many bytes or pixels in one request (the message names the limit)"),
            429: error("The hour's upload budget is spent (Retry-After)"),
        },
        summary="Upload images as works, many at once",
        description=(
            "The files are stored and registered by the worker, each on its own: the answer "
            "lists each file as `processing` (or refused at once when empty or too large) with "
            "the URL of its status, which turns `registered` (with the work) or `refused` "
            "(with the reason)."
        ),
    )
    def post(self, request: Request) -> Response:
        form = request_object(request)
        upload = self.UploadIn(
            data={
                "images": request.FILES.getlist("images"),
                "allow": form.getlist("allow") if isinstance(form, QueryDict) else [],
                "license": form.get("license", ""),
            }
        )
        upload.is_valid(raise_exception=True)
        artist = artist_of(request)
        admit_upload(owner=f"artist:{artist.pk}", uploads=upload.validated_data["images"])
        try:
            pending = pending_uploads_create(
                artist=artist,
                uploads=upload.validated_data["images"],
                allow=upload.validated_data["allow"],
                license=upload.validated_data["license"],
            )
        except ValidationError as refused:
            raise serializers.ValidationError({"license": refused.messages}) from None
        answer = UploadOut(pending, many=True, context={"request": request})
        return Response(answer.data, status=status.HTTP_202_ACCEPTED)


class UploadListApi(ArtistApi):
    class Pagination(CursorPagination):
        ordering = ("-created_at", "-id")

    pagination_class = Pagination  # documents the paged answer and its cursor

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "batch",
                OpenApiTypes.UUID,
                required=False,
                description="Only the files sent in one request (each file's `batch`)",
            )
        ],
        responses={200: UploadOut(many=True), 400: error("`batch` is not a UUID")},
        summary="Your uploaded files, newest first: processing, registered or refused",
    )
    def get(self, request: Request) -> Response:
        batch = None
        if "batch" in request.query_params:
            try:
                batch = uuid.UUID(request.query_params["batch"])
            except ValueError:
                raise serializers.ValidationError({"batch": ["Not a UUID."]}) from None
        uploads = uploads_of(artist_of(request), batch=batch)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(uploads, request, view=self)
        data = UploadOut(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(data)


class UploadDetailApi(ArtistApi):
    @extend_schema(
        responses={200: UploadOut, 404: error("Not yours")},
        summary="One uploaded file: processing, registered or refused",
    )
    def get(self, request: Request, upload_id: int) -> Response:
        pending = upload_of(artist=artist_of(request), upload_id=upload_id)
        return Response(UploadOut(pending, context={"request": request}).data)


class WorkDetailApi(ArtistApi):
    @extend_schema(
        responses={200: WorkOut, 404: error("Not yours")},
        summary="One of your works, with its terms per purpose",
    )
    def get(self, request: Request, work_id: int) -> Response:
        return Response(WorkOut(_own_work(request, work_id)).data)


class WorkScreeningsApi(ArtistApi):
    class WorkScreeningOut(serializers.Serializer):
        organization = serializers.CharField(source="organization.name")
        screening_id = serializers.UUIDField()
        purpose = serializers.CharField(source="screening.purpose")
        decision = serializers.CharField()
        decided_at = serializers.DateTimeField()

    class Pagination(CursorPagination):
        ordering = "-decided_at"

    pagination_class = Pagination  # documents the paged answer and its cursor

    @extend_schema(responses=WorkScreeningOut(many=True), summary="Who screened this work")
    def get(self, request: Request, work_id: int) -> Response:
        work = _own_work(request, work_id)
        rows = work_screenings(work)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(self.WorkScreeningOut(page, many=True).data)


class TermsApi(ArtistApi):
    parser_classes = [JSONParser]

    class BulkTermsIn(TermsIn):
        work_ids = serializers.ListField(child=serializers.IntegerField(), min_length=1)

    class TermsChangedOut(serializers.Serializer):
        changed = serializers.IntegerField()

    @extend_schema(
        request=BulkTermsIn,
        responses={200: TermsChangedOut, 404: error("A work is not yours")},
        summary="Set one purpose's terms on your works",
    )
    def post(self, request: Request) -> Response:
        data = self.BulkTermsIn(data=request.data)
        data.is_valid(raise_exception=True)
        artist = artist_of(request)
        ids: list[int] = data.validated_data.pop("work_ids")
        works = works_of_artist(artist=artist, work_ids=ids)
        if len(works) != len(set(ids)):
            return Response({"detail": "No such work."}, status=status.HTTP_404_NOT_FOUND)
        events = terms_set(artist=artist, works=works, **data.validated_data)
        return Response({"changed": len(events)})


class DefaultTermsApi(ArtistApi):
    parser_classes = [JSONParser]

    class DefaultsChangedOut(serializers.Serializer):
        changed = serializers.BooleanField()

    @extend_schema(
        request=TermsIn, responses=DefaultsChangedOut, summary="Set a default for your works"
    )
    def post(self, request: Request) -> Response:
        data = TermsIn(data=request.data)
        data.is_valid(raise_exception=True)
        event = default_terms_set(artist=artist_of(request), **data.validated_data)
        return Response({"changed": event is not None})

    @extend_schema(responses=TermsIn(many=True), summary="Your defaults")
    def get(self, request: Request) -> Response:
        defaults = default_terms_rows(artist_of(request))
        return Response(TermsIn(defaults, many=True).data)

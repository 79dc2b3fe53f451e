"""Artists' endpoints for their own works: upload, terms, defaults, and who screened them.

Scoped to the caller: another artist's work answers 404, as if it did not exist.
"""

from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from registry.api.auth import IsArtist, artist_of, request_object
from registry.api.fields import LicenseField, StrictCharField, UploadField
from registry.api.parsers import JSONParser
from registry.api.schema import ConsentryAutoSchema, error
from registry.fingerprints import ImageDecodeError
from registry.models import Permission, Purpose, Work, WorkScreening
from registry.selectors.terms import effective_terms
from registry.services.terms import default_terms_set, terms_set
from registry.services.works import title_from_filename, work_register


class ArtistApi(APIView):
    authentication_classes = [SessionAuthentication, TokenAuthentication]
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
    terms = serializers.SerializerMethodField()

    def get_terms(self, work: Work) -> dict[str, dict[str, str]]:
        return {
            purpose: {
                "permission": terms.permission,
                "license": terms.license,
                "attribution": terms.attribution,
                "source": terms.source,
            }
            for purpose in Purpose.values
            for terms in [effective_terms([work.pk], purpose)[work.pk]]
        }


def _own_work(request: Request, work_id: int) -> Work:
    return get_object_or_404(Work, pk=work_id, artist=artist_of(request))


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

    class UploadResultOut(serializers.Serializer):
        file = serializers.CharField()
        work_id = serializers.IntegerField(required=False)
        disputes = serializers.ListField(child=serializers.IntegerField(), required=False)
        error = serializers.CharField(required=False)
        notice = serializers.CharField(
            required=False, help_text="Why the work is matched by exact copies only."
        )

    @extend_schema(responses=WorkOut(many=True), summary="Your works")
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        works = Work.objects.filter(artist=artist_of(request))
        page = paginator.paginate_queryset(works, request, view=self)
        return paginator.get_paginated_response(WorkOut(page, many=True).data)

    @extend_schema(
        request={"multipart/form-data": UploadIn},
        responses={207: UploadResultOut(many=True)},
        summary="Upload images as works, many at once",
        description="Each file is registered or refused on its own; the answer lists both.",
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
        results = []
        for image in upload.validated_data["images"]:
            name = image.name or "image"
            try:
                registration = work_register(
                    artist=artist,
                    data=image.read(),
                    title=title_from_filename(name),
                    allow=upload.validated_data["allow"],
                    license=upload.validated_data["license"],
                )
            except ImageDecodeError as error:
                results.append({"file": name, "error": str(error)})
            except ValidationError as error:
                results.append({"file": name, "error": "; ".join(error.messages)})
            else:
                result = {
                    "file": name,
                    "work_id": registration.work.pk,
                    "disputes": [dispute.pk for dispute in registration.disputes],
                }
                if registration.notice:
                    result["notice"] = registration.notice
                results.append(result)
        return Response(results, status=status.HTTP_207_MULTI_STATUS)


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
        rows = WorkScreening.objects.filter(work=work).select_related("organization", "screening")
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
        works = list(Work.objects.filter(artist=artist, pk__in=ids))
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
        defaults = artist_of(request).default_terms.all()
        return Response(TermsIn(defaults, many=True).data)

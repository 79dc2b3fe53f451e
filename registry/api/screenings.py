"""The AI team's endpoints: screenings, their items, and the synchronous check."""

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NoReturn

from django.conf import settings
from django.http import StreamingHttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.exceptions import UnsupportedMediaType
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from registry.api.auth import (
    IsOrganization,
    OrganizationAPIKeyAuthentication,
    OrganizationRateThrottle,
    admit_upload,
    missing_api_key,
    organization_of,
    request_object,
)
from registry.api.errors import PayloadTooLarge
from registry.api.fields import StrictBooleanField, UploadField, refuse_empty
from registry.api.parsers import HashesParser, JSONParser, VerificationParser
from registry.api.schema import ConsentryAutoSchema, error
from registry.api.uploads import items_from_files
from registry.choice_labels import Assurance, Decision, MinimumAssurance, Purpose, ScreeningMode
from registry.chunk_wire import (
    HASHES_MEDIA_TYPE,
    VERIFICATION_MEDIA_TYPE,
    OtherLayout,
    TooManyItems,
    WireFormatError,
    decode_hashes,
    decode_verification,
)
from registry.fingerprints.regions import MAX_REGIONS
from registry.gatekeeper import passes
from registry.selectors.coverage import item_coverage
from registry.selectors.decisions import decide_items
from registry.selectors.ledger import registry_version
from registry.selectors.screenings import (
    items_of,
    screening_by_id,
    screening_of,
    screenings_of,
)
from registry.services.screening_hashes import (
    HashedChunk,
    screening_add_hashes,
    screening_verify_chunk,
)
from registry.services.screenings import (
    screening_add_chunk,
    screening_close,
    screening_create,
    validate_items,
)

if TYPE_CHECKING:
    from registry.models import Screening
else:
    # drf-spectacular resolves every annotation of a method field to read its return type.
    Screening = Any

NDJSON = "application/x-ndjson"
# ScreeningChunk.number is a PositiveIntegerField: a 32-bit integer column.
MAX_CHUNK_NUMBER = 2**31 - 1


class NDJSONRenderer(BaseRenderer):
    """Lets `Accept: application/x-ndjson` through content negotiation; the view streams."""

    media_type = NDJSON
    format = "ndjson"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        return JSONRenderer().render(data) + b"\n"


class RegionDoc(serializers.Serializer):
    """A part of an item's image that may hold a registered work (fingerprints.regions)."""

    box = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=1000),
        min_length=4,
        max_length=4,
        help_text="Left, top, right, bottom, in thousandths of the image; left < right, "
        "top < bottom.",
    )
    phash = serializers.CharField(help_text="64-bit pHash of the region, 16 hex digits.")
    dhash = serializers.CharField(help_text="64-bit dHash of the region, 16 hex digits.")
    descriptor = serializers.CharField(help_text="The region's verification descriptor, hex.")
    pdq = serializers.CharField(
        required=False,
        help_text="Optional, with pdq_quality: the region's PDQ, 64 hex digits. The client sends "
        "it for the untrimmed frame of a trimmed image (box 0, 0, 1000, 1000) only.",
    )
    pdq_quality = serializers.IntegerField(
        required=False, min_value=0, max_value=100, help_text="PDQ's quality of the region."
    )
    upright = serializers.BooleanField(
        required=False,
        help_text="Optional, true on at most one region: the picture found turned, sheared or "
        "keystoned on a fill and put upright (fingerprints.rectify). Its dHash is searched too, "
        "over the registered variants framed as it is; an item marking two is invalid.",
    )


class ItemDoc(serializers.Serializer):
    """One item as the client sends it: an id, an optional URL, and its fingerprint fields."""

    id = serializers.CharField(min_length=1, max_length=512)
    url = serializers.URLField(required=False)
    version = serializers.IntegerField(help_text="Fingerprint version (see /api/v1/matching).")
    sha256 = serializers.CharField(help_text="SHA-256 of the image bytes, 64 hex digits.")
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    information = serializers.FloatField()
    phash = serializers.CharField(help_text="64-bit pHash, 16 hex digits.")
    dhash = serializers.CharField(help_text="64-bit dHash, 16 hex digits.")
    pdq = serializers.CharField(help_text="256-bit PDQ hash, 64 hex digits.")
    pdq_quality = serializers.IntegerField()
    descriptor = serializers.CharField(help_text="Verification descriptor, hex.")
    regions = serializers.ListField(
        child=RegionDoc(),
        required=False,
        max_length=MAX_REGIONS,
        help_text="Version 3: up to 4 parts of the image searched on their own (a picture "
        "inside a screenshot, a meme, a collage).",
    )
    embedded = serializers.DictField(
        required=False,
        help_text="Reservations embedded in the image (IPTC plus:DataMining, C2PA "
        "training-mining), as the client read them; see docs/standards.md.",
    )
    headers = serializers.DictField(
        required=False, help_text="Response headers of the item's download (X-Robots-Tag, ...)."
    )
    user_agent = serializers.CharField(
        required=False, help_text="The downloader's user agent, for scoped X-Robots-Tag rules."
    )


class UnreadableItemDoc(serializers.Serializer):
    """An item the client could not read: no fingerprint, decided invalid with the reason."""

    id = serializers.CharField(min_length=1, max_length=512)
    url = serializers.URLField(required=False)
    unreadable = serializers.CharField(
        help_text="Why the client could not read the image: decided invalid."
    )


def items_doc(**options: Any) -> serializers.ListField:
    """Items as the schema shows them: each with every fingerprint field, or `unreadable`.
    A fingerprint field left out answers 400 naming it; one present but malformed is decided
    `invalid` (fail closed)."""
    item = PolymorphicProxySerializer(
        component_name="ItemIn",
        serializers=[ItemDoc, UnreadableItemDoc],
        resource_type_field_name=None,
        many=False,
    )
    return serializers.ListField(child=item, **options)


class MatchOut(serializers.Serializer):
    work_id = serializers.IntegerField()
    variant = serializers.CharField()
    algorithm = serializers.CharField()
    distance = serializers.IntegerField(allow_null=True)
    distances = serializers.DictField()
    region = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=1000),
        min_length=4,
        max_length=4,
        required=False,
        help_text="Only for a match found through a region of the image (algorithm "
        "region+phash+verify): its box, left, top, right, bottom in thousandths of the frame; "
        "the distances are the region's.",
    )


class CreditOut(serializers.Serializer):
    artist = serializers.CharField()
    credit_line = serializers.CharField()
    title = serializers.CharField()
    work_id = serializers.IntegerField()
    url = serializers.URLField()
    license = serializers.CharField()
    attribution = serializers.CharField()
    assurance = serializers.ChoiceField(
        choices=Assurance.choices,
        help_text="How sure the registry is that this permission came from the rights holder.",
    )


class ItemOut(serializers.Serializer):
    id = serializers.CharField(source="item_id")
    url = serializers.CharField()
    decision = serializers.ChoiceField(choices=Decision.choices)
    reason = serializers.CharField()
    matches = MatchOut(many=True)
    credit = CreditOut(many=True)
    chunk = serializers.IntegerField(source="chunk.number")
    position = serializers.IntegerField()


class ScreeningOut(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    purpose = serializers.CharField()
    mode = serializers.CharField()
    min_assurance = serializers.CharField()
    accepting_chunks = serializers.BooleanField()
    progress = serializers.SerializerMethodField()
    counts = serializers.DictField(child=serializers.IntegerField())
    allowed_by_assurance = serializers.DictField(
        child=serializers.IntegerField(),
        source="assurance_counts",
        help_text="Allowed items by the least assurance among the permissions each one used.",
    )
    registry_version = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    receipt = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    def get_progress(self, screening: Screening) -> dict[str, int]:
        return {"done": screening.done_items, "total": screening.total_items}

    def get_registry_version(self, screening: Screening) -> dict[str, Any]:
        return {"sequence": screening.registry_sequence, "hash": screening.registry_hash}

    def get_receipt(self, screening: Screening) -> dict[str, Any] | None:
        if screening.receipt is None:
            return None
        return {"document": screening.receipt, "signature": screening.receipt_signature}

    def get_links(self, screening: Screening) -> dict[str, str]:
        request = self.context["request"]
        return {
            name: request.build_absolute_uri(reverse(f"api-screening-{name}", args=[screening.id]))
            for name in ("detail", "items", "chunks", "close")
        }


class VerificationOut(serializers.Serializer):
    chunk = serializers.IntegerField(help_text="The chunk number.")
    needed = serializers.ListField(
        child=serializers.IntegerField(min_value=0),
        help_text="Positions in the chunk whose verification payload the registry needs: "
        "send them to the chunk's verification link. Empty: the chunk is being decided.",
    )
    link = serializers.URLField(help_text="Where the verification payloads go.")
    expired = serializers.ListField(
        child=serializers.IntegerField(min_value=0),
        help_text="Positions decided `invalid` without their verification payload, because "
        "it did not come within the registry's wait (CONSENTRY_VERIFICATION_WAIT_SECONDS): "
        "their payloads are no longer taken; screen those items again.",
    )


class HashedChunkOut(ScreeningOut):
    verification = serializers.SerializerMethodField()

    @extend_schema_field(VerificationOut(allow_null=True))
    def get_verification(self, screening: Screening) -> dict[str, Any] | None:
        hashed: HashedChunk | None = self.context.get("hashed")
        if hashed is None:  # a JSON or multipart chunk: nothing to verify separately
            return None
        number = hashed.chunk.number
        link = reverse("api-screening-chunk-verification", args=[screening.id, number])
        return {
            "chunk": number,
            "needed": hashed.needed,
            "expired": hashed.expired,
            "link": self.context["request"].build_absolute_uri(link),
        }


def _screening_response(request: Request, screening: Screening, code: int) -> Response:
    return Response(ScreeningOut(screening, context={"request": request}).data, status=code)


def _refuse_oversized(request: Request) -> None:
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length > settings.CONSENTRY_MAX_REQUEST_BYTES:
        raise PayloadTooLarge(
            f"The request has {length} bytes; the maximum is "
            f"{settings.CONSENTRY_MAX_REQUEST_BYTES}. Send the items in chunks."
        )


def _items_of(request: Request) -> list[Any]:
    """JSON items as sent, or the uploaded image files, kept for the worker to fingerprint."""
    if "images" in request.POST:  # a form field, not a file: nothing would be screened
        raise serializers.ValidationError({"images": ["Send each image as a file."]})
    if request.FILES:
        files = request.FILES.getlist("images")
        admit_upload(owner=f"organization:{organization_of(request).pk}", uploads=files)
        return items_from_files(files)
    items = request_object(request).get("items", [])
    if not isinstance(items, list):
        raise serializers.ValidationError({"detail": "'items' must be a list."})
    if len(items) > settings.CONSENTRY_MAX_ITEMS_PER_REQUEST:
        raise PayloadTooLarge(
            f"{len(items)} items is more than the {settings.CONSENTRY_MAX_ITEMS_PER_REQUEST} "
            "allowed per request; send them in chunks."
        )
    return items


class OrganizationApi(APIView):
    authentication_classes = [OrganizationAPIKeyAuthentication]
    permission_classes = [IsOrganization]
    throttle_classes = [OrganizationRateThrottle]
    schema = ConsentryAutoSchema()

    def permission_denied(
        self, request: Request, message: str | None = None, code: str | None = None
    ) -> NoReturn:
        if not request.successful_authenticator:
            raise missing_api_key(request)
        super().permission_denied(request, message, code)


class ScreeningListCreateApi(OrganizationApi):
    parser_classes = [JSONParser, MultiPartParser]

    class ScreeningIn(serializers.Serializer):
        purpose = serializers.ChoiceField(choices=Purpose.choices)
        mode = serializers.ChoiceField(
            choices=ScreeningMode.choices, default=ScreeningMode.CONSENT_REQUIRED
        )
        min_assurance = serializers.ChoiceField(
            choices=MinimumAssurance.choices,
            default=MinimumAssurance.VERIFIED,
            help_text="The least assurance a claim needs for its permission to count; below "
            "it a matched work's item is denied with the reason consent_unverified.",
        )
        keep_open = StrictBooleanField(
            default=False, help_text="Send more items as chunks, then close the screening."
        )

    class ScreeningRequestDoc(ScreeningIn):
        # Optional: a screening kept open may start empty and take its items as chunks.
        items = items_doc(
            required=False,
            help_text="At most the published maximum per request; ids unique within it.",
        )

    class ScreeningUploadDoc(ScreeningIn):
        images = serializers.ListField(
            child=UploadField(),
            min_length=1,
            required=False,
            help_text="Image files, fingerprinted by the worker.",
        )

    class Pagination(CursorPagination):
        ordering = "-created_at"

    pagination_class = Pagination  # documents the paged answer and its cursor

    @extend_schema(
        request={
            "application/json": ScreeningRequestDoc,
            "multipart/form-data": ScreeningUploadDoc,
        },
        responses={
            202: ScreeningOut,
            400: error("Bad request"),
            413: error("Too many items or bytes"),
        },
        summary="Start a screening",
        description="JSON items carrying fingerprints, or a multipart form with `images` files "
        "(hashed on the server) and `purpose`/`mode` fields. Answers 202; poll the detail link.",
    )
    def post(self, request: Request) -> Response:
        _refuse_oversized(request)
        envelope = self.ScreeningIn(data=request.data)
        envelope.is_valid(raise_exception=True)
        screening = screening_create(
            organization=organization_of(request),
            items=_items_of(request),
            uploaded=bool(request.FILES),
            **envelope.validated_data,
        )
        return _screening_response(request, screening, status.HTTP_202_ACCEPTED)

    @extend_schema(responses=ScreeningOut(many=True), summary="The organization's screenings")
    def get(self, request: Request) -> Response:
        screenings = screenings_of(organization_of(request))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(screenings, request, view=self)
        data = ScreeningOut(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(data)


def _own_screening(request: Request, screening_id: Any) -> Screening:
    # Another organization's screening answers 404, exactly like one that does not exist.
    return screening_of(organization=organization_of(request), screening_id=screening_id)


class ScreeningDetailApi(OrganizationApi):
    @extend_schema(responses={200: ScreeningOut}, summary="A screening's status and receipt")
    def get(self, request: Request, screening_id: Any) -> Response:
        return _screening_response(request, _own_screening(request, screening_id), 200)


HASHES_LAYOUT = (
    "A MessagePack map (layout 3): `layout` (int, 3: a body without it, an older client's "
    "layout 1, or one of layout 2 answers 415); `number` (int, the chunk number); `version` "
    "(int, the fingerprint version of every hashed item); `ids` (array of N item id strings); "
    "`hashes` (bin, 48 bytes an item: pHash 8 bytes big-endian, dHash 8, SHA-256 32); "
    "`information` (bin, 2 bytes an item: IEEE-754 binary16 big-endian); optional `extra` (map "
    "from item position to a map of its `url`, `headers`, `embedded`, `user_agent`, or "
    "`unreadable`); optional, together, `region_counts` (bin, 1 byte an item: in its low 4 "
    "bits its number of regions, 0 to 8; in its high 4 bits 0, or 1 plus the place among them "
    'of its upright region, the one marked `"upright": true` in JSON) and `region_phashes` '
    "(bin, 8 bytes a region: its pHash, big-endian; items in order, each item's regions in its "
    "order), and `upright_dhashes` (bin, 8 bytes an upright region: its dHash, big-endian, "
    "items in order) when some item has one. A region's box and dHash go with its descriptor "
    "in phase 2 (the upright region's dHash again, equal). An item with no extra fields costs "
    "51 bytes plus its id, one more where the chunk has regions, 8 a region, and 8 more for "
    "an upright region."
)
VERIFICATION_LAYOUT = (
    "A MessagePack map: `digest` (bin, 32 bytes: SHA-256 of the chunk's content as "
    "registry.chunk_wire.content_digest computes it from its items' ids and hashes, their "
    "regions' pHashes and upright regions' dHashes too); `items`, an array with, per item, "
    "[position (int), information "
    "(float64), width (int), height (int), pdq (bin, 32 bytes), pdq_quality (int), "
    "descriptor (bin, 963 bytes)], plus, for an item whose hashes carried regions, an eighth "
    "value: per region in their order, [box (array of 4 ints: left, top, right, bottom in "
    "thousandths), dhash (bin, 8 bytes), descriptor (bin, 963 bytes)], with pdq (bin, 32 "
    "bytes) and pdq_quality (int) after them for a region that has a PDQ (the untrimmed "
    "frame's)."
)


def _hashed_response(request: Request, hashed: HashedChunk, code: int) -> Response:
    screening = screening_by_id(hashed.chunk.screening_id)
    context = {"request": request, "hashed": hashed}
    return Response(HashedChunkOut(screening, context=context).data, status=code)


def _wire_refusal(error: WireFormatError) -> Exception:
    if isinstance(error, TooManyItems):
        return PayloadTooLarge(str(error))
    if isinstance(error, OtherLayout):
        # 415: a client of an older layout falls back to JSON (registry.client does), and
        # one that cannot is told what to do.
        return UnsupportedMediaType(HASHES_MEDIA_TYPE, detail=str(error))
    return serializers.ValidationError({"detail": str(error)})


class ScreeningChunkApi(OrganizationApi):
    parser_classes = [JSONParser, MultiPartParser, HashesParser]

    class ChunkIn(serializers.Serializer):
        number = serializers.IntegerField(
            min_value=0,
            max_value=MAX_CHUNK_NUMBER,
            help_text="Chunk number; items sent with the POST that started it are 0.",
        )

    class ChunkRequestDoc(ChunkIn):
        items = items_doc(min_length=1, help_text="Item ids unique within the request.")

    class ChunkUploadDoc(ChunkIn):
        images = serializers.ListField(
            child=UploadField(), min_length=1, help_text="Image files, fingerprinted by the worker."
        )

    @extend_schema(
        request={
            "application/json": ChunkRequestDoc,
            "multipart/form-data": ChunkUploadDoc,
            HASHES_MEDIA_TYPE: OpenApiTypes.BINARY,
        },
        responses={
            202: HashedChunkOut,
            200: HashedChunkOut,
            409: error(
                "That chunk number came with other items (ids or hashes), the screening "
                "is closed, or the registry's matching changed since it started"
            ),
            413: error("Too many items or bytes"),
            415: error(
                f"A {HASHES_MEDIA_TYPE} body of another layout than this registry's (an "
                "older client's): update the client, or send the chunk as JSON"
            ),
        },
        summary="Add a chunk of items to an open screening",
        description="Re-sending a chunk number already received with the same items (ids "
        "and hashes) changes nothing and answers 200; with other items, 409."
        f"\n\n**Two phases** (`{HASHES_MEDIA_TYPE}`): the items go as compact hashes "
        "first; the answer's `verification.needed` lists the positions the registry must "
        "verify (a registered work is a candidate for them; in a screening that respects "
        "opt-outs, every readable item), and only those send their verification payload to "
        f"`verification.link`. The registry decides every other item from its hashes "
        "(`verification` is in the answers to hashes bodies only). "
        "`verification.expired` lists positions decided `invalid` because their payload did "
        "not come in time. "
        f"Layout: {HASHES_LAYOUT}",
    )
    def post(self, request: Request, screening_id: Any) -> Response:
        _refuse_oversized(request)
        screening = _own_screening(request, screening_id)
        if request.content_type.startswith(HASHES_MEDIA_TYPE):
            return self._hashes(request, screening)
        envelope = self.ChunkIn(data=request.data)
        envelope.is_valid(raise_exception=True)
        _, created = screening_add_chunk(
            screening=screening,
            number=envelope.validated_data["number"],
            items=_items_of(request),
            uploaded=bool(request.FILES),
        )
        screening.refresh_from_db()
        data = HashedChunkOut(screening, context={"request": request}).data
        return Response(data, status=202 if created else 200)

    def _hashes(self, request: Request, screening: Screening) -> Response:
        try:
            decoded = decode_hashes(
                request.data, max_items=settings.CONSENTRY_MAX_ITEMS_PER_REQUEST
            )
        except WireFormatError as failure:
            raise _wire_refusal(failure) from None
        envelope = self.ChunkIn(data={"number": decoded.number})
        envelope.is_valid(raise_exception=True)
        hashed = screening_add_hashes(
            screening=screening,
            number=envelope.validated_data["number"],
            items=decoded.items,
            queries=decoded.queries,
        )
        return _hashed_response(request, hashed, 202 if hashed.changed else 200)


class ScreeningChunkVerificationApi(OrganizationApi):
    parser_classes = [VerificationParser]

    @extend_schema(
        request={VERIFICATION_MEDIA_TYPE: OpenApiTypes.BINARY},
        responses={
            202: HashedChunkOut,
            200: HashedChunkOut,
            409: error(
                "That chunk has not been received, or holds other items than the payloads' "
                "digest names"
            ),
            413: error("Too many items or bytes"),
        },
        summary="Send the verification payloads a chunk of hashes needs",
        description="Phase 2 of a chunk sent as hashes: the payloads of the positions its "
        "answer listed in `verification.needed`. When none is needed any more the chunk is "
        "decided; `verification.needed` lists what is still missing (a work registered "
        "meanwhile may add some). The body names the chunk's content digest; payloads for "
        "other content are refused (409). Payloads sent again change nothing and answer 200. "
        "An item whose payload does not come within the registry's wait is decided "
        "`invalid`, never `allowed`, and listed in `verification.expired`. "
        f"Layout: {VERIFICATION_LAYOUT}",
    )
    def post(self, request: Request, screening_id: Any, number: int) -> Response:
        _refuse_oversized(request)
        screening = _own_screening(request, screening_id)
        try:
            digest, payloads = decode_verification(
                request.data, max_items=settings.CONSENTRY_MAX_ITEMS_PER_REQUEST
            )
        except WireFormatError as failure:
            raise _wire_refusal(failure) from None
        hashed = screening_verify_chunk(
            screening=screening, number=number, digest=digest, payloads=payloads
        )
        return _hashed_response(request, hashed, 202 if hashed.changed else 200)


class ScreeningCloseApi(OrganizationApi):
    @extend_schema(request=None, responses={202: ScreeningOut}, summary="No more chunks")
    def post(self, request: Request, screening_id: Any) -> Response:
        screening = screening_close(screening=_own_screening(request, screening_id))
        return _screening_response(request, screening, status.HTTP_202_ACCEPTED)


class ItemPagination(CursorPagination):
    ordering = "id"
    page_size = 500
    max_page_size = 5000
    page_size_query_param = "page_size"

    def get_page_size(self, request: Request) -> int:
        # DRF falls back to the default on a page size it cannot read; a client that asked
        # for one is told instead. Above the maximum, the maximum.
        text = request.query_params.get(self.page_size_query_param)
        if text is None:
            return self.page_size
        try:
            size = int(text)
        except ValueError:
            size = 0
        if size < 1:
            raise serializers.ValidationError(
                {
                    "page_size": f"page_size must be a whole number of at least 1; a page "
                    f"holds at most {self.max_page_size} items."
                }
            )
        return min(size, self.max_page_size)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters: list[dict[str, Any]] = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["minimum"] = 1
        return parameters


class ListedItemPagination(ItemPagination):
    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        paged: dict[str, Any] = super().get_paginated_response_schema(schema)
        paged["properties"]["coverage"] = {
            "type": "object",
            "description": "Items listed one by one, and the unregistered and invalid items "
            "only counted (their decisions by position are under /decisions).",
            "properties": {
                "listed_items": {"type": "integer", "format": "int64"},
                "counted_only": {
                    "type": "object",
                    "additionalProperties": {"type": "integer", "format": "int64"},
                },
            },
        }
        return paged


_NDJSON_FIELDS = ("id", "url", "decision", "reason", "matches", "credit", "chunk", "position")
# Lines go out in blocks: the server writes each yielded string to the socket on its own.
_NDJSON_BATCH = 2000


def _ndjson_lines(items: Any) -> Iterator[str]:
    """The same fields as ItemOut, built from plain rows: a screening streams millions of them,
    and a serializer per row would cost more than the database."""
    rows = items.values_list(
        "item_id", "url", "decision", "reason", "matches", "credit", "chunk__number", "position"
    )
    lines: list[str] = []
    for row in rows.iterator(chunk_size=_NDJSON_BATCH):
        lines.append(json.dumps(dict(zip(_NDJSON_FIELDS, row, strict=True)), ensure_ascii=False))
        if len(lines) == _NDJSON_BATCH:
            yield _joined(lines)
            lines = []
    if lines:
        yield _joined(lines)


def _joined(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"


class ItemsNegotiation(DefaultContentNegotiation):
    """`?format=jsonl` (or `ndjson`) is `Accept: application/x-ndjson`; another format is
    answered with the ones there are, where DRF answers a bare 404."""

    FORMATS = {"json": "json", "jsonl": NDJSONRenderer.format, "ndjson": NDJSONRenderer.format}

    def select_renderer(
        self, request: Request, renderers: Any, format_suffix: str | None = None
    ) -> Any:
        requested = format_suffix or request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
        if requested and requested not in self.FORMATS:
            raise serializers.ValidationError(
                {
                    "format": [
                        f"format must be json or jsonl, not {requested[:40]!r} (or send "
                        f"Accept: {NDJSON} for JSON Lines)."
                    ]
                }
            )
        return super().select_renderer(request, renderers, self.FORMATS.get(requested or ""))


class ScreeningItemsApi(OrganizationApi):
    renderer_classes = [JSONRenderer, NDJSONRenderer]
    content_negotiation_class = ItemsNegotiation
    pagination_class = ListedItemPagination  # documents the paged answer and its parameters

    @extend_schema(
        parameters=[
            OpenApiParameter("decision", enum=Decision.values, required=False),
            OpenApiParameter(
                "format",
                enum=["json", "jsonl"],
                required=False,
                description=f"jsonl: every item as JSON Lines, as `Accept: {NDJSON}` asks.",
            ),
        ],
        responses={200: ItemOut(many=True), (200, NDJSON): OpenApiTypes.STR},
        summary="Decided items, paged JSON or JSON Lines",
        description=f"Send `Accept: {NDJSON}` (or `?format=jsonl`) to stream the items as one "
        "JSON object per line. Items that matched a registered work or were denied are listed "
        "one by one; unregistered and invalid items are counted only (`coverage`, or the "
        "headers Consentry-Listed-Items and Consentry-Counted-Only of JSON Lines), and their "
        "decisions are under /decisions by chunk and position.",
    )
    def get(self, request: Request, screening_id: Any) -> Response | StreamingHttpResponse:
        screening = _own_screening(request, screening_id)
        refuse_empty(request, "decision", "format")
        paginator = self.pagination_class()
        # Read even for JSON Lines, which streams every item: a bad page_size is still refused.
        paginator.get_page_size(request)
        decision = request.query_params.get("decision")
        if decision and decision not in Decision.values:
            raise serializers.ValidationError(
                {"detail": f"decision must be one of {', '.join(Decision.values)}."}
            )
        items = items_of(screening, decision=decision or None)
        coverage = item_coverage(screening)
        if request.accepted_renderer.format == NDJSONRenderer.format:
            streamed = StreamingHttpResponse(
                _ndjson_lines(items.order_by("id")), content_type=NDJSON
            )
            # Lines are items only: what they leave out travels in headers.
            streamed["Consentry-Listed-Items"] = str(coverage["listed_items"])
            streamed["Consentry-Counted-Only"] = ", ".join(
                f"{decision}={count}" for decision, count in coverage["counted_only"].items()
            )
            return streamed
        page = paginator.paginate_queryset(items, request, view=self)
        response = paginator.get_paginated_response(ItemOut(page, many=True).data)
        response.data["coverage"] = coverage
        return response


class CheckResultOut(serializers.Serializer):
    id = serializers.CharField()
    decision = serializers.ChoiceField(choices=Decision.choices)
    passes = serializers.BooleanField()
    reason = serializers.CharField()
    matches = MatchOut(many=True)
    credit = CreditOut(many=True)


class CheckOut(serializers.Serializer):
    registry_version = serializers.DictField()
    items = CheckResultOut(many=True)


class CheckApi(OrganizationApi):
    parser_classes = [JSONParser]  # fingerprints only; image files go to a screening

    class CheckIn(serializers.Serializer):
        purpose = serializers.ChoiceField(choices=Purpose.choices)
        mode = serializers.ChoiceField(
            choices=ScreeningMode.choices, default=ScreeningMode.CONSENT_REQUIRED
        )
        min_assurance = serializers.ChoiceField(
            choices=MinimumAssurance.choices,
            default=MinimumAssurance.VERIFIED,
            help_text="The least assurance a claim needs for its permission to count; below "
            "it a matched work's item is denied with the reason consent_unverified.",
        )

    class CheckRequestDoc(CheckIn):
        items = items_doc(required=False, help_text="Ids unique within the request.")

    @extend_schema(
        request=CheckRequestDoc,
        responses={200: CheckOut, 413: error("Too many items")},
        summary="Decide a small batch synchronously",
        description="The same decisions as a screening, answered at once, for up to the "
        "published maximum (see /api/v1/matching). Not recorded as a screening.",
    )
    def post(self, request: Request) -> Response:
        envelope = self.CheckIn(data=request.data)
        envelope.is_valid(raise_exception=True)
        items = request_object(request).get("items", [])
        if not isinstance(items, list):
            raise serializers.ValidationError({"detail": "'items' must be a list."})
        if len(items) > settings.CONSENTRY_MAX_CHECK_ITEMS:
            raise PayloadTooLarge(
                f"{len(items)} items is more than the {settings.CONSENTRY_MAX_CHECK_ITEMS} "
                "a check accepts; start a screening for more."
            )
        validate_items(items)
        version = registry_version()
        mode = envelope.validated_data["mode"]
        decisions = decide_items(
            organization=organization_of(request),
            purpose=envelope.validated_data["purpose"],
            items=items,
            min_assurance=envelope.validated_data["min_assurance"],
            mode=mode,
        )
        results = [
            {
                "id": item["id"],
                "decision": decision.decision,
                "passes": passes(decision.decision, mode),
                "reason": decision.reason,
                "matches": decision.matches,
                "credit": decision.credit,
            }
            for item, decision in zip(items, decisions, strict=True)
        ]
        return Response({"registry_version": version.as_dict(), "items": results})

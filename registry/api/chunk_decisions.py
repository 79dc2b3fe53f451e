"""A screening's chunks as decided: each chunk's Merkle root, its counts per decision, and the
decisions of its items that have no row (unregistered, invalid) by position. With the listed
items (GET .../items) the client rebuilds every leaf, checks each root against the signed
receipt, and can prove any one item's decision with its path."""

from typing import TYPE_CHECKING, Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from registry.api.auth import organization_of
from registry.api.screenings import ItemPagination, OrganizationApi
from registry.receipts import MERKLE_DIGEST_VERSION
from registry.selectors.screenings import chunks_of, screening_of
from registry.unlisted import runs

if TYPE_CHECKING:
    from registry.models import ScreeningChunk
else:
    # drf-spectacular resolves every annotation of a method field to read its return type.
    ScreeningChunk = Any

_COUNTED = ("allowed", "denied", "unregistered", "invalid")


class ChunkDecisionsOut(serializers.Serializer):
    number = serializers.IntegerField()
    items = serializers.IntegerField(source="item_count")
    merkle_root = serializers.SerializerMethodField(
        help_text="The Merkle root of every decision of the chunk (see the receipt's "
        "`merkle`); null for a chunk decided before roots were kept, or not decided yet."
    )
    counts = serializers.SerializerMethodField()
    unlisted = serializers.SerializerMethodField(
        help_text="[start, count, decision, reason] per run of consecutive positions whose "
        "items have no row (unregistered, invalid); every other position is listed under "
        "/items with its chunk and position."
    )

    def get_merkle_root(self, chunk: ScreeningChunk) -> str | None:
        decided = chunk.decided_at and chunk.digest_version >= MERKLE_DIGEST_VERSION
        return chunk.merkle_root if decided else None

    def get_counts(self, chunk: ScreeningChunk) -> dict[str, int] | None:
        if self.get_merkle_root(chunk) is None:
            return None
        return {decision: getattr(chunk, f"{decision}_items") for decision in _COUNTED}

    def get_unlisted(self, chunk: ScreeningChunk) -> list[list[Any]]:
        return [list(run) for run in runs(bytes(chunk.unlisted or b""))]


class ChunkPagination(ItemPagination):
    ordering = "number"
    page_size = 100
    max_page_size = 1000


class ScreeningChunkDecisionsApi(OrganizationApi):
    pagination_class = ChunkPagination

    @extend_schema(
        responses={200: ChunkDecisionsOut(many=True)},
        summary="Each chunk's Merkle root, counts and unlisted decisions",
        description="Unregistered and invalid items get no row of their own: they are counted "
        "per chunk and covered by the chunk's Merkle root, which the signed receipt lists. "
        "This page gives their decisions by position, so the client that sent them can "
        "rebuild every leaf and prove any item's decision.",
    )
    def get(self, request: Request, screening_id: Any) -> Response:
        # Another organization's screening answers 404, exactly like one that does not exist.
        screening = screening_of(organization=organization_of(request), screening_id=screening_id)
        chunks = chunks_of(screening)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(chunks, request, view=self)
        return paginator.get_paginated_response(ChunkDecisionsOut(page, many=True).data)

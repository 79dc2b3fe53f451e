"""Endpoints anyone may read: the matching configuration, the receipt key, platforms' keys,
and credits."""

from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from registry.api.schema import ConsentryAutoSchema, error
from registry.fingerprints import FINGERPRINT_VERSION, VARIANTS
from registry.matching.rules import DEFAULT_MATCHING
from registry.receipts import key_id, public_pem
from registry.selectors.accounts import artist_by_id
from registry.selectors.consent import disputed_works
from registry.selectors.ledger import latest_checkpoint
from registry.selectors.platforms import registered_platforms
from registry.selectors.terms import default_terms_of, work_terms
from registry.selectors.works import active_work
from registry.signing import receipt_signing_key


class PublicApi(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    schema = ConsentryAutoSchema()


class MatchingApi(PublicApi):
    class MatchingOut(serializers.Serializer):
        fingerprint_version = serializers.IntegerField()
        algorithms = serializers.ListField(child=serializers.CharField())
        variants = serializers.ListField(child=serializers.CharField())
        thresholds = serializers.DictField()
        limits = serializers.DictField(child=serializers.IntegerField())

    @extend_schema(responses=MatchingOut, summary="Fingerprints and thresholds in force")
    def get(self, request: Request) -> Response:
        return Response(
            {
                "fingerprint_version": FINGERPRINT_VERSION,
                "algorithms": ["sha256", "phash", "dhash", "pdq", "descriptor"],
                "variants": list(VARIANTS),
                "thresholds": DEFAULT_MATCHING.to_dict(),
                "limits": {
                    "max_items_per_request": settings.CONSENTRY_MAX_ITEMS_PER_REQUEST,
                    "max_check_items": settings.CONSENTRY_MAX_CHECK_ITEMS,
                    "max_urls_per_check": settings.CONSENTRY_MAX_URLS_PER_CHECK,
                    "max_request_bytes": settings.CONSENTRY_MAX_REQUEST_BYTES,
                },
            }
        )


class ReceiptKeyApi(PublicApi):
    class ReceiptKeyOut(serializers.Serializer):
        algorithm = serializers.CharField()
        key_id = serializers.CharField()
        public_key_pem = serializers.CharField()

    @extend_schema(responses=ReceiptKeyOut, summary="The public key that verifies receipts")
    def get(self, request: Request) -> Response:
        public_key = receipt_signing_key().public_key()
        return Response(
            {
                "algorithm": "Ed25519",
                "key_id": key_id(public_key),
                "public_key_pem": public_pem(public_key),
            }
        )


class LedgerCheckpointApi(PublicApi):
    class CheckpointOut(serializers.Serializer):
        document = serializers.DictField(help_text="type, sequence, head_hash, time, key_id")
        signature = serializers.CharField(help_text="Ed25519 over the canonical document.")

    @extend_schema(
        responses={200: CheckpointOut, 404: error("No checkpoint was published yet")},
        summary="The latest signed checkpoint of the consent ledger's head",
        description="Published periodically; keep them: a ledger rewritten behind a checkpoint "
        "you hold no longer has that head hash at that sequence.",
    )
    def get(self, request: Request) -> Response:
        latest = latest_checkpoint()
        if latest is None:
            return Response({"detail": "No checkpoint was published yet."}, status=404)
        return Response({"document": latest.document, "signature": latest.signature})


class PlatformKeysApi(PublicApi):
    class PlatformKeyOut(serializers.Serializer):
        name = serializers.CharField()
        url_prefix = serializers.CharField(
            help_text="Profiles and posts an attestation names must be under it."
        )
        key_id = serializers.CharField(help_text="SHA-256 of the public key's raw bytes, hex.")
        public_key_pem = serializers.CharField(
            help_text="The Ed25519 key the registry accepts this platform's attestations with."
        )
        ledger_sequence = serializers.IntegerField(
            allow_null=True,
            help_text="The consent ledger event that registered these settings.",
        )

    @extend_schema(
        responses=PlatformKeyOut(many=True),
        summary="The platforms that attest uploads, and the keys registered for them",
        description="Compare each key_id with the key the platform itself publishes: the "
        "registry accepts, and verify_ledger checks, attestations only under the key the "
        "ledger registered for that platform at that point.",
    )
    def get(self, request: Request) -> Response:
        return Response([asdict(platform) for platform in registered_platforms()])


class CreditApi(PublicApi):
    class CreditRecordOut(serializers.Serializer):
        work_id = serializers.IntegerField()
        title = serializers.CharField()
        artist = serializers.CharField()
        credit_line = serializers.CharField()
        terms = serializers.DictField()

    @extend_schema(responses=CreditRecordOut, summary="How to credit a registered work")
    def get(self, request: Request, work_id: int) -> Response:
        # The credit record names the work and its terms; its image is never served.
        work = active_work(work_id)
        if work.hold:
            # Held until an operator's check: its terms are not in force, so the registry
            # publishes none of it yet (a copy's record must not read as a claim).
            raise Http404
        disputed = disputed_works([work.pk])
        if work.pk in disputed.frozen or work.pk in disputed.superseded:
            # Until operators decide, neither party of a dispute is named to the other (nor
            # to anyone enumerating ids): docs/admin.md promises it. An earlier, surer claim
            # that a later one disputes without freezing it keeps its public record.
            raise Http404
        terms = work_terms(work)
        return Response(
            {
                "work_id": work.pk,
                "title": work.title,
                "artist": work.artist.display_name,
                "credit_line": work.credit,
                "terms": {
                    purpose: {
                        "permission": t.permission,
                        "license": t.license,
                        "attribution": t.attribution,
                    }
                    for purpose, t in terms.items()
                },
            }
        )


class ArtistPolicyApi(PublicApi):
    class ArtistPolicyOut(serializers.Serializer):
        artist = serializers.CharField()
        credit_line = serializers.CharField()
        terms = serializers.DictField()

    @extend_schema(
        responses=ArtistPolicyOut,
        summary="An artist's default terms: the policy their tdm-policy signals point to",
    )
    def get(self, request: Request, artist_id: int) -> Response:
        artist = artist_by_id(artist_id)
        # A purpose without a default is consent-first: not allowed, no licence.
        defaults = default_terms_of(artist)
        return Response(
            {
                "artist": artist.display_name,
                "credit_line": artist.credit,
                "terms": {
                    purpose: {"permission": terms.permission, "license": terms.license}
                    for purpose, terms in defaults.items()
                },
            }
        )

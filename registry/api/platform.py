"""Platforms' endpoint: a signed statement that one of their accounts uploaded a work."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import exceptions, permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from registry.api.auth import (
    ArtistTokenAuthentication,
    OrganizationAPIKeyAuthentication,
    OrganizationClient,
    organization_of,
    request_object,
)
from registry.api.parsers import JSONParser
from registry.api.schema import error
from registry.api.screenings import OrganizationApi
from registry.attestations import StatementError
from registry.choice_labels import Assurance, OrganizationKind
from registry.services.attestations import (
    AttestationNotFound,
    AttestationRefused,
    platform_attestation_record,
)


class IsPlatform(permissions.BasePermission):
    message = _(
        "Only a platform's API key attests uploads; the registry's staff make an organization "
        "a platform."
    )

    def has_permission(self, request: Request, view: APIView) -> bool:
        client = request.user
        return (
            isinstance(client, OrganizationClient)
            and client.organization.kind == OrganizationKind.PLATFORM
        )


class StatementDoc(serializers.Serializer):
    artist = serializers.IntegerField(help_text="The artist's registry id.")
    work = serializers.IntegerField(
        required=False,
        help_text="Optional: the work's registry id, to narrow the statement to that one of "
        "the artist's works with these bytes. It never replaces sha256.",
    )
    sha256 = serializers.CharField(
        help_text="Required: SHA-256 of the bytes the account uploaded (64 lower-case hex "
        "digits). Every active work of the artist with those bytes is attested; a registry id "
        "alone says nothing about the image, so it is refused.",
    )
    profile_url = serializers.CharField(
        help_text="The account's profile on the platform; the artist must have named it among "
        "their links in the registry."
    )
    post_url = serializers.CharField(help_text="Where the account published the work.")
    issued_at = serializers.CharField(
        help_text="When the platform signed, ISO 8601 with a zone; accepted for a day."
    )


class AttestationIn(serializers.Serializer):
    statement = StatementDoc(
        help_text="Exactly these fields; the signature covers them as sent, so nothing is "
        "trimmed or converted."
    )
    signature = serializers.CharField(
        help_text="Base64 Ed25519 signature, by the platform's registered key, over the bytes "
        "`consentry platform attestation v1\\n` followed by the statement's canonical JSON "
        "(sorted keys, no spaces, UTF-8)."
    )


class AttestedWorkOut(serializers.Serializer):
    work_id = serializers.IntegerField()
    assurance = serializers.ChoiceField(
        choices=Assurance.choices,
        help_text="The claim's assurance now: the work's own or its artist's, the higher.",
    )
    changed = serializers.BooleanField(
        help_text="False when the work was at this level or higher already (a repeated "
        "statement changes nothing)."
    )


class PlatformAttestationOut(serializers.Serializer):
    works = AttestedWorkOut(many=True)


class PlatformAttestationApi(OrganizationApi):
    # An artist's token is recognised so that it is refused as such (403), not as missing.
    authentication_classes = [OrganizationAPIKeyAuthentication, ArtistTokenAuthentication]
    permission_classes = [IsPlatform]
    parser_classes = [JSONParser]

    @extend_schema(
        request=AttestationIn,
        responses={
            201: PlatformAttestationOut,
            200: PlatformAttestationOut,
            403: error(
                "Not a platform's key, or the platform may not speak for this artist or URL"
            ),
            404: error("No such artist, or no such work of the artist"),
        },
        summary="Attest that one of the platform's accounts uploaded a work",
        description="For organizations the registry's staff made platforms. The platform "
        "signs a statement with its own key; the registry checks the signature, that the "
        "profile and the post are under the platform's URL prefix, and that the artist named "
        "the profile among their links, then raises the work's claim to `platform_attested` "
        "and records the statement, signature and key in the consent ledger. 201 when a work's "
        "assurance rose, 200 when nothing changed (a repeated statement is harmless).",
        examples=[
            OpenApiExample(
                "Attest an upload",
                request_only=True,
                value={
                    "statement": {
                        "artist": 12,
                        "sha256": "9f86d081884c7d65" * 4,
                        "profile_url": "https://www.example.com/user/mallory",
                        "post_url": "https://www.example.com/post/8812",
                        "issued_at": "2026-12-07T08:00:00Z",
                    },
                    "signature": "base64…",
                },
            )
        ],
    )
    def post(self, request: Request) -> Response:
        body = request_object(request)
        statement, signature = body.get("statement"), body.get("signature")
        if not isinstance(signature, str) or not signature:
            raise exceptions.ValidationError({"signature": ["A base64 signature is required."]})
        try:
            attested = platform_attestation_record(
                platform=organization_of(request), statement=statement, signature=signature
            )
        except StatementError as refused:
            raise exceptions.ValidationError({refused.field: [str(refused)]}) from None
        except AttestationRefused as refused:
            raise exceptions.PermissionDenied(str(refused)) from None
        except AttestationNotFound as missing:
            raise exceptions.NotFound(str(missing)) from None
        works = [
            {"work_id": a.work.pk, "assurance": a.work.claim_assurance, "changed": a.changed}
            for a in attested
        ]
        changed = any(a.changed for a in attested)
        return Response(
            {"works": works}, status=status.HTTP_201_CREATED if changed else status.HTTP_200_OK
        )

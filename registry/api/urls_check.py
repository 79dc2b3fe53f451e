"""URLs before download: what the registry knows of each URL of a scraped list."""

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from registry.api.auth import organization_of, request_object
from registry.api.errors import PayloadTooLarge
from registry.api.parsers import JSONParser
from registry.api.schema import error
from registry.api.screenings import CheckApi, CreditOut, OrganizationApi
from registry.choice_labels import MinimumAssurance, Purpose, ScreeningMode
from registry.gatekeeper import ALLOWED, DENIED, UNREGISTERED, ItemDecision, passes
from registry.selectors.decisions import decide_urls
from registry.selectors.ledger import registry_version
from registry.services.url_attestations import url_check_attestation
from registry.url_receipts import ATTESTATION_TYPE, SCOPED_VERSION, URL_SCOPE, URL_SCOPE_NOTE

UNKNOWN = "unknown"
# A URL check never sees the image, so "no registered work matches" says only that nothing
# is known of the URL, and `allowed` only that the URL is an allowed work's listed source:
# either way the item still has to be screened by fingerprint once downloaded.
URL_DECISIONS: dict[str, str] = {ALLOWED: ALLOWED, DENIED: DENIED, UNREGISTERED: UNKNOWN}
MAX_URL_LENGTH = 4096


class UrlResultOut(serializers.Serializer):
    url = serializers.CharField(help_text="The URL as asked (a leaf of the attestation's root).")
    decision = serializers.ChoiceField(choices=[ALLOWED, DENIED, UNKNOWN])
    passes = serializers.BooleanField(
        help_text="Whether the mode lets the URL through on the URL alone (`unknown` passes "
        "only with respect_opt_outs): not a screening decision for the image found there."
    )
    reason = serializers.CharField()
    works = serializers.ListField(
        child=serializers.IntegerField(), help_text="The registered works the URL matched."
    )
    credit = CreditOut(many=True)


class UrlCheckOrganizationOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class UrlCheckDocumentOut(serializers.Serializer):
    """What the registry signs for one URL check (registry/url_receipts.py)."""

    type = serializers.CharField(help_text=f"`{ATTESTATION_TYPE}`.")
    version = serializers.IntegerField(
        help_text=f"{SCOPED_VERSION} since the document states its scope; version 1 had no "
        "`scope` or `scope_note`."
    )
    scope = serializers.ChoiceField(
        choices=[URL_SCOPE],
        help_text="`url`: every answer is about the URL only; no image was examined. Signed "
        "with the rest, so it cannot be dropped to pass the answers off as a screening's.",
    )
    scope_note = serializers.CharField(
        help_text=f'The same in a sentence, signed too: "{URL_SCOPE_NOTE}"'
    )
    merkle = serializers.DictField(
        child=serializers.CharField(), help_text="How `decisions_root` is built."
    )
    organization = UrlCheckOrganizationOut()
    purpose = serializers.ChoiceField(choices=Purpose.choices)
    mode = serializers.ChoiceField(choices=ScreeningMode.choices)
    min_assurance = serializers.ChoiceField(choices=MinimumAssurance.choices)
    registry_version = serializers.DictField()
    urls = serializers.IntegerField(help_text="How many URLs were answered.")
    counts = serializers.DictField(
        child=serializers.IntegerField(), help_text="URLs per answer: allowed, denied, unknown."
    )
    decisions_root = serializers.CharField(
        help_text="The Merkle root (hex) of one leaf per URL, in the order asked (see `merkle`)."
    )
    checked_at = serializers.DateTimeField()
    key_id = serializers.CharField(help_text="Which receipt key signed it.")


class UrlCheckAttestationOut(serializers.Serializer):
    document = UrlCheckDocumentOut(
        help_text="What was answered, and that it is about the URLs only: organization, "
        "purpose, mode, registry version, counts, and `decisions_root`, the Merkle root of one "
        "leaf per URL in the order asked (see its `merkle`)."
    )
    signature = serializers.CharField(
        help_text="Ed25519 over the document's canonical JSON, by the key at /api/v1/receipts/key."
    )


class UrlCheckOut(serializers.Serializer):
    registry_version = serializers.DictField()
    min_assurance = serializers.ChoiceField(
        choices=MinimumAssurance.choices,
        help_text="The least assurance a permission needed to count, as applied to this check.",
    )
    results = UrlResultOut(many=True)
    attestation = UrlCheckAttestationOut()


class UrlCheckApi(OrganizationApi):
    parser_classes = [JSONParser]

    # The same purpose, mode and minimum assurance as a check of fingerprints.
    UrlCheckIn = CheckApi.CheckIn

    class UrlCheckRequestDoc(CheckApi.CheckIn):
        urls = serializers.ListField(
            child=serializers.CharField(max_length=MAX_URL_LENGTH, allow_blank=True),
            allow_empty=False,
            min_length=1,
            max_length=settings.CONSENTRY_MAX_URLS_PER_CHECK,
            help_text="Up to the published maximum (see /api/v1/matching), answered in order.",
        )

    @extend_schema(
        request=UrlCheckRequestDoc,
        responses={200: UrlCheckOut, 413: error("Too many URLs")},
        summary="Check URLs before downloading them",
        description="`denied`: a work registered at that URL, or an artist's verified site "
        "prefix over it, refuses the purpose; `allowed`: the URL is a known source of works "
        "allowed for the purpose (with their credit), each listed by an artist verified by "
        "staff or under a verified site of the artist's own; `unknown`: nothing is known, "
        "so screen the image by fingerprint once downloaded. Every answer is about the URL "
        "only, not a screening decision: the page may serve another picture by the time it "
        "is downloaded, and a screening never allows an image on its URL (only a close match "
        "of its fingerprint does), so screen what you download. Not recorded as a "
        "screening: the answer carries its own signed attestation instead (a Merkle root of "
        "its decisions), which `screen-urls` collects into the run's receipt. The attestation "
        "states, under its signature, that it is about URLs only (`scope`: `url`, and "
        "`scope_note`; since its version 2), so it cannot pass for a screening's receipt.",
    )
    def post(self, request: Request) -> Response:
        envelope = self.UrlCheckIn(data=request.data)
        envelope.is_valid(raise_exception=True)
        urls = _urls(request_object(request).get("urls"))
        checked = envelope.validated_data
        purpose, mode = checked["purpose"], checked["mode"]
        version = registry_version()
        decisions = decide_urls(
            organization=organization_of(request),
            purpose=purpose,
            urls=urls,
            min_assurance=checked["min_assurance"],
        )
        results = [
            _result(url, decision, mode) for url, decision in zip(urls, decisions, strict=True)
        ]
        attestation = url_check_attestation(
            organization=organization_of(request),
            checked=checked,
            version=version.as_dict(),
            results=results,
        )
        return Response(
            {
                "registry_version": version.as_dict(),
                "min_assurance": checked["min_assurance"],
                "results": results,
                "attestation": attestation,
            }
        )


def _urls(value: object) -> list[str]:
    """The request's URLs, checked in one pass: a serializer field per URL costs more than
    deciding it."""
    if not isinstance(value, list) or not value:
        raise serializers.ValidationError({"urls": ["A non-empty list of URLs is required."]})
    if len(value) > settings.CONSENTRY_MAX_URLS_PER_CHECK:
        raise PayloadTooLarge(
            f"{len(value)} URLs is more than the {settings.CONSENTRY_MAX_URLS_PER_CHECK} "
            "a URL check accepts; send them in several requests."
        )
    for position, url in enumerate(value):
        if not isinstance(url, str) or len(url) > MAX_URL_LENGTH:
            raise serializers.ValidationError(
                {
                    "urls": [
                        f"URL {position} must be a string of at most {MAX_URL_LENGTH} characters."
                    ]
                }
            )
    return value


def _result(url: str, decision: ItemDecision, mode: str) -> dict[str, Any]:
    return {
        "url": url,
        "decision": URL_DECISIONS[decision.decision],
        "passes": passes(decision.decision, mode),
        "reason": decision.reason,
        "works": sorted(decision.work_ids),
        "credit": decision.credit,
    }

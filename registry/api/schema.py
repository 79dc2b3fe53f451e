"""How the OpenAPI schema describes our authentication and our errors (imported by
registry.api.urls). Every API view uses ConsentryAutoSchema, through its base class."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny


class OrganizationAPIKeyScheme(OpenApiAuthenticationExtension):
    target_class = "registry.api.auth.OrganizationAPIKeyAuthentication"
    name = "organizationApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "An organization's API key, sent as `Api-Key <key>`.",
        }


class ErrorOut(serializers.Serializer):
    """The body of every API error (registry.api.errors); a refused request body names each
    refused field instead, with its messages."""

    detail = serializers.CharField(required=False, help_text="What went wrong.")


def error(description: str) -> OpenApiResponse:
    """An error response for @extend_schema(responses=...): the error body, described."""
    return OpenApiResponse(response=ErrorOut, description=description)


class ConsentryAutoSchema(AutoSchema):
    """Documents the errors that the framework, not the view, answers, so that a client (and
    schemathesis) finds every status code it can get: refused input, missing or wrong
    credentials, an unknown or foreign object, throttling. A view's own description of a code
    wins."""

    def get_operation(
        self, path: str, path_regex: str, path_prefix: str, method: str, registry: Any
    ) -> dict[str, Any] | None:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation["responses"]
        for code, description in self._implied_errors(operation).items():
            if code not in responses:
                responses[code] = self._get_response_for_code(error(description), code)
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _implied_errors(self, operation: dict[str, Any]) -> dict[str, str]:
        errors = {}
        parameters = operation.get("parameters", [])
        paginator = self._get_paginator()
        # A cursor that does not decode is DRF's 404, below; every other input can be refused.
        cursor = getattr(paginator, "cursor_query_param", None)
        query = [p for p in parameters if p["in"] == "query" and p["name"] != cursor]
        if "requestBody" in operation or query:
            errors["400"] = "Invalid input; the message, or each refused field, says why"
        if not all(isinstance(p, AllowAny) for p in self.view.get_permissions()):
            errors["401"] = "No credentials, or credentials that are invalid or revoked"
            errors["403"] = "These credentials may not use this endpoint"
        if any(p["in"] == "path" for p in parameters):
            errors["404"] = "No such object, or not yours"
        elif paginator is not None:
            errors["404"] = "Invalid cursor"
        if self.view.get_throttles():
            errors["429"] = "Too many requests; retry after the Retry-After header's seconds"
        return errors

    def _get_paginator(self) -> Any:
        # A view's pagination_class pages what it lists on GET; a POST that answers a list (an
        # upload's results) answers it whole, neither paged nor taking a cursor.
        return super()._get_paginator() if self.method == "GET" else None

    def _get_pagination_parameters(self) -> list[dict[str, Any]]:
        # drf-spectacular guesses from the main response whether a view lists; ours say so
        # with pagination_class (the items endpoint's main response is JSON Lines text).
        paginator = self._get_paginator()
        if paginator is None:
            return []
        parameters: list[dict[str, Any]] = paginator.get_schema_operation_parameters(self.view)
        return parameters

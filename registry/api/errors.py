"""One shape for every API error: {"detail": "..."} with the right status code."""

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from registry.services.screenings import ChunkConflict


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request is larger than this endpoint accepts."
    default_code = "payload_too_large"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with what was received before."
    default_code = "conflict"


def api_exception_handler(error: Exception, context: dict[str, Any]) -> Response | None:
    # Services raise Django's ValidationError; the API answers it as a 400 with its messages.
    if isinstance(error, ChunkConflict):
        error = Conflict("; ".join(error.messages))
    elif isinstance(error, DjangoValidationError):
        error = exceptions.ValidationError({"detail": "; ".join(error.messages)})
    elif isinstance(error, RequestDataTooBig):
        error = PayloadTooLarge()
    return exception_handler(error, context)


@csrf_exempt  # it changes nothing; CSRF's 403 page would hide the 404 from a POST or DELETE
def not_found(request: HttpRequest) -> JsonResponse:
    """Any other path under /api/v1/, such as an id that is not a number: the API's 404 body,
    not the site's HTML page."""
    return JsonResponse({"detail": "Not found."}, status=404)

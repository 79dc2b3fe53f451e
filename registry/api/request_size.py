"""Bodies over the registry's limits are refused before anything reads them.

Django parses a multipart body to temporary files as soon as anything reads `request.POST`
(the CSRF middleware does, for a logged-in POST), and no setting bounds its files in total:
the upload limits (registry/services/uploads.py) were applied only once it had all been read.
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


def request_ceiling(content_type: str) -> int:
    """The most bytes a request body may have: the published request limit, and for a
    multipart form the upload limit on its files on top."""
    ceiling: int = settings.CONSENTRY_MAX_REQUEST_BYTES
    if content_type.startswith("multipart/"):
        ceiling += settings.CONSENTRY_UPLOAD_MAX_BYTES
    return ceiling


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


class RequestSizeMiddleware:
    """413 for a body declared larger than `request_ceiling`; the server never reads past
    Content-Length, so checking it bounds what is read."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        length = _declared_length(request)
        ceiling = request_ceiling(request.META.get("CONTENT_TYPE", ""))
        if length > ceiling:
            detail = f"The request has {length} bytes; the maximum is {ceiling}."
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": detail}, status=413)
            return HttpResponse(detail, status=413, content_type="text/plain; charset=utf-8")
        return self.get_response(request)

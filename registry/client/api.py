"""The HTTP side: an API-key session that waits out 429s and retries server errors."""

from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

USER_AGENT = "consentry-client/1"


class ApiError(RuntimeError):
    """The API refused a request; the message carries its status and detail."""


def session(api_key: str, *, retries: int = 8) -> requests.Session:
    # Every request the client makes is safe to repeat (chunks are numbered, reads are reads),
    # so POSTs are retried too. Retry-After is honoured on 429 and 503.
    retry = Retry(
        total=retries,
        backoff_factor=0.5,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=None,
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    http = requests.Session()
    http.mount("http://", HTTPAdapter(max_retries=retry))
    http.mount("https://", HTTPAdapter(max_retries=retry))
    http.headers.update({"Authorization": f"Api-Key {api_key}", "User-Agent": USER_AGENT})
    return http


def checked(response: requests.Response) -> Any:
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text[:500]
        raise ApiError(f"{response.request.method} {response.url}: {response.status_code} {detail}")
    return response.json()

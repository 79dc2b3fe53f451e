"""The HTTP side: an API-key session with timeouts, that waits out 429s and retries an
unreachable or failing registry visibly, for a bounded time."""

import sys
import time
from collections.abc import Callable
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from registry.fingerprints import FINGERPRINT_VERSION

USER_AGENT = "consentry-client/1"
CONNECT_TIMEOUT = 5.0
# A chunk of thousands of items is decided quickly, but a busy registry may take a while.
READ_TIMEOUT = 120.0
RETRY_FOR = 120.0
MAX_RETRY_DELAY = 15.0
# Answers of a registry that is down or restarting behind its proxy: retried like no answer.
_RETRIED_STATUSES = (500, 502, 503, 504)


class ApiError(RuntimeError):
    """The API refused a request; the message carries its status and detail."""


class RegistryUnreachable(ApiError):
    """The registry did not answer within the retry window."""


def session(api_key: str, *, retries: int = 8) -> requests.Session:
    # Only 429 is retried here, silently, honouring Retry-After: the registry asked to wait.
    # Connection failures and server errors are retried by Registry, which says so.
    retry = Retry(
        total=retries,
        connect=0,
        read=0,
        other=0,
        backoff_factor=0.5,
        backoff_max=MAX_RETRY_DELAY,
        status_forcelist=(429,),
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
        except (ValueError, AttributeError):
            detail = "(not the registry's JSON: is --api its address, e.g. http://127.0.0.1:8000?)"
        raise ApiError(f"{response.request.method} {response.url}: {response.status_code} {detail}")
    try:
        return response.json()
    except ValueError:
        raise ApiError(
            f"{response.request.method} {response.url} answered something other than JSON: "
            "is --api the registry's address (e.g. http://127.0.0.1:8000)?"
        ) from None


def connection_problem(error: requests.RequestException) -> str:
    """A short reason instead of urllib3's 'Max retries exceeded ... (Caused by ...)'."""
    if isinstance(error, requests.ConnectTimeout):
        return f"no connection within {CONNECT_TIMEOUT:.0f} s"
    if isinstance(error, requests.ReadTimeout):
        return f"no reply within {READ_TIMEOUT:.0f} s"
    text = str(error)
    for marker, reason in (
        ("NameResolutionError", "host name not found"),
        ("Name or service not known", "host name not found"),
        ("Connection refused", "connection refused"),
        ("Network is unreachable", "network unreachable"),
        ("No route to host", "no route to host"),
        ("Connection reset", "connection reset"),
        ("RemoteDisconnected", "the connection was closed"),
        ("Connection aborted", "the connection was closed"),
        ("SSLError", "TLS handshake failed"),
    ):
        if marker in text:
            return reason
    return type(error).__name__


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Registry:
    """The registry at `base`: every request has timeouts; while the registry cannot be reached
    or answers 5xx, it is retried with a line on stderr each time, for at most `retry_for` s."""

    def __init__(
        self,
        base: str,
        api_key: str,
        *,
        retry_for: float = RETRY_FOR,
        say: Callable[[str], None] = _stderr,
    ) -> None:
        self.base = base.rstrip("/")
        self.http = session(api_key)
        self.retry_for, self.say = retry_for, say

    # A run closes its registry when it ends: a kept-alive connection holds one of the
    # server's request threads (and that thread's database connection) until the socket
    # closes, which an embedding program may not do for a long time.
    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "Registry":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, path: str) -> str:
        return f"{self.base}/api/v1/{path}"

    def request(self, method: str, path: str, **options: Any) -> requests.Response:
        """Every request the client makes is safe to repeat (chunks are numbered, reads are
        reads), so POSTs are retried too."""
        url = self.url(path)
        deadline = time.monotonic() + self.retry_for
        delay = 1.0
        while True:
            try:
                response = self.http.request(
                    method, url, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT), **options
                )
            except (requests.ConnectionError, requests.Timeout) as error:
                problem = f"cannot reach {self.base} ({connection_problem(error)})"
            else:
                if response.status_code not in _RETRIED_STATUSES:
                    return response
                problem = f"{url} answered {response.status_code}"
                response.close()
            left = deadline - time.monotonic()
            if left <= 0:
                raise RegistryUnreachable(
                    f"{problem}; gave up after {self.retry_for:.0f} s. Check --api, or run the "
                    "same command again when the registry is back: it resumes."
                )
            wait = min(delay, left)
            self.say(f"{problem}; retrying in {wait:.0f} s (giving up in {left:.0f} s)")
            time.sleep(wait)
            delay = min(delay * 2, MAX_RETRY_DELAY)

    def get(self, path: str, **options: Any) -> Any:
        return checked(self.request("GET", path, **options))

    def post(self, path: str, **options: Any) -> Any:
        return checked(self.request("POST", path, **options))


def applied_minimum(answer: dict[str, Any], asked: str) -> str:
    """The minimum assurance the registry says it applied, which must be the one asked for:
    a registry that applied a lower one would pass claims the team chose to refuse."""
    applied = answer.get("min_assurance")
    if applied != asked:
        raise ApiError(
            f"the registry applied minimum assurance {applied!r}, not the {asked!r} asked for; "
            "nothing from this answer is used"
        )
    return applied


def refuse_other_fingerprint_version(registry: Registry) -> None:
    """Before any hashing: fingerprints of another version would all be decided `invalid`, so
    a client and a registry that disagree stop here, naming both versions."""
    theirs = registry.get("matching").get("fingerprint_version")
    if theirs != FINGERPRINT_VERSION:
        raise ApiError(
            f"the registry matches fingerprints of version {theirs}; this client makes version "
            f"{FINGERPRINT_VERSION}. Use a client of the registry's version; nothing was screened."
        )

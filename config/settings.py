"""Settings for every environment, read from the environment in this one place.

`CONSENTRY_ENV=production` turns on the production checks: the secrets and the external services
must then be named explicitly, and start-up stops with a clear message when one is missing.
Without it, the embedded default runs: SQLite and a broker kept in files under var/.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("CONSENTRY_VAR_DIR", str(BASE_DIR / "var")))

ENVIRONMENT = env_str("CONSENTRY_ENV", "development")
if ENVIRONMENT not in {"development", "test", "production"}:
    raise ImproperlyConfigured(
        f"CONSENTRY_ENV must be development, test or production, not {ENVIRONMENT!r}."
    )
PRODUCTION = ENVIRONMENT == "production"


# Production takes these from the environment and nothing else (each may instead name a file in
# NAME_FILE); docker/env.example lists them.
PRODUCTION_REQUIRED = (
    "DJANGO_SECRET_KEY",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "DJANGO_ALLOWED_HOSTS",
    "CONSENTRY_RECEIPT_SIGNING_KEY",
)


def _read_secret_file(name: str) -> None:
    """NAME_FILE names a file holding NAME: how Docker and Kubernetes secrets arrive."""
    path = os.environ.get(f"{name}_FILE", "")
    if not path or os.environ.get(name, "").strip():
        return
    try:
        os.environ[name] = Path(path).read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ImproperlyConfigured(f"{name}_FILE={path}: {error.strerror}") from None


for _name in PRODUCTION_REQUIRED:
    _read_secret_file(_name)
if PRODUCTION:
    # All of the missing ones in one message: a deploy should not fail once per variable.
    _missing = [name for name in PRODUCTION_REQUIRED if not os.environ.get(name, "").strip()]
    if _missing:
        raise ImproperlyConfigured(
            "CONSENTRY_ENV=production needs these environment variables, which are not set: "
            f"{', '.join(_missing)} (or NAME_FILE naming a file that holds it). "
            "See docker/env.example and docs/operations.md."
        )


def _required_in_production(name: str, development_default: str) -> str:
    """A secret or service address: mandatory in production, a local default elsewhere."""
    if PRODUCTION:
        return env_str(name)
    return env_str(name, development_default)


SECRET_KEY = _required_in_production(
    "DJANGO_SECRET_KEY", "insecure-development-key-not-for-production"
)
# Rotating the secret key: the old one goes here (comma-separated) until sessions signed with
# it have expired, so nobody is logged out by the rotation (docs/operations.md).
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS", "")
DEBUG = env_bool("DJANGO_DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,testserver"
)
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must name the hosts this site answers to.")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    "registry",
]

MIDDLEWARE = [
    # Orchestrators' probes, answered before host validation and the HTTPS redirect.
    "registry.api.health.HealthProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files straight from gunicorn, compressed and cached for ever (hashed names).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything reads a body (CSRF reads the form): an oversized one is refused unread.
    "registry.api.request_size.RequestSizeMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, so it answers a locked-out login after the authentication middleware ran.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        _required_in_production("DATABASE_URL", f"sqlite:///{VAR_DIR / 'consentry.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the worker share one SQLite file: IMMEDIATE transactions and WAL let a
    # writer wait its turn instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif "options" not in DATABASES["default"].setdefault("OPTIONS", {}):
    # PostgreSQL's default page costs assume spinning disks: it then answers the exact-hash
    # lookup of a 10,000-item chunk with a parallel scan of every work (140 ms on three
    # processes at a million works) rather than index probes (45 ms on one). SSDs and a cached
    # registry make a random read nearly as cheap as a sequential one.
    DATABASES["default"]["OPTIONS"]["options"] = (
        f"-c random_page_cost={env_float('DATABASE_RANDOM_PAGE_COST', 1.1)}"
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if ENVIRONMENT == "test":
    # The tests create hundreds of users, and PBKDF2 spends a third of a second on each password;
    # the test database is thrown away, so its hashes need not resist anything.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# --- Login throttling: django-axes locks out an account and an address after repeated failures ---
# AxesStandaloneBackend first: it refuses a locked-out login before the password is even checked.
AUTHENTICATION_BACKENDS = [
    # Tests: the same, except Django's test Client.login(), which sends no request, passes.
    "registry.admin.lockout.TestClientLockoutBackend"
    if ENVIRONMENT == "test"
    else "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("CONSENTRY_LOGIN_FAILURE_LIMIT", 10)
# No banner on every start: commands that promise one line of output (create_database) keep it.
AXES_VERBOSE = False
# Each parameter on its own: 10 failures for one account from many addresses lock the account,
# 10 failures from one address against many accounts lock the address.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_COOLOFF_TIME = timedelta(minutes=env_int("CONSENTRY_LOGIN_LOCKOUT_MINUTES", 30))
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "registry.admin.lockout.lockout_response"
# Operators unlock in the admin's "access attempts" (registry/admin/logins.py) or with
# `manage.py axes_reset_username NAME`; axes' own admin pages would need model permissions.
AXES_ENABLE_ADMIN = False
AXES_CLIENT_IP_CALLABLE = "registry.admin.lockout.client_address"
# Proxies in front of gunicorn that append to X-Forwarded-For (1 behind nginx): without it every
# login would seem to come from the proxy's address, and one attacker would lock out everyone.
CONSENTRY_TRUSTED_PROXY_COUNT = env_int("CONSENTRY_TRUSTED_PROXY_COUNT", 0)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Languages: artists work in Simplified Chinese or English -------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "registry" / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Files ----------------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(VAR_DIR / "static")))
# Production serves what `collectstatic` wrote (the image does it at build time), under
# content-hashed names; elsewhere the apps' own folders are served as they are.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Outside production WhiteNoise finds files in the apps, so no collectstatic is needed there.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = not PRODUCTION
# Works' images are private: MEDIA_ROOT is never served directly, only through permission checks.
MEDIA_ROOT = Path(env_str("DJANGO_MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media/"
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("DJANGO_DATA_UPLOAD_MAX_NUMBER_FILES", 1000)

# --- Cache: API throttling counts requests across every web process ------------------------------
_CACHE_URL = env_str("CACHE_URL", "")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _CACHE_URL}
    if _CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

# --- Celery ---------------------------------------------------------------------------------------
_BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = _required_in_production("CELERY_BROKER_URL", "filesystem://localhost//")
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR / "queue"),
        "data_folder_out": str(_BROKER_DIR / "queue"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "control_folder": str(_BROKER_DIR / "control"),
        "store_processed": False,
    }
# One queue name per deployment; the tests use their own so a stale message never reaches them.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "consentry")
CELERY_TASK_ACKS_LATE = True
# A task whose worker dies is put back on the queue rather than lost.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 300)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 360)
CELERY_TASK_IGNORE_RESULT = True
# Chunks whose task message was lost (broker down at enqueue time) are sent again by beat.
CELERY_BEAT_SCHEDULE = {
    "requeue-stalled-chunks": {"task": "consentry.requeue_stalled_chunks", "schedule": 60.0},
    # Uploaded files whose task message was lost, or whose worker died.
    "requeue-stalled-uploads": {
        "task": "consentry.requeue_stalled_uploads",
        "schedule": 60.0,
    },
    # Withdrawal fan-outs and webhook deliveries whose task message was lost.
    "sweep-withdrawals": {
        "task": "consentry.sweep_withdrawals",
        "schedule": 60.0,
    },
    # A signed checkpoint of the consent ledger's head, published at /api/v1/ledger/checkpoint.
    "publish-ledger-checkpoint": {
        "task": "consentry.publish_ledger_checkpoint",
        "schedule": float(env_int("CONSENTRY_CHECKPOINT_SECONDS", 3600)),
    },
}
CONSENTRY_STALLED_CHUNK_SECONDS = env_int("CONSENTRY_STALLED_CHUNK_SECONDS", 120)
# How long a two-phase chunk waits for its verification payloads before the sweep decides it
# without them (those items `invalid`): long enough for a client to be restarted and resume.
CONSENTRY_VERIFICATION_WAIT_SECONDS = env_int("CONSENTRY_VERIFICATION_WAIT_SECONDS", 3600)
# Beat writes its schedule file after every task it sends: the file's age is its heartbeat
# (docker/healthcheck.py beat).
CELERY_BEAT_SYNC_EVERY = 1
# The broker may be restarted under a running worker: it reconnects rather than exits.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# On a lost broker connection, stop the chunks in progress: their messages go back to the
# queue anyway, and deciding is idempotent. (Celery 6's default; this also silences its
# pending-deprecation warning.)
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TASK_ALWAYS_EAGER = False

# --- API ------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Deny by default: every view names the permissions it grants.
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "registry.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.CursorPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "registry.api.errors.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {"organization": env_str("CONSENTRY_THROTTLE_RATE", "1200/min")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Consentry API",
    "DESCRIPTION": "Consent-aware training-data registry and gatekeeper.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # /api/v1/docs loads Swagger UI from this project (drf-spectacular-sidecar), never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No badge fetched from validator.swagger.io: the page talks to this site only.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "ENUM_NAME_OVERRIDES": {
        "PurposeEnum": "registry.models.choices.Purpose",
        "PermissionEnum": "registry.models.choices.Permission",
        "DecisionEnum": "registry.models.screenings.Decision",
        "ModeEnum": "registry.models.screenings.ScreeningMode",
    },
}

# --- Consentry ------------------------------------------------------------------------------------
# Where credits point: the registry's public address.
CONSENTRY_PUBLIC_URL = env_str("CONSENTRY_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
# The published maxima: items per POST /screenings (or chunk) and per synchronous /check.
CONSENTRY_MAX_ITEMS_PER_REQUEST = env_int("CONSENTRY_MAX_ITEMS_PER_REQUEST", 10_000)
CONSENTRY_MAX_CHECK_ITEMS = env_int("CONSENTRY_MAX_CHECK_ITEMS", 1_000)
CONSENTRY_MAX_URLS_PER_CHECK = env_int("CONSENTRY_MAX_URLS_PER_CHECK", 10_000)
CONSENTRY_MAX_REQUEST_BYTES = env_int("CONSENTRY_MAX_REQUEST_BYTES", 32 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = CONSENTRY_MAX_REQUEST_BYTES
# What uploaded images may cost (registry/services/uploads.py): DATA_UPLOAD_MAX_MEMORY_SIZE does
# not count files, and decoding costs by the pixel (20 PNGs of 190 bytes declared 49.7 MP and took
# 6.8 s of CPU). Per request, and per artist or organization per hour; pixels from the headers.
CONSENTRY_UPLOAD_MAX_BYTES = env_int("CONSENTRY_UPLOAD_MAX_BYTES", 100 * 1024 * 1024)
# 50 MP: one image at the decoder's own limit (MAX_IMAGE_PIXELS) always fits in a request.
CONSENTRY_UPLOAD_MAX_PIXELS = env_int("CONSENTRY_UPLOAD_MAX_PIXELS", 50_000_000)
CONSENTRY_UPLOAD_BYTES_PER_HOUR = env_int("CONSENTRY_UPLOAD_BYTES_PER_HOUR", 2 * 1024**3)
CONSENTRY_UPLOAD_PIXELS_PER_HOUR = env_int("CONSENTRY_UPLOAD_PIXELS_PER_HOUR", 1_000_000_000)
# Days an artist's personal API token works (manage.py create_artist_token, or the admin).
CONSENTRY_ARTIST_TOKEN_DAYS = env_int("CONSENTRY_ARTIST_TOKEN_DAYS", 90)
# Ed25519 key that signs receipts, as PEM text. Development generates one under var/ on first use.
CONSENTRY_RECEIPT_SIGNING_KEY = _required_in_production("CONSENTRY_RECEIPT_SIGNING_KEY", "")
if PRODUCTION:
    # A key that cannot sign would only show at the first finished screening: refuse it now.
    try:
        _receipt_key = load_pem_private_key(CONSENTRY_RECEIPT_SIGNING_KEY.encode(), password=None)
    except (ValueError, TypeError) as _error:
        raise ImproperlyConfigured(
            f"CONSENTRY_RECEIPT_SIGNING_KEY is not a PEM private key without a password: {_error}"
        ) from None
    if not isinstance(_receipt_key, Ed25519PrivateKey):
        raise ImproperlyConfigured("CONSENTRY_RECEIPT_SIGNING_KEY must be an Ed25519 key.")
CONSENTRY_RECEIPT_SIGNING_KEY_FILE = VAR_DIR / "receipt-signing-key.pem"

# --- Content security policy (django-csp) on every page: the admin and the API docs ---------------
# Scripts, styles, images and requests from this site only; no frames, plugins or foreign forms.
# Inline styles stay allowed: Swagger UI and the admin's widgets set style attributes.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Health probes ------------------------------------------------------------------------------
# Seconds a readiness probe waits for the broker and for this process's index to sync.
CONSENTRY_HEALTH_TIMEOUT = float(env_int("CONSENTRY_HEALTH_TIMEOUT", 2))

# --- Security in production -----------------------------------------------------------------------
# TLS ends at the reverse proxy (nginx, Traefik, a cloud load balancer), which must set
# X-Forwarded-Proto and must strip any the client sent; docs/operations.md says how.
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = env_bool("DJANGO_USE_X_FORWARDED_HOST", default=False)
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", True)
    SECURE_CONTENT_TYPE_NOSNIFF = True

# --- Logs: JSON lines in production (LOG_FORMAT=plain for a terminal) ----------------------------
LOG_FORMAT = env_str("LOG_FORMAT", "json" if PRODUCTION else "plain")
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or plain, not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "config.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
# With JSON logs the worker and beat log through LOGGING too, instead of Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = LOG_FORMAT == "plain"

"""NKKB settings: whatever differs between a laptop and production comes from the environment."""

import hashlib
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_flag("DEBUG")

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "Set SECRET_KEY in the environment (or DEBUG=1 for development)."
        )
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1"] if DEBUG else [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_filters",
    "django_tables2",
    "csp",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "concurrency",
    "axes",
    "nkkb.core",
    "agents",
    "trials",
    "registry",
    # Benchmark tooling (generate_synthetic): no models, no URLs.
    "bench",
]

MIDDLEWARE = [
    # Outermost: every log line of a request, and its response, carry the request's id.
    "nkkb.core.logging.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Bounded work: oversized or unknown parameters and bodies are refused before any query,
    # anonymous pages are rate-limited, and no query outlives the request's time budget.
    "nkkb.core.limits.RequestLimitsMiddleware",
    "nkkb.core.throttling.PageRateLimitMiddleware",
    "nkkb.core.deadlines.RequestDeadlineMiddleware",
    "nkkb.core.middleware.DatabaseUnavailableMiddleware",
    # Admin logins: failed attempts counted per account and address (django-axes, below).
    "axes.middleware.AxesMiddleware",
    # Innermost, so that answers from the cache pass through every other middleware as well.
    "nkkb.core.caching.DataVersionCacheMiddleware",
    # Within the request's data version (above): after a write, before the answer.
    "nkkb.core.stored_facets.MendStoredFacetsMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # First, so that a locked-out account and address is refused before its password is checked.
    "nkkb.core.accounts.LoginAttemptsBackend",
    "nkkb.core.accounts.PermissionsBackend",
]

ROOT_URLCONF = "nkkb.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

WSGI_APPLICATION = "nkkb.wsgi.application"

# SQLite in the project folder unless DATABASE_URL names another (PostgreSQL in production).
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "0")),
    )
}
# Seconds a request may spend; a query still running then is stopped and the request answered
# 503 (nkkb.core.deadlines), well before gunicorn's 30-second timeout would kill the worker.
REQUEST_TIME_LIMIT = float(os.environ.get("REQUEST_TIME_LIMIT", "10"))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # Memory mapping: SQLite reads the file through the operating system's file cache,
            # shared by all workers, rather than a read() per page, which shortens a filtered
            # list's queries at scale (BENCHMARKS.md, "Figures behind the code").
            # WAL: readers never wait for a writer, nor a writer for readers.
            "init_command": (
                "PRAGMA mmap_size=268435456; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"
            ),
            # A transaction takes the write lock when it begins: two writers then queue (up to
            # `timeout` seconds) instead of one failing "database is locked" when it upgrades a
            # read lock the other one blocks.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A web request's queries are short and many run at once: parallel workers for one query
    # take the CPUs the other requests need, and lists under load got faster without them
    # (BENCHMARKS.md, "Figures behind the code"). No statement may outlive a request's budget.
    # `?options=...` in DATABASE_URL overrides both.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "options",
        "-c max_parallel_workers_per_gather=0 "
        f"-c statement_timeout={round(REQUEST_TIME_LIMIT * 1000)}",
    )

CACHES = {
    # Nothing that must hold across workers lives in a cache: rate-limit counts are in the
    # database (nkkb.core.throttling), responses and facet counts are keyed by data version.
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Rendered anonymous responses, keyed by data version (nkkb.core.caching): a write retires
    # them. Each worker keeps those it serves in memory, and every worker of a machine finds
    # those of the others in files: after a write, the first worker to render a page serves it
    # to the others, which would each render it again. Databases sharing the directory keep
    # apart by their key prefix.
    "responses": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "responses",
        "TIMEOUT": 600,
        "OPTIONS": {"MAX_ENTRIES": 200},
    },
    "shared_responses": {
        "BACKEND": "nkkb.core.caching.SharedResponseCache",
        "LOCATION": os.environ.get("RESPONSE_CACHE_DIR", str(BASE_DIR / "var" / "responses")),
        "KEY_PREFIX": hashlib.sha256(
            repr([DATABASES["default"][key] for key in ("ENGINE", "NAME", "HOST", "PORT")]).encode()
        ).hexdigest()[:16],
        "TIMEOUT": 600,
        "OPTIONS": {"MAX_ENTRIES": 1000},
    },
    # Facet counts of the list pages, keyed by data version (nkkb.core.facets).
    "facets": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "facets",
        "TIMEOUT": 600,
        "OPTIONS": {"MAX_ENTRIES": 2000},
    },
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Compressed, but without a manifest, so that pages render before collectstatic has run.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the static folders too, so a checkout works before collectstatic has run.
WHITENOISE_USE_FINDERS = True

# Security: on unless DEBUG. Behind a TLS-terminating proxy set SECURE_PROXY_SSL_HEADER=1.
SECURE_SSL_REDIRECT = env_flag("SECURE_SSL_REDIRECT", not DEBUG)
if env_flag("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# No inline scripts or styles anywhere: every asset is a file served by the app itself.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The knowledge base's models, in the order a release loads them, each with its name in releases
# and counts (nkkb.core.knowledge_base).
NKKB_KNOWLEDGE_BASE = {
    "agents.Target": "targets",
    "agents.Agent": "agents",
    "agents.NKCellProduct": "nk_products",
    "registry.RegistryRecord": "registry_records",
    "registry.StudyCandidate": "study_candidates",
    "trials.Condition": "conditions",
    "trials.Trial": "trials",
    "trials.TrialAgent": "trial_agents",
    "trials.Result": "results",
    "trials.Caveat": "caveats",
}

# Knowledge-base models the public never reads: left out of the public feed of changes.
NKKB_CURATORS_ONLY = ["registry.StudyCandidate"]
# Whether curators' own admin edits of existing records go through review as well (a proposal
# that another curator accepts, nkkb.core.proposals); contributors' always do.
NKKB_REVIEW_REQUIRED = env_flag("NKKB_REVIEW_REQUIRED", True)

# Where the curated seed lives, and the review it was curated from (used to check provenance).
NKKB_FIXTURES_DIR = BASE_DIR / "fixtures"
# The ClinicalTrials.gov API v2 that sync_ctgov and discover_ctgov read (tests point it elsewhere).
NKKB_CTGOV_API_URL = os.environ.get("NKKB_CTGOV_API_URL", "https://clinicaltrials.gov/api/v2")
NKKB_REVIEW_PATH = Path(
    os.environ.get("NKKB_REVIEW_PATH", BASE_DIR.parent / "shared" / "000_c67bac30c1f4f8a6.txt")
)

# Days an API token works after it is made (`manage.py drf_create_token --reset` makes a new one).
API_TOKEN_LIFETIME_DAYS = float(os.environ.get("API_TOKEN_LIFETIME_DAYS", "30"))

REST_FRAMEWORK = {
    # Token first: an anonymous write is then a 401 that names the scheme, not a bare 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "nkkb.core.api.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.DjangoModelPermissionsOrAnonReadOnly",
    ],
    "DEFAULT_FILTER_BACKENDS": [
        "nkkb.core.api.filters.FilterSetBackend",
        "nkkb.core.api.filters.SearchFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "nkkb.core.api.pagination.PageNumberPagination",
    "DEFAULT_RENDERER_CLASSES": ["nkkb.core.api.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["nkkb.core.api.parsers.JSONParser"],
    "DEFAULT_THROTTLE_CLASSES": ["nkkb.core.throttling.AnonRateThrottle"],
    # Counted in the database, shared by every worker; "pages" is the HTML pages' rate. An empty
    # value turns a limit off (and its write per request: BENCHMARKS.md).
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("API_ANON_THROTTLE_RATE", "120/minute") or None,
        "pages": os.environ.get("PAGES_ANON_THROTTLE_RATE", "120/minute") or None,
    },
    # Clients are told apart by REMOTE_ADDR; behind N reverse proxies, the Nth address from the
    # end of X-Forwarded-For (a client could forge the rest of that header).
    "NUM_PROXIES": int(os.environ.get("API_NUM_PROXIES", "0")),
    "EXCEPTION_HANDLER": "nkkb.core.api.exceptions.exception_handler",
    "COERCE_DECIMAL_TO_STRING": False,
    "DEFAULT_SCHEMA_CLASS": "nkkb.core.api.schema.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    # One schema component per vocabulary that several fields share.
    "ENUM_NAME_OVERRIDES": {
        "RegistryStatusEnum": "registry.choices.OverallStatus",
        "ActualityEnum": "registry.choices.Actuality",
        "DiscrepancyKindEnum": "trials.choices.DiscrepancyKind",
        "SourceKindEnum": "registry.choices.SourceKind",
        "TargetKindEnum": "agents.choices.TargetKind",
        "ProposalStatusEnum": "nkkb.core.models.ProposalStatus",
    },
    "TITLE": "NKKB API",
    "DESCRIPTION": (
        "Therapies that enhance NK cell cytotoxicity against cancer, and the clinical trials "
        "that test them, curated from the literature with provenance. Anyone may read; "
        "writing needs a curator's token or session. Lists take the same filters as the "
        "site's pages (repeat one to match any of its values; different filters must all "
        "match), `page` and `page_size`, and `format=csv`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # What a client sends (slugs) differs from what it reads back (brief objects).
    "COMPONENT_SPLIT_REQUEST": True,
    "GET_LIB_DOC_EXCLUDES": "nkkb.core.api.schema.schema_doc_excludes",
    # Links from each record's answers to reading, changing and deleting it (create -> read ->
    # update -> delete), after drf-spectacular's own hook, which names the shared enums.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "nkkb.core.api.schema.record_links",
    ],
    # The schema lists the current slugs of agents, targets..., so generating it reads the
    # database, which `check --deploy` must not need; tests/test_api.py validates the schema.
    "ENABLE_DJANGO_DEPLOY_CHECK": False,
    # The docs page loads Swagger UI from the app itself: no CDN, works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# Bodies larger than this are refused (413 on the API) before they are read.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("DATA_UPLOAD_MAX_MEMORY_SIZE", 1024 * 1024))
# A 403 for a missing CSRF token is JSON under /api/, a page elsewhere.
CSRF_FAILURE_VIEW = "nkkb.core.errors.csrf_failure"

# Admin logins (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one account from one
# address, that pair is locked out for AXES_COOLOFF_TIME hours (429); `manage.py axes_reset`
# unlocks (README, Deployment). Per pair, so that nobody can lock a curator out from elsewhere.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = float(os.environ.get("AXES_COOLOFF_TIME", "1"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "429.html"
AXES_HTTP_RESPONSE_CODE = 429
# The client's address as the API's rate limit reads it (API_NUM_PROXIES).
AXES_CLIENT_IP_CALLABLE = "nkkb.core.throttling.client_address"
AXES_VERBOSE = False

# Errors: every 500 is logged with its traceback to stdout, as JSON lines carrying the request's
# id (nkkb.core.logging); ADMINS ("Name <address>, ...") are also mailed each one (EMAIL_* below).
# ERROR_REPORT_HANDLER names a logging handler class to send them elsewhere as well, e.g.
# `sentry_sdk.integrations.logging.EventHandler` (README, Deployment).
ADMINS = [
    (address.split("<")[0].strip() or address, address.split("<")[-1].rstrip(">").strip())
    for address in env_list("ADMINS", [])
]
SERVER_EMAIL = os.environ.get("SERVER_EMAIL", "root@localhost")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_flag("EMAIL_USE_TLS")
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
ERROR_HANDLERS = ["stdout"]
if ADMINS:
    ERROR_HANDLERS.append("mail_admins")
if os.environ.get("ERROR_REPORT_HANDLER"):
    ERROR_HANDLERS.append("error_report")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "nkkb.core.logging.RequestIdFilter"}},
    "formatters": {"json": {"()": "nkkb.core.logging.JSONFormatter"}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json",
            "filters": ["request_id"],
        },
        "mail_admins": {
            "class": "django.utils.log.AdminEmailHandler",
            "level": "ERROR",
            "filters": ["request_id"],
        },
        **(
            {
                "error_report": {
                    "class": os.environ["ERROR_REPORT_HANDLER"],
                    "level": "ERROR",
                    "filters": ["request_id"],
                }
            }
            if os.environ.get("ERROR_REPORT_HANDLER")
            else {}
        ),
    },
    "root": {"handlers": ["stdout"], "level": "WARNING"},
    "loggers": {
        # Unhandled exceptions (500, with traceback), and 4xx answers as warnings.
        "django.request": {"handlers": ERROR_HANDLERS, "level": "WARNING", "propagate": False},
        "django.security": {"handlers": ERROR_HANDLERS, "level": "WARNING", "propagate": False},
        # One line per request (nkkb.core.logging.RequestLogMiddleware), 503s and refusals.
        "nkkb": {"handlers": ERROR_HANDLERS, "level": LOG_LEVEL, "propagate": False},
        "axes": {"handlers": ["stdout"], "level": "WARNING", "propagate": False},
    },
}

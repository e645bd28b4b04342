"""NKKB settings: whatever differs between a laptop and production comes from the environment."""

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
    "nkkb.core",
    "agents",
    "trials",
    # Benchmark tooling (generate_synthetic): no models, no URLs.
    "bench",
]

MIDDLEWARE = [
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
    "nkkb.core.middleware.DatabaseUnavailableMiddleware",
    # Innermost, so that answers from the cache pass through every other middleware as well.
    "nkkb.core.caching.DataVersionCacheMiddleware",
]

CACHES = {
    # Rate-limit counts; per process (see README, Deployment).
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Rendered anonymous responses, keyed by data version (nkkb.core.caching): a write retires them.
    "responses": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "responses",
        "TIMEOUT": 600,
        "OPTIONS": {"MAX_ENTRIES": 200},
    },
    # Facet counts of the list pages, keyed by data version (nkkb.core.facets).
    "facets": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "facets",
        "TIMEOUT": 600,
        "OPTIONS": {"MAX_ENTRIES": 2000},
    },
}

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
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite reads the file through memory mapping rather than a read() per page, which
    # shortens a filtered list's queries at scale (BENCHMARKS.md, "Figures behind the code").
    # The mapped pages are the operating system's file cache, shared by all workers.
    DATABASES["default"].setdefault("OPTIONS", {})["init_command"] = "PRAGMA mmap_size=268435456"
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A web request's queries are short and many run at once: parallel workers for one query
    # take the CPUs the other requests need, and lists under load got faster without them
    # (BENCHMARKS.md, "Figures behind the code"). `?options=...` in DATABASE_URL overrides it.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "options", "-c max_parallel_workers_per_gather=0"
    )

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
    "trials.Condition": "conditions",
    "trials.Trial": "trials",
    "trials.TrialAgent": "trial_agents",
    "trials.Result": "results",
}

# Where the curated seed lives, and the review it was curated from (used to check provenance).
NKKB_FIXTURES_DIR = BASE_DIR / "fixtures"
NKKB_REVIEW_PATH = Path(
    os.environ.get("NKKB_REVIEW_PATH", BASE_DIR.parent / "shared" / "000_c67bac30c1f4f8a6.txt")
)

REST_FRAMEWORK = {
    # Token first: an anonymous write is then a 401 that names the scheme, not a bare 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.DjangoModelPermissionsOrAnonReadOnly",
    ],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "nkkb.core.api.filters.SearchFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "nkkb.core.api.pagination.PageNumberPagination",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.AnonRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"anon": os.environ.get("API_ANON_THROTTLE_RATE", "120/minute")},
    # Clients are told apart by REMOTE_ADDR; behind N reverse proxies, the Nth address from the
    # end of X-Forwarded-For (a client could forge the rest of that header).
    "NUM_PROXIES": int(os.environ.get("API_NUM_PROXIES", "0")),
    "EXCEPTION_HANDLER": "nkkb.core.api.exceptions.exception_handler",
    "COERCE_DECIMAL_TO_STRING": False,
    "DEFAULT_SCHEMA_CLASS": "nkkb.core.api.schema.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
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
    # The schema lists the current slugs of agents, targets..., so generating it reads the
    # database, which `check --deploy` must not need; tests/test_api.py validates the schema.
    "ENABLE_DJANGO_DEPLOY_CHECK": False,
    # The docs page loads Swagger UI from the app itself: no CDN, works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

"""Settings, read from the environment (see docs/settings.md)."""

import ipaddress
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from core.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
COGNISIM_HOME = Path(os.environ.get("COGNISIM_HOME", BASE_DIR / ".cognisim"))
COGNISIM_HOME.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from exc


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    # A local install gets a random key kept in its home folder, never in the repository.
    key_file = COGNISIM_HOME / "secret_key"
    if not key_file.exists():
        from django.utils.crypto import get_random_string

        key_file.write_text(get_random_string(64))
        key_file.chmod(0o600)
    SECRET_KEY = key_file.read_text().strip()

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "channels",
    "core",
    "devices",
    "sessions.apps.TestSessionsConfig",
    "turns",
    "runs",
    "ide",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "cognisim_site.urls"
ASGI_APPLICATION = "cognisim_site.asgi.application"
WSGI_APPLICATION = None

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

# SQLite (WAL) is the embedded default; DATABASE_URL selects PostgreSQL.
DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{COGNISIM_HOME / 'db.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=600, conn_health_checks=True)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = None
    DATABASES["default"]["OPTIONS"] = {
        # BEGIN IMMEDIATE serialises writers up front, so read-then-write transactions
        # (per-session event numbering, the per-user cap) cannot deadlock on upgrade.
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # The test database is a file so that worker and server processes see it too.
    DATABASES["default"]["TEST"] = {"NAME": str(COGNISIM_HOME / "test.sqlite3")}
else:
    # A commit does not wait for PostgreSQL to flush its WAL to disk (as SQLite's WAL with
    # synchronous=NORMAL above): a step costs three commits, and a flush is most of each one's time.
    # A crash of the database server itself may lose the last fraction of a second of commits;
    # a crash of anything else loses nothing (docs/durability.md). DATABASE_SYNCHRONOUS_COMMIT=on restores it.
    _commit = os.environ.get("DATABASE_SYNCHRONOUS_COMMIT", "off")
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options["options"] = f"{_options.get('options', '')} -c synchronous_commit={_commit}".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = ["cognisim_site.logins.ThrottledModelBackend"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = COGNISIM_HOME / "static"
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

# Artifacts: screens, screenshots, device logs, failure evidence, recordings (core/storage.py,
# docs/settings.md "Artifacts"). Files under ARTIFACTS_DIR, or an S3-compatible bucket when
# ARTIFACTS_S3_BUCKET is set (credentials from the usual AWS_* variables, never from settings).
ARTIFACTS_DIR = Path(os.environ.get("ARTIFACTS_DIR", COGNISIM_HOME / "artifacts"))
ARTIFACTS_S3_BUCKET = os.environ.get("ARTIFACTS_S3_BUCKET", "").strip()
if ARTIFACTS_S3_BUCKET:
    _ARTIFACTS = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": ARTIFACTS_S3_BUCKET,
            "endpoint_url": os.environ.get("ARTIFACTS_S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("ARTIFACTS_S3_REGION") or None,
            "location": os.environ.get("ARTIFACTS_S3_PREFIX", "").strip("/"),
            "default_acl": None,
            "file_overwrite": True,
        },
    }
else:
    _ARTIFACTS = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": str(ARTIFACTS_DIR),
            "allow_overwrite": True,
            "file_permissions_mode": 0o600,
            "directory_permissions_mode": 0o700,
        },
    }
STORAGES = {
    "default": _ARTIFACTS,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "artifacts": _ARTIFACTS,
}

# Redis: one server for the broker, the channel layer and locks.
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CHANNEL_PREFIX = os.environ.get("COGNISIM_CHANNEL_PREFIX", "cognisim")
QUEUE_PREFIX = os.environ.get("COGNISIM_QUEUE_PREFIX", "")

CHANNEL_LAYERS = {
    "default": {
        # Redis pub/sub: one PUBLISH per event and one subscription per group per process,
        # against ~8 round trips per event for the list-based layer (docs/performance.md).
        # Pub/sub keeps nothing for a subscriber that is away; it need not: events are
        # committed before they are sent, and sockets fill any gap from the database.
        # Its subclass hands an event to all of a process's sockets on the session in one pass.
        "BACKEND": "core.channel_layer.FanOutChannelLayer",
        "CONFIG": {
            # redis-py 8 sets a 5 s socket_timeout by default, which kills every idle
            # consumer (SPEC §1 landmines). No timeout: an idle socket is a normal socket.
            "hosts": [{"address": REDIS_URL, "socket_timeout": None}],
            "prefix": CHANNEL_PREFIX,
        },
    }
}

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Shared by every process: sign-in throttling (cognisim_site/logins.py).
    "throttle": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": CHANNEL_PREFIX,
        "OPTIONS": {"socket_timeout": 2, "socket_connect_timeout": 2},
    },
}

CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_DEFAULT_QUEUE = "cognisim"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "cognisim_site.errors.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["cognisim_site.parsers.SafeJSONParser"],
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "CogniSim API",
    "DESCRIPTION": "Sessions, steps and events of tests on Android devices.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "ENUM_NAME_OVERRIDES": {
        "SessionSourceEnum": ["ide", "api", "ci", "replay"],
        "BundleTransportEnum": ["adb", "sim", ""],
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "cognisim_site.openapi.add_error_responses",
    ],
}

# Product settings.
MAX_ACTIVE_SESSIONS_PER_USER = env_int("MAX_ACTIVE_SESSIONS_PER_USER", 2)
SESSION_IDLE_SECONDS = env_int("SESSION_IDLE_SECONDS", 300)
STEP_DEFAULT_TIMEOUT_MS = env_int("STEP_DEFAULT_TIMEOUT_MS", 30_000)
EVENTS_PAGE_SIZE = env_int("EVENTS_PAGE_SIZE", 500)
SIM_DEVICE_DIR = Path(os.environ.get("SIM_DEVICE_DIR", COGNISIM_HOME / "devices"))

# Logs: readable text by default, one JSON object per line with LOG_FORMAT=json (docs/deploy.md).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text").strip().lower()
try:
    LOGGING = logging_config(fmt=LOG_FORMAT, level=os.environ.get("LOG_LEVEL", "INFO").upper())
except ValueError as exc:
    raise ImproperlyConfigured(str(exc)) from exc

# Probes and metrics (docs/deploy.md). Every process writes its metric samples into one directory.
PROMETHEUS_MULTIPROC_DIR = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(COGNISIM_HOME / "metrics")))
PROMETHEUS_MULTIPROC_DIR.mkdir(parents=True, exist_ok=True)
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
try:
    METRICS_ALLOW_FROM = [
        ipaddress.ip_network(net.strip())
        for net in os.environ.get("METRICS_ALLOW_FROM", "127.0.0.0/8,::1/128").split(",")
        if net.strip()
    ]
except ValueError as exc:
    raise ImproperlyConfigured(f"METRICS_ALLOW_FROM: {exc}") from exc
READYZ_CACHE_SECONDS = float(os.environ.get("READYZ_CACHE_SECONDS", "2"))
WORKER_BEAT_SECONDS = float(os.environ.get("WORKER_BEAT_SECONDS", "2"))

# Behind a TLS-terminating proxy (docs/deploy.md): all off unless the environment says so.
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)

# Durability (docs/durability.md).
LEASE_TTL_SECONDS = env_int("LEASE_TTL_SECONDS", 6)
SWEEP_INTERVAL_SECONDS = float(os.environ.get("SWEEP_INTERVAL_SECONDS", "1"))
REDISPATCH_AFTER_SECONDS = env_int("REDISPATCH_AFTER_SECONDS", 3)
# How long a drain keeps listening for the session's next step after its last one (docs/architecture.md).
LANE_LINGER_SECONDS = float(os.environ.get("LANE_LINGER_SECONDS", "0.5"))
RATE_LIMIT_STEPS = env_int("RATE_LIMIT_STEPS", 600)
RATE_LIMIT_WINDOW_SECONDS = env_int("RATE_LIMIT_WINDOW_SECONDS", 60)

# Devices on hosts (docs/devices.md).
ADB_SERVER_HOST = os.environ.get("ADB_SERVER_HOST", "127.0.0.1")
ADB_SERVER_PORT = env_int("ADB_SERVER_PORT", 5037)
DEVICE_STALE_SECONDS = env_int("DEVICE_STALE_SECONDS", 15)
# The live device view (docs/ide.md "Live view"): screen reads a second at most, and how long a watcher
# counts without renewing itself.
LIVE_MAX_FPS = env_int("LIVE_MAX_FPS", 30)
LIVE_WATCH_TTL_SECONDS = env_int("LIVE_WATCH_TTL_SECONDS", 15)

# Hardening (docs/settings.md "Limits"): what one request, one socket and one user may take.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_REQUEST_BYTES", 8 * 1024 * 1024)
API_MAX_JSON_DEPTH = env_int("MAX_JSON_DEPTH", 64)
MAX_WAITING_SESSIONS_PER_USER = env_int("MAX_WAITING_SESSIONS_PER_USER", 20)
MAX_RUNS_IN_FLIGHT_PER_USER = env_int("MAX_RUNS_IN_FLIGHT_PER_USER", 20)
SOCKET_MESSAGES_PER_SECOND = float(os.environ.get("SOCKET_MESSAGES_PER_SECOND", "20"))
SOCKET_MESSAGE_BURST = env_int("SOCKET_MESSAGE_BURST", 60)
WEBHOOK_TOLERANCE_SECONDS = env_int("WEBHOOK_TOLERANCE_SECONDS", 300)
LOGIN_FAILURES_ALLOWED = env_int("LOGIN_FAILURES_ALLOWED", 5)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 300)

# Retention of artifacts, enforced by the sweeper (docs/settings.md "Artifacts"): 0 turns each off.
ARTIFACT_RETENTION_DAYS = env_int("ARTIFACT_RETENTION_DAYS", 30)
ARTIFACT_QUOTA_MB = env_int("ARTIFACT_QUOTA_MB", 1024)

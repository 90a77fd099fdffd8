"""Settings, read from the environment (see docs/settings.md)."""

import os
from pathlib import Path

import dj_database_url

from core.logs import logging_config

from .config import (
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_needs,
    env_networks,
    env_str,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
COGNISIM_HOME = Path(os.environ.get("COGNISIM_HOME", BASE_DIR / ".cognisim"))
COGNISIM_HOME.mkdir(parents=True, exist_ok=True)

# Every value below that comes from the environment is read through cognisim_site/config.py, which
# refuses a bad one with a line naming it (docs/settings.md "Checking").


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    # A local install gets a random key kept in its home folder, never in the repository.
    key_file = COGNISIM_HOME / "secret_key"
    if not key_file.exists():
        from django.utils.crypto import get_random_string

        key_file.write_text(get_random_string(64))
        key_file.chmod(0o600)
    SECRET_KEY = key_file.read_text().strip()

ALLOWED_HOSTS = [h.strip() for h in env_str("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in env_str("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

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
    "cognisim_site.middleware.NulPathMiddleware",
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
DATABASE_URL = env_url(
    "DATABASE_URL", f"sqlite:///{COGNISIM_HOME / 'db.sqlite3'}", schemes=("sqlite", "postgres", "postgresql", "pgsql")
)
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
    _commit = env_choice("DATABASE_SYNCHRONOUS_COMMIT", "off", ("on", "off", "local", "remote_write", "remote_apply"))
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
ARTIFACTS_DIR = Path(env_str("ARTIFACTS_DIR", str(COGNISIM_HOME / "artifacts")))
ARTIFACTS_S3_BUCKET = env_str("ARTIFACTS_S3_BUCKET", "").strip()
if ARTIFACTS_S3_BUCKET:
    env_needs("ARTIFACTS_S3_BUCKET", ARTIFACTS_S3_BUCKET, module="boto3", extra="s3")
    _ARTIFACTS = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": ARTIFACTS_S3_BUCKET,
            "endpoint_url": env_url("ARTIFACTS_S3_ENDPOINT_URL", "", schemes=("http", "https")) or None,
            "region_name": env_str("ARTIFACTS_S3_REGION", "") or None,
            "location": env_str("ARTIFACTS_S3_PREFIX", "").strip("/"),
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
REDIS_URL = env_url("REDIS_URL", "redis://127.0.0.1:6379/0", schemes=("redis", "rediss", "unix"))
CHANNEL_PREFIX = env_str("COGNISIM_CHANNEL_PREFIX", "cognisim")
QUEUE_PREFIX = env_str("COGNISIM_QUEUE_PREFIX", "")

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
MAX_ACTIVE_SESSIONS_PER_USER = env_int("MAX_ACTIVE_SESSIONS_PER_USER", 2, low=1)
SESSION_IDLE_SECONDS = env_int("SESSION_IDLE_SECONDS", 300, low=1)
STEP_DEFAULT_TIMEOUT_MS = env_int("STEP_DEFAULT_TIMEOUT_MS", 30_000, low=1)
EVENTS_PAGE_SIZE = env_int("EVENTS_PAGE_SIZE", 500, low=1, high=5000)
SIM_DEVICE_DIR = Path(env_str("SIM_DEVICE_DIR", str(COGNISIM_HOME / "devices")))

# Logs: readable text by default, one JSON object per line with LOG_FORMAT=json (docs/deploy.md).
LOG_FORMAT = env_choice("LOG_FORMAT", "text", ("text", "json"))
LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), upper=True)
LOGGING = logging_config(fmt=LOG_FORMAT, level=LOG_LEVEL)

# Probes and metrics (docs/deploy.md). Every process writes its metric samples into one directory.
PROMETHEUS_MULTIPROC_DIR = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(COGNISIM_HOME / "metrics")))
PROMETHEUS_MULTIPROC_DIR.mkdir(parents=True, exist_ok=True)
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
METRICS_ALLOW_FROM = env_networks("METRICS_ALLOW_FROM", "127.0.0.0/8,::1/128")
READYZ_CACHE_SECONDS = env_float("READYZ_CACHE_SECONDS", 2)
WORKER_BEAT_SECONDS = env_float("WORKER_BEAT_SECONDS", 2, positive=True)
COGNISIM_TASK_EVENTS = env_bool("COGNISIM_TASK_EVENTS", False)  # read by cognisim_site/processes.py

# Behind a TLS-terminating proxy (docs/deploy.md): all off unless the environment says so.
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, low=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)

# Durability (docs/durability.md).
LEASE_TTL_SECONDS = env_int("LEASE_TTL_SECONDS", 6, low=1)
SWEEP_INTERVAL_SECONDS = env_float("SWEEP_INTERVAL_SECONDS", 1, positive=True)
REDISPATCH_AFTER_SECONDS = env_int("REDISPATCH_AFTER_SECONDS", 3, low=1)
# How long a drain keeps listening for the session's next step after its last one (docs/architecture.md).
LANE_LINGER_SECONDS = env_float("LANE_LINGER_SECONDS", 0.5)
RATE_LIMIT_STEPS = env_int("RATE_LIMIT_STEPS", 600, low=0)
RATE_LIMIT_WINDOW_SECONDS = env_int("RATE_LIMIT_WINDOW_SECONDS", 60, low=1)

# Devices on hosts (docs/devices.md).
ADB_SERVER_HOST = env_str("ADB_SERVER_HOST", "127.0.0.1")
ADB_SERVER_PORT = env_int("ADB_SERVER_PORT", 5037, low=1, high=65535)
DEVICE_STALE_SECONDS = env_int("DEVICE_STALE_SECONDS", 15, low=1)
# The live device view (docs/ide.md "Live view"): screen reads a second at most, and how long a watcher
# counts without renewing itself.
LIVE_MAX_FPS = env_int("LIVE_MAX_FPS", 30, low=1)
LIVE_WATCH_TTL_SECONDS = env_int("LIVE_WATCH_TTL_SECONDS", 15, low=1)

# Hardening (docs/settings.md "Limits"): what one request, one socket and one user may take.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_REQUEST_BYTES", 8 * 1024 * 1024, low=1024)
API_MAX_JSON_DEPTH = env_int("MAX_JSON_DEPTH", 64, low=1)
MAX_WAITING_SESSIONS_PER_USER = env_int("MAX_WAITING_SESSIONS_PER_USER", 20, low=0)
MAX_RUNS_IN_FLIGHT_PER_USER = env_int("MAX_RUNS_IN_FLIGHT_PER_USER", 20, low=1)
SOCKET_MESSAGES_PER_SECOND = env_float("SOCKET_MESSAGES_PER_SECOND", 20, positive=True)
SOCKET_MESSAGE_BURST = env_int("SOCKET_MESSAGE_BURST", 60, low=1)
WEBHOOK_TOLERANCE_SECONDS = env_int("WEBHOOK_TOLERANCE_SECONDS", 300, low=1)
LOGIN_FAILURES_ALLOWED = env_int("LOGIN_FAILURES_ALLOWED", 5, low=1)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 300, low=1)

# Retention of artifacts, enforced by the sweeper (docs/settings.md "Artifacts"): 0 turns each off.
ARTIFACT_RETENTION_DAYS = env_int("ARTIFACT_RETENTION_DAYS", 30, low=0)
ARTIFACT_QUOTA_MB = env_int("ARTIFACT_QUOTA_MB", 1024, low=0)

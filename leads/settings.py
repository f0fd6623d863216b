"""Settings for leads: one file, driven by environment variables (see README)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from leads import devstack

BASE_DIR = Path(__file__).resolve().parent.parent

# The model is loaded from a local path; never reach for a model hub at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name}={value!r}: use 1/0, true/false, yes/no or on/off")


def envint(name: str, default: int, minimum: int = 1) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r}: must be a whole number") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name}={number}: must be at least {minimum}")
    return number


DEBUG = envbool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and os.environ.get("DATABASE_URL"):
        raise ImproperlyConfigured("SECRET_KEY must be set when DATABASE_URL points at a real server")
    # Local embedded mode only: a fixed key is fine for a laptop.
    SECRET_KEY = "leads-local-development-key-not-for-production"
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

LEADS_HOME = devstack.leads_home()

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "leads",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves collected static files in production (gunicorn), where runserver does not.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "leads.urls"
WSGI_APPLICATION = "leads.wsgi.application"

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

# --- Database: DATABASE_URL, or the embedded Postgres + pgvector -------------------
if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)}
else:
    _socket_dir = devstack.ensure_postgres(LEADS_HOME)
    DATABASES = {"default": dj_database_url.parse(devstack.postgres_url(_socket_dir))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Celery: REDIS_URL, or the embedded redis-server --------------------------------
REDIS_URL = os.environ.get("REDIS_URL") or devstack.ensure_redis(LEADS_HOME)
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# A task is acknowledged after it ran, so a worker crash re-delivers it instead of losing it.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 600
CELERY_TASK_TIME_LIMIT = 900
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis re-delivers an unacknowledged task after this many seconds; longer than any task.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}

# --- Scoring and embedding ---------------------------------------------------------
EMBEDDING_MODEL = os.environ.get("EMBEDDING_MODEL", "")  # empty: the packaged all-MiniLM-L6-v2
EMBEDDING_DIMENSIONS = 384
EMBEDDING_BATCH_SIZE = envint("EMBEDDING_BATCH_SIZE", 64)
SCORING_K = envint("SCORING_K", 10)
# Labels arriving within this many seconds are folded into one incremental rescore.
RESCORE_DELAY_SECONDS = envint("RESCORE_DELAY_SECONDS", 1, minimum=0)
# Companies per chunk task of a full rescore (~300 MB of numpy at 20,000 and 1,000 labels).
RESCORE_CHUNK_SIZE = envint("RESCORE_CHUNK_SIZE", 20_000)
# Chunks a synchronous full rescore (the rescore command) runs at once in one process.
RESCORE_THREADS = envint("RESCORE_THREADS", 2)

# --- Import limits -----------------------------------------------------------------
IMPORT_MAX_UPLOAD_MB = envint("IMPORT_MAX_UPLOAD_MB", 200)
IMPORT_MAX_FIELD_CHARS = envint("IMPORT_MAX_FIELD_CHARS", 20_000)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# Filled by collectstatic in production; in development runserver serves static/ itself.
warnings.filterwarnings("ignore", message="No directory at")
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or LEADS_HOME / "media")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    # On the root logger, so that a Celery worker (which takes the root logger over) logs each line once.
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"leads": {"level": os.environ.get("LOG_LEVEL", "INFO")}},
}

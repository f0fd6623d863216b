"""Settings for leads: one file, driven by environment variables (see README)."""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import dj_database_url
from csp import constants as csp
from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key
from kombu import Exchange, Queue

from leads.core import devstack
from leads.embedding import encoders as embedding

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


def envfloat(name: str, default: float, minimum: float = 0.0) -> float:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r}: must be a number") from None
    if not number >= minimum:  # NaN fails too
        raise ImproperlyConfigured(f"{name}={number}: must be at least {minimum}")
    return number


def installation_secret_key(home: Path) -> str:
    """This installation's own SECRET_KEY, made on its first start and kept in home/secret_key
    (mode 0600), so that sessions survive a restart and no two installations share a key.

    Written to a temporary file and linked into place: the web server, the worker and beat start
    at the same moment, and each must read a whole key, the same one."""
    path = home / "secret_key"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=home, prefix=".secret_key.")  # mode 0600
        with os.fdopen(handle, "w") as file:
            file.write(get_random_secret_key())
        try:
            os.link(temporary, path)
        except FileExistsError:  # another process was first: use its key
            pass
        finally:
            os.unlink(temporary)
    key = path.read_text().strip()
    if not key:
        raise ImproperlyConfigured(f"{path} is empty: delete it (a new key is made) or set SECRET_KEY")
    return key


DEBUG = envbool("DEBUG", False)
LEADS_HOME = devstack.leads_home()
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and os.environ.get("DATABASE_URL"):
        raise ImproperlyConfigured("SECRET_KEY must be set when DATABASE_URL points at a real server")
    # A laptop or a single machine: a key of its own, never one published with the code.
    SECRET_KEY = installation_secret_key(LEADS_HOME)
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

# --- HTTPS: set HTTPS=1 where the site is served over HTTPS, by a proxy that terminates TLS ---
# Each switch follows HTTPS unless set itself; `manage.py check --deploy` passes with HTTPS=1.
HTTPS = envbool("HTTPS", False)
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", HTTPS)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = envbool("SECURE_COOKIES", HTTPS)
# Browsers remember HSTS for this many seconds: try a small value first if unsure of the set-up.
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 365 * 24 * 3600 if HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
# Only a request for the list (hstspreload.org) puts a domain on the browsers' preload list.
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", HTTPS)
# gunicorn speaks plain HTTP to the proxy: the proxy's X-Forwarded-Proto says whether the
# browser used HTTPS (else SECURE_SSL_REDIRECT would redirect forever). Trust it only behind a
# proxy that sets it.
if envbool("TRUST_X_FORWARDED_PROTO", HTTPS):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# /healthz tells anyone only whether the deployment works; a monitor that sends
# `Authorization: Bearer <this>` also gets which part failed and the backlog (leads/core/health.py).
HEALTHZ_TOKEN = os.environ.get("HEALTHZ_TOKEN", "").strip()

# --- Log-in throttling (django-axes) ----------------------------------------------------
# After LOGIN_FAILURE_LIMIT wrong passwords for one username from one address, that pair is
# locked out for LOGIN_LOCKOUT_MINUTES; after LOGIN_ADDRESS_FAILURE_LIMIT wrong passwords from
# one address, whatever the usernames (password spraying), the address is. Higher than the
# first: a whole office may share one address. Staff unlock early in the admin (Access
# attempts) or with `manage.py axes_reset_username NAME` / `axes_reset_ip ADDRESS`.
LOGIN_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", 5)
LOGIN_ADDRESS_FAILURE_LIMIT = envint("LOGIN_ADDRESS_FAILURE_LIMIT", 20)
LOGIN_LOCKOUT_MINUTES = envint("LOGIN_LOCKOUT_MINUTES", 15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
# Axes has one limit for all its lockout parameters: this picks the one that applies.
AXES_FAILURE_LIMIT = "leads.accounts.throttling.failure_limit"
AXES_COOLOFF_TIME = LOGIN_LOCKOUT_MINUTES / 60  # hours
# Behind a proxy every request comes from the proxy's address: one address lock would lock
# everyone out. The proxy says whose request it forwards in X-Forwarded-For; trust it only
# behind a proxy that adds it.
if envbool("TRUST_X_FORWARDED_FOR", envbool("TRUST_X_FORWARDED_PROTO", HTTPS)):
    AXES_CLIENT_IP_CALLABLE = "leads.accounts.throttling.forwarded_address"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "leads.accounts.throttling.locked_out"
# Axes sees every authenticate() and needs its request: the test client's login() has none, so
# tests use force_login().
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

INSTALLED_APPS = [
    "leads.core.admin_site.LeadsAdminConfig",  # django.contrib.admin, opened to the roles that use it
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "axes",
    "csp",
    "django_htmx",
    "leads",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # The Content-Security-Policy header, near the top: error pages made further down get it too.
    "csp.middleware.CSPMiddleware",
    # Serves collected static files in production (gunicorn), where runserver does not.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # A page whose database query failed is a 503 "try again"; before the API's middleware, since
    # exceptions go up the list and /api/ answers JSON first.
    "leads.core.middleware.DatabaseUnavailableMiddleware",
    # Under /api/ every error is JSON; after SecurityMiddleware, so that it adds its headers to them.
    "leads.core.middleware.ApiErrorsMiddleware",
    "leads.core.middleware.NulQueryMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # request.htmx: the dashboard's verdicts come back as one row, not a whole page.
    "django_htmx.middleware.HtmxMiddleware",
    # A ?profile= this user may not work in: a 400 that says which there are (after authentication).
    "leads.core.middleware.UnknownProfileMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out log-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# --- Content-Security-Policy (django-csp) -------------------------------------------------
# Scripts only from our own files (htmx and static/leads/*.js): no inline script, no inline
# event handler, no eval (htmx's hx-on and js: values would need it; the templates use neither).
# Styles may be inline: pages set data-driven sizes in style attributes (style="--h: 40%"),
# review.html has a <style> block and htmx adds its indicator <style>. Injected CSS could load
# nothing from another site (images, fonts: this site only), so it could not carry data away.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF],
        "style-src": [csp.SELF, csp.UNSAFE_INLINE],
        "img-src": [csp.SELF, "data:"],  # base.html names an empty favicon (data:,) to spare a request
        "object-src": [csp.NONE],
        "base-uri": [csp.NONE],
        "form-action": [csp.SELF],
        "frame-ancestors": [csp.NONE],  # as X-Frame-Options: DENY
    }
}

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
                "leads.accounts.roles.context",
                "leads.profiles.selectors.context",
            ],
        },
    },
]

# --- Database: DATABASE_URL, or the embedded Postgres + pgvector -------------------
if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"])}
else:
    _socket_dir = devstack.ensure_postgres(LEADS_HOME)
    DATABASES = {"default": dj_database_url.parse(devstack.postgres_url(_socket_dir))}
# The web server (leads/wsgi.py sets DATABASE_POOL=1) shares a few connections between its
# request threads through psycopg's pool: connections stay bounded however many reps click at
# once, and a request waits up to DATABASE_POOL_TIMEOUT seconds for one instead of failing.
# Celery workers are forked processes (a pool's threads do not survive a fork): each keeps one
# connection of its own instead.
# One connection per request thread of a web server process (leads/gunicorn_conf.py).
DATABASE_POOL_MAX_SIZE = envint("DATABASE_POOL_MAX_SIZE", envint("WEB_THREADS", 8))
if envbool("DATABASE_POOL", False):
    DATABASES["default"]["OPTIONS"] = {
        **DATABASES["default"].get("OPTIONS", {}),
        "pool": {"min_size": 1, "max_size": DATABASE_POOL_MAX_SIZE, "timeout": envint("DATABASE_POOL_TIMEOUT", 10)},
    }
elif os.environ.get("DATABASE_URL"):  # a worker's connection to a remote server outlives a task
    DATABASES["default"].update(CONN_MAX_AGE=60, CONN_HEALTH_CHECKS=True)
# Celery's Django fixup closes every connection before and after each task unless told to reuse
# them: a new Postgres backend a task (a connection and cold caches each time; a TLS handshake and
# round trips to a managed server) (docs/benchmarks.md, *Figures behind the design*). So Celery never closes them,
# and leads/celery.py closes them where Django would at the end of a request.
CELERY_DB_REUSE_MAX = 2**31
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
# A worker waits for Redis however long it is away (Celery's default gives up after 100 tries,
# about 47 minutes, and the worker exits).
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Redis re-delivers an unacknowledged task after this many seconds; longer than any task.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
# Celery beat (`celery -A leads beat`, started by `make run` and docker-compose) sends the sweep
# that redoes work a fault dropped (tasks.sweep): any fault heals within about this long.
SWEEP_SECONDS = envint("SWEEP_SECONDS", 30)
CELERY_BEAT_SCHEDULE = {
    "sweep": {"task": "leads.sweep", "schedule": SWEEP_SECONDS, "options": {"expires": SWEEP_SECONDS}},
    # Verdicts whose own pass a Redis outage dropped: applied on the interactive queue too, so they
    # need not wait for the sweep behind bulk work (a pass with nothing pending takes no lock).
    "pending-verdicts": {
        "task": "leads.apply_label_changes",
        "schedule": SWEEP_SECONDS,
        "options": {"expires": SWEEP_SECONDS},
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(LEADS_HOME / "celerybeat-schedule")
# Two queues, so that a click never waits behind bulk work (one FIFO queue made a verdict wait for
# a whole import's embedding). "interactive": what a rep's click waits on, short tasks; "bulk":
# everything else (embedding batches, imports, the map, full-rescore chunks, the sweep and what it
# runs: index builds, model switches, quality snapshots). New tasks are bulk unless routed here.
# Run at least one worker with `-Q interactive` that takes nothing else (README: Running it for a
# team); a worker started without -Q consumes both queues, since both are listed.
INTERACTIVE_QUEUE = "interactive"
BULK_QUEUE = "bulk"
CELERY_TASK_DEFAULT_QUEUE = BULK_QUEUE
# Each queue its own exchange and routing key: declared by name alone, both were bound to the
# default exchange "bulk" with the key "bulk", one routing key for two queues.
CELERY_TASK_QUEUES = tuple(Queue(name, Exchange(name), routing_key=name) for name in (INTERACTIVE_QUEUE, BULK_QUEUE))
CELERY_TASK_ROUTES = {"leads.apply_label_changes": {"queue": INTERACTIVE_QUEUE}}
# Long runs of bulk tasks (an import's embedding batches, a full rescore's chunks) are sent in
# turn, this many in the queue at a time per run (core.queue.send_in_turn): whatever is
# queued after them waits for at most this many. At least the bulk worker processes of the team.
BULK_WINDOW = envint("BULK_WINDOW", 8, minimum=1)
# The niceness (0-19) of a worker that takes bulk work: the CPU goes to verdicts and pages first.
BULK_NICE = envint("BULK_NICE", 10, minimum=0)

# --- Scoring and embedding ---------------------------------------------------------
# A packaged encoder by its short name (minilm, multilingual) or a sentence-transformers model;
# empty: minilm. The vector column's size follows it (leads/embedding/encoders.py).
EMBEDDING_MODEL = os.environ.get("EMBEDDING_MODEL", "").strip()
EMBEDDING_DIMENSIONS = embedding.dimensions_for(EMBEDDING_MODEL, envint("EMBEDDING_DIMENSIONS", 0) or None)
EMBEDDING_BATCH_SIZE = envint("EMBEDDING_BATCH_SIZE", 0)  # 0: the encoder's own (embedding.batch_size)
EMBEDDING_THREADS = envint("EMBEDDING_THREADS", 0)  # unset (0): the cores / --concurrency (embedding.threads)
# Word search also matches the stems of these languages (Postgres's Snowball configurations), so
# "payments" finds "payment terminals": the languages a team's descriptions are written in.
SEARCH_LANGUAGE_CHOICES = (
    "arabic armenian basque catalan danish dutch english finnish french german greek hindi hungarian "
    "indonesian irish italian lithuanian nepali norwegian portuguese romanian russian serbian spanish "
    "swedish tamil turkish yiddish"
).split()


def search_languages(value: str) -> tuple[str, ...]:
    """'english,french' -> ('english', 'french'); each must be one of SEARCH_LANGUAGE_CHOICES."""
    languages = tuple(dict.fromkeys(part.strip().lower() for part in value.split(",") if part.strip()))
    unknown = [language for language in languages if language not in SEARCH_LANGUAGE_CHOICES]
    if unknown:
        raise ImproperlyConfigured(
            f"SEARCH_LANGUAGES: {', '.join(unknown)} is not a language search can stem; "
            f"use a comma-separated list of: {', '.join(SEARCH_LANGUAGE_CHOICES)}"
        )
    return languages


SEARCH_LANGUAGES = search_languages(os.environ.get("SEARCH_LANGUAGES", "english"))
SCORING_K = envint("SCORING_K", 10)
# Labels arriving within this many seconds are folded into one incremental rescore.
RESCORE_DELAY_SECONDS = envint("RESCORE_DELAY_SECONDS", 1, minimum=0)
# A profile with more scores than this has its distribution of fits (bands and ranks) made by the
# worker after its scores change, and its pages show the last one made meanwhile (~0.4 s behind at
# a million; behind up to BULK_WINDOW batches during an import); at most this many, a page makes
# it at once (~20 ms at 50,000). companies.distribution.
FIT_DISTRIBUTION_INLINE_MAX = envint("FIT_DISTRIBUTION_INLINE_MAX", 50_000, minimum=0)
# Companies per chunk task of a full rescore (~300 MB of numpy at 20,000 and 1,000 labels).
RESCORE_CHUNK_SIZE = envint("RESCORE_CHUNK_SIZE", 20_000)
# Chunks a synchronous full rescore (the rescore command) runs at once in one process.
RESCORE_THREADS = envint("RESCORE_THREADS", 2)
# Parallel workers for a newly labelled company's pass over every vector; 0: Postgres's own
# max_parallel_workers_per_gather. The embedded Postgres shares this machine's cores: one fewer
# than the machine has (on 2 cores one worker beside the leader was the faster at a million).
SCAN_PARALLEL_WORKERS = envint(
    "SCAN_PARALLEL_WORKERS", 0 if os.environ.get("DATABASE_URL") else max(1, (os.cpu_count() or 2) - 1), minimum=0
)
# Whether a process keeps every vector of the active encoder in its memory for a newly labelled
# company's pass (scoring.vector_copy: ~10x faster than the scan in Postgres, 4 bytes a dimension a
# company in each process that runs passes: 1.5 GB at a million with MiniLM). 0: Postgres scans.
# Unset, a worker that takes bulk work does not (leads/celery.py): the interactive worker does.
SCORING_VECTORS_IN_MEMORY = envbool("SCORING_VECTORS_IN_MEMORY", True)
# Label review: a liked and a disliked company closer than this (cosine distance, 0..2) are near-duplicates.
REVIEW_DUPLICATE_DISTANCE = envfloat("REVIEW_DUPLICATE_DISTANCE", 0.05)

# --- Webhooks (leads/webhooks/) ------------------------------------------------------
# Hosts webhooks may reach though they resolve to a private, loopback or link-local address (a
# receiver on the office network, n8n beside the app): names as written in the endpoint's URL.
WEBHOOK_ALLOWED_HOSTS = tuple(
    host.strip().lower().rstrip(".") for host in os.environ.get("WEBHOOK_ALLOWED_HOSTS", "").split(",") if host.strip()
)
# Seconds to connect, and for each read or write after: a receiver slower than this has failed.
WEBHOOK_TIMEOUT_SECONDS = envfloat("WEBHOOK_TIMEOUT_SECONDS", 5.0, minimum=0.1)
# How long a delivery is retried, and an endpoint may fail, before giving up (it is then disabled).
WEBHOOK_RETRY_SECONDS = envint("WEBHOOK_RETRY_SECONDS", 24 * 3600)
# Every delay between retries (5 s, 30 s, 2 min, 10 min, 30 min, then hourly) times this: tests shorten them.
WEBHOOK_BACKOFF_SCALE = envfloat("WEBHOOK_BACKOFF_SCALE", 1.0, minimum=0.0)

# --- Import limits -----------------------------------------------------------------
IMPORT_MAX_UPLOAD_MB = envint("IMPORT_MAX_UPLOAD_MB", 200)
IMPORT_MAX_FIELD_CHARS = envint("IMPORT_MAX_FIELD_CHARS", 20_000)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# Django's four: not like the username or e-mail, at least 8 characters, not one of the 20,000
# most common passwords, not all digits. Checked where a password is set (the admin, the
# password change page, createsuperuser, changepassword).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
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

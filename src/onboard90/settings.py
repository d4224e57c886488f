"""Django settings: one module, configured from the environment (DATABASE_URL, ONBOARD90_*)."""

import datetime as dt
import ipaddress
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent


def _home() -> Path:
    """Where onboard90 keeps its data (the SQLite database, the SMS file, locks, the demo's files), the same
    from any working directory: ONBOARD90_HOME; else the source checkout it runs from (`make demo` and
    `make test` keep theirs in the checkout's var/); else ~/.local/share/onboard90 for an installed copy."""
    if os.environ.get("ONBOARD90_HOME"):
        return Path(os.environ["ONBOARD90_HOME"]).expanduser().resolve()
    checkout = BASE_DIR.parent.parent  # src/onboard90 -> the repository root, in an editable install
    if (checkout / "pyproject.toml").is_file() and (checkout / "src" / "onboard90").is_dir():
        return checkout
    data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return (data / "onboard90").resolve()


HOME_DIR = _home()
# ONBOARD90_VAR names the data folder itself (tests point it at a scratch folder).
VAR_DIR = Path(os.environ.get("ONBOARD90_VAR") or HOME_DIR / "var").expanduser().resolve()

DEBUG = os.environ.get("ONBOARD90_DEBUG", "") == "1"
# The built-in key only serves a development checkout; `onboard90 serve` with DEBUG off refuses it.
DEVELOPMENT_SECRET_KEY = "onboard90-development-key-change-me-in-production"
# The key: ONBOARD90_SECRET_KEY, else the one `onboard90 init` generated into the data folder.
SECRET_KEY_FILE = VAR_DIR / "secret.key"


def _secret_key() -> str:
    if os.environ.get("ONBOARD90_SECRET_KEY"):
        return os.environ["ONBOARD90_SECRET_KEY"]
    try:
        return SECRET_KEY_FILE.read_text(encoding="ascii").strip() or DEVELOPMENT_SECRET_KEY
    except OSError:
        return DEVELOPMENT_SECRET_KEY


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = os.environ.get("ONBOARD90_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")

INSTALLED_APPS = [
    "onboard90.core.apps.AdminConfig",  # Django's admin, its pages imported when first needed
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "axes",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Scheduled jobs on Celery workers (`onboard90 worker`, `onboard90 beat`): the schedules, editable in the
    # admin, and the jobs' results, both in the project's database.
    "django_celery_beat",
    "django_celery_results",
    "onboard90.core",
    "onboard90.org",
    "onboard90.catalog",
    "onboard90.customers",
    "onboard90.usage",
    "onboard90.playbook",
    "onboard90.journeys",
    "onboard90.messaging",
    "onboard90.guide",
    "onboard90.reporting",
    "onboard90.api",
    "onboard90.web",
    "onboard90.demo",
    "onboard90.bench",
]

MIDDLEWARE = [
    # First and (but for django-axes) last: each request's count and latency by view for `/metrics`.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files (the admin's, the web app's, htmx and ECharts) straight from the WSGI process.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "onboard90.core.origin.OriginMiddleware",
    # Before django-axes, so that its lock-out answers are counted with their status too.
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Last, as django-axes asks: it locks out repeated failed sign-ins.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "onboard90.urls"
WSGI_APPLICATION = "onboard90.wsgi.application"

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
                "django.template.context_processors.i18n",
                "onboard90.web.context.navigation",
            ]
        },
    }
]


def _env_choice(name: str, choices: tuple[str, ...]) -> str:
    """One of `choices` from the environment (case and spaces aside; unset: the first), refused with its name
    otherwise."""
    text = os.environ.get(name, "").strip().lower() or choices[0]
    if text not in choices:
        raise ImproperlyConfigured(
            f"环境变量 {name} 须为 {' 或 '.join(choices)}，现为 {text!r} / {name} must be {' or '.join(choices)}, "
            f"not {text!r}"
        )
    return text


def _database() -> dict:
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'onboard90.sqlite3'}"
    config = dj_database_url.parse(url, conn_max_age=0)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets the web app read while a cycle writes; IMMEDIATE avoids lock-upgrade deadlocks.
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        }
    elif config["ENGINE"] == "django.db.backends.postgresql":
        # JIT off on every connection: PostgreSQL compiles any statement whose estimated cost is large, and on
        # a province's tables the application's statements all look large — ~0.1 s of compiling each, and on
        # the partitioned outbox (fifty partitions at 13M journeys) 2 s for an UPDATE of 2,000 SMS texts that
        # runs in 30 ms. What the statements do is probe indexes and write rows, which JIT does not speed up.
        # ONBOARD90_PG_JIT=server sends no startup option, for a connection pooler that refuses them: the
        # database's own default must then say it (`ALTER DATABASE … SET jit = off`, README).
        if _env_choice("ONBOARD90_PG_JIT", ("off", "server")) == "off":
            options = config.setdefault("OPTIONS", {})
            options["options"] = f"{options.get('options', '')} -c jit=off".strip()
    return config


DATABASES = {"default": _database()}

# A cache the web server's worker processes share (files in the data folder: no extra service to run), so a
# reading of the dashboard's operations figures is made once for all of them, not once a process.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(VAR_DIR / "cache"),
        "TIMEOUT": 300,
        "OPTIONS": {"MAX_ENTRIES": 2000},
    }
}
# `onboard90 serve`'s worker processes each count their requests in files here (prometheus-client's
# multiprocess mode), summed by whichever of them answers `/metrics`; serve empties it when it starts.
METRICS_DIR = VAR_DIR / "metrics"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "onboard90.core.auth.ThrottledSignInBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "workbench"
LOGOUT_REDIRECT_URL = "login"

# Sign-in throttling (django-axes): five failures for one username from one address lock that pair out
# for 15 minutes; a success resets the count. The lock-out page says so in both languages.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = dt.timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "web/locked_out.html"
AXES_VERBOSE = False

# Sessions: a store shift; the cookies are HttpOnly and SameSite, and Secure when served over HTTPS.
SESSION_COOKIE_AGE = 12 * 3600
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# ONBOARD90_HTTPS=1 where the site is reached over HTTPS (directly or behind a TLS-terminating proxy that
# sets X-Forwarded-Proto): Secure cookies, redirect to HTTPS, HSTS. Off by default, because the embedded
# default is served on http://127.0.0.1, where Secure cookies would never come back.
HTTPS = os.environ.get("ONBOARD90_HTTPS", "") == "1"
if HTTPS:
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = 180 * 24 * 3600
    # The load balancer's and Prometheus's plain-http probes on the internal address.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# htmx and ECharts, installed by `npm ci` (package.json, package-lock.json) beside the source checkout.
NODE_MODULES = Path(os.environ.get("ONBOARD90_NODE_MODULES") or BASE_DIR.parent.parent / "node_modules")
STATICFILES_DIRS = [
    ("vendor/htmx", NODE_MODULES / "htmx.org" / "dist"),
    ("vendor/echarts", NODE_MODULES / "echarts" / "dist"),
]
# WhiteNoise serves straight from the apps' and the vendor folders (no collectstatic step to forget);
# every file is indexed once when the process starts, and sent compressed where the client accepts it.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
WHITENOISE_MAX_AGE = 3600


# ONBOARD90_LOG_FORMAT: `plain` (a line of text, as a person reads it) or `json` (one JSON object a line, with the
# figures as fields, for a log collector).
LOG_FORMAT = _env_choice("ONBOARD90_LOG_FORMAT", ("plain", "json"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        # Times with the operator's offset, like everything else the product writes.
        "json": {"()": "onboard90.core.logs.JsonFormatter", "time_zone": TIME_ZONE},
    },
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "loggers": {"onboard90": {"handlers": ["stderr"], "level": os.environ.get("ONBOARD90_LOG_LEVEL", "WARNING")}},
}


def _env_int(name: str, default: int, *, least: int, most: int) -> int:
    """A whole-number setting from the environment, refused with its name rather than int()'s message."""
    text = os.environ.get(name, "").strip() or str(default)
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not least <= value <= most:
        raise ImproperlyConfigured(
            f"环境变量 {name} 须为 {least}–{most} 的整数，现为 {text!r} / {name} must be a whole number from "
            f"{least} to {most}, not {text!r}"
        )
    return value


def _api_rate(text: str) -> str:
    """ONBOARD90_API_RATE as DRF's throttles read it (`N/sec|min|hour|day`), refused with its name if not."""
    count, _slash, period = text.partition("/")
    if not (count.isdigit() and int(count) > 0 and period in ("s", "sec", "second", "m", "min", "minute", "h", "hour", "d", "day")):
        raise ImproperlyConfigured(
            f"环境变量 ONBOARD90_API_RATE 须形如 600/min，现为 {text!r} / ONBOARD90_API_RATE must look like "
            f"600/min (a number per sec, min, hour or day), not {text!r}"
        )
    return text


def _networks(name: str, text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """A comma-separated list of addresses or CIDR blocks (`10.0.0.0/8,::1`), refused with its name if one is not."""
    networks = []
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"环境变量 {name} 须为逗号分隔的地址或网段（如 10.0.0.0/8,::1），{part!r} 不是 / {name} must be "
                f"addresses or CIDR blocks separated by commas (e.g. 10.0.0.0/8,::1); {part!r} is not one"
            ) from None
    return tuple(networks)


# The product's own knobs. Everything the operator may want to change about the plan itself lives in
# the playbook (data); these are deployment settings.
ONBOARD90 = {
    # The daily cycle "as of a date" runs at this local hour (messages are queued from then on).
    "CYCLE_HOUR": _env_int("ONBOARD90_CYCLE_HOUR", 9, least=0, most=23),
    # SMS gateway: "file" (JSON lines under var/sms/), "console" (stderr) or "kannel" (KANNEL below).
    "SMS_GATEWAY": os.environ.get("ONBOARD90_SMS_GATEWAY", "file"),
    # At most this many SMS a second through the gateway (0: as fast as it takes them).
    "SMS_RATE_LIMIT": _env_int("ONBOARD90_SMS_RATE_LIMIT", 0, least=0, most=10_000),
    # Kannel's smsbox: where `sendsms` answers, the `sendsms-user` it knows us by, and how Kannel calls back
    # (delivery reports and replies) — the base URL it reaches onboard90 at, and the secret it must present.
    "KANNEL": {
        "SENDSMS_URL": os.environ.get("ONBOARD90_KANNEL_SENDSMS_URL", "http://127.0.0.1:13013/cgi-bin/sendsms"),
        "USERNAME": os.environ.get("ONBOARD90_KANNEL_USERNAME", "onboard90"),
        "PASSWORD": os.environ.get("ONBOARD90_KANNEL_PASSWORD", ""),
        "SENDER": os.environ.get("ONBOARD90_KANNEL_SENDER", "10086"),
        "CALLBACK_BASE": os.environ.get("ONBOARD90_KANNEL_CALLBACK_BASE", "http://127.0.0.1:8000"),
        "CALLBACK_SECRET": os.environ.get("ONBOARD90_KANNEL_CALLBACK_SECRET", ""),
        "TIMEOUT_SECONDS": _env_int("ONBOARD90_KANNEL_TIMEOUT_SECONDS", 10, least=1, most=120),
    },
    "SMS_FILE": os.environ.get("ONBOARD90_SMS_FILE", str(VAR_DIR / "sms" / "sent.jsonl")),
    # A task completion entered more than this many hours after the time it claims is backdated (补录):
    # only a supervisor may enter it, with a reason, and the compliance report counts it apart.
    "COMPLETION_GRACE_HOURS": _env_int("ONBOARD90_COMPLETION_GRACE_HOURS", 24, least=0, most=24 * 30),
    # PostgreSQL: the processes an `onboard90 worker` starts by default (each runs one of the daily cycle's pieces
    # at a time, on its own database connection); on SQLite a worker runs one.
    "CYCLE_WORKERS": _env_int("ONBOARD90_CYCLE_WORKERS", 2, least=1, most=64),
    # The API: requests per key (or signed-in user) per second, minute, hour or day, e.g. "600/min".
    "API_RATE": _api_rate(os.environ.get("ONBOARD90_API_RATE", "").strip() or "600/min"),
    # `/metrics` (Prometheus) answers the addresses in these blocks (the list replaces the default, loopback)
    # when the request did not come through a proxy, and any address that brings METRICS_TOKEN as a bearer
    # token; everyone else gets 404. See web.views.metrics.
    "METRICS_ALLOW": _networks(
        "ONBOARD90_METRICS_ALLOW", os.environ.get("ONBOARD90_METRICS_ALLOW", "").strip() or "127.0.0.0/8,::1"
    ),
    "METRICS_TOKEN": os.environ.get("ONBOARD90_METRICS_TOKEN", "").strip(),
}

# The REST API (onboard90.api): a system account's key (`Authorization: Bearer ob90_…`) or a signed-in
# staff member's session; JSON only; refusals as the HTTP spec means them (401, 403, 404, 409, 422, 429).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "onboard90.api.auth.ApiKeyAuthentication",
        "onboard90.api.auth.StaffSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["onboard90.api.auth.PerKeyThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "onboard90.api.views.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "onboard90 API",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Swagger UI's files come from the drf-spectacular-sidecar package, served with the other static files.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # 401 and 429 on every operation of the API (api.docs.common_responses).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "onboard90.api.docs.common_responses",
    ],
}

# Celery (`onboard90 worker`, `onboard90 beat`; core.celery_app): the broker the scheduled jobs and the fanned-out
# cycle's pieces go through — RabbitMQ by default, redis://… by configuration. Nothing connects to it unless a
# worker, beat or a task is started: the in-process runner (`onboard90 run`, `dispatch`) needs no broker.
CELERY_BROKER_URL = os.environ.get("ONBOARD90_BROKER_URL", "").strip() or "amqp://guest:guest@127.0.0.1:5672//"
# Named by the installation (not the default above): `/metrics` then asks the broker for the queue's length.
BROKER_CONFIGURED = bool(os.environ.get("ONBOARD90_BROKER_URL", "").strip())
# Results (what each job returned, for the admin and the logs) in the project's database: no second service to
# run. The cycle's stages are not chained by them (`cycle.stage_advance`).
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_RESULT_EXPIRES = dt.timedelta(days=7)
# Every job is idempotent: acknowledged after it ran, put back on the queue if its worker died, one at a time.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# A worker cut off from its broker (a restart) stops the jobs it is running rather than finishing them unable
# to acknowledge: the broker hands them out again once it is back, to one worker at a time.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# A job sent while the broker restarts (the next stage of a cycle) waits up to about two minutes for it.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 60, "interval_start": 0, "interval_step": 0.5, "interval_max": 2}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
# One queue per installation (ONBOARD90_QUEUE): two installations on one broker never take each other's work.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("ONBOARD90_QUEUE", "").strip() or "onboard90"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A fanned-out cycle none of whose pieces moved for this long is taken as lost (its broker messages gone):
# the next cycle records it failed and runs. Pieces retried after a worker died keep it alive.
ONBOARD90["CYCLE_LEASE_MINUTES"] = _env_int("ONBOARD90_CYCLE_LEASE_MINUTES", 120, least=1, most=24 * 60)
# Whether a fanned-out cycle's finish also sends the outbox's due messages, as `onboard90 run` does in line (1, the
# default), or leaves them to beat's `outbox-dispatch`, which runs every minute on its own (0): the cycle's record
# is then not held up by the gateway.
ONBOARD90["CYCLE_DISPATCH"] = _env_int("ONBOARD90_CYCLE_DISPATCH", 1, least=0, most=1) == 1
# A fanned-out cycle's shared steps (overdue and escalations, the journeys' ends) in this many pieces, each a
# shard of the customers run by whichever worker is free: the worker processes of the installation, all machines
# together (default: one machine's, ONBOARD90_CYCLE_WORKERS). More shards than processes only add pieces (at 1M
# on two workers, four shards took 3.1–3.3 s where two took 2.3–2.5 s).
ONBOARD90["CYCLE_SHARDS"] = _env_int("ONBOARD90_CYCLE_SHARDS", ONBOARD90["CYCLE_WORKERS"], least=1, most=64)
# PostgreSQL: the act, task and message rows are partitioned by ranges of this many customer ids (ids follow
# arrival, so a range is a span of activations: about a month of a province's), and a range whose customers all
# finished their 90 days more than PARTITION_RETENTION_DAYS ago may be detached (`onboard90 partitions`).
ONBOARD90["PARTITION_CUSTOMERS"] = _env_int("ONBOARD90_PARTITION_CUSTOMERS", 250_000, least=1_000, most=100_000_000)
ONBOARD90["PARTITION_RETENTION_DAYS"] = _env_int("ONBOARD90_PARTITION_RETENTION_DAYS", 365, least=0, most=36_500)

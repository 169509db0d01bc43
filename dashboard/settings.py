"""Trainwatch settings: everything comes from the environment.

With no configuration at all it runs on a laptop: SQLite in the project
folder, Redis on localhost, the default boto3 credential chain.
"""

from __future__ import annotations

import ipaddress
import os
import tempfile
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from dashboard.env import envbool, envdatabase, envint, envjson

BASE_DIR = Path(__file__).resolve().parent.parent

# On for `manage.py runserver` on a laptop; the run command (dashboard/launcher.py)
# turns it off unless DEBUG is given, and passes a generated SECRET_KEY.
DEBUG = envbool("DEBUG", "True")
SECRET_KEY = os.getenv("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = [h.strip() for h in os.getenv("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.getenv("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # OpClass in an index (jobs.indexes) needs its wrapper registered; harmless on SQLite.
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "axes",
    "jobs",
    "alerts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: turns a login refused for a lockout into its 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "dashboard.urls"
WSGI_APPLICATION = "dashboard.wsgi.application"

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
    # The partials a page repeats per row, group or bar (jobs/jinja2/, jobs/jinja_env.py);
    # the pages themselves are the Django templates above.
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "NAME": "jinja2",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"environment": "jobs.jinja_env.environment"},
    },
]

# SQLite by default; DATABASE_URL (e.g. postgres://user:pw@host/db) for real deployments.
DATABASES = {
    "default": envdatabase(
        "DATABASE_URL",
        f"sqlite:///{BASE_DIR / 'trainwatch.sqlite3'}",
        conn_max_age=envint("DATABASE_CONN_MAX_AGE", "60", minimum=0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the dashboard read while a worker writes; IMMEDIATE transactions
    # take the write lock up front so two writers queue instead of deadlocking.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Tests run against a file, not shared-cache memory: threads and Celery
    # workers then lock the way production SQLite does (WAL + busy timeout).
    # One file per test process, so parallel runs never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(Path(tempfile.gettempdir()) / f"trainwatch-test-{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out user or address before any password is checked.
    # It needs the request, so tests log in with force_login (client.login passes none).
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.getenv("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"

SESSION_COOKIE_SECURE = envbool("SECURE_COOKIES", "False")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "False")
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "0", minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", "False")
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", "False")
BEHIND_TLS_PROXY = envbool("BEHIND_TLS_PROXY", "False")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_TLS_PROXY else None
# Probes and scrapers inside the network speak plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}

# Even the DEBUG page hides these: REDIS_URL and DATABASE_URL carry passwords,
# and Django's own filter only hides names with KEY, TOKEN, PASS and the like.
DEFAULT_EXCEPTION_REPORTER_FILTER = "dashboard.errors.ReporterFilter"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    # StreamHandler writes to stderr: gunicorn's and Celery's log, wherever they send it.
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "jobs": {"handlers": ["console"], "level": os.getenv("LOG_LEVEL", "INFO")},
        # Failed logins and lockouts (usernames and addresses masked).
        "axes": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        # Unhandled exceptions in views (500s), with their traceback. With DEBUG
        # off Django would only mail them to ADMINS, and there are none. Not
        # propagated: with DEBUG on, Django's own "django" console would print it twice.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}

# --- Login throttling (django-axes) --------------------------------------------
# Failed logins are counted per username and per client address (dashboard/login_throttle.py),
# on the dashboard's login and the admin's alike; at the limit both refuse even the right
# password until the cool-off has passed since the last try. Locks are in the admin.
TRAINWATCH_LOGIN_FAILURE_LIMIT = envint("TRAINWATCH_LOGIN_FAILURE_LIMIT", "5", minimum=1)
TRAINWATCH_LOGIN_COOLOFF_MINUTES = envint("TRAINWATCH_LOGIN_COOLOFF_MINUTES", "15", minimum=1)
AXES_FAILURE_LIMIT = TRAINWATCH_LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=TRAINWATCH_LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = "dashboard.login_throttle.lockout_parameters"
# The address /metrics trusts: X-Forwarded-For only behind BEHIND_TLS_PROXY, and only
# its right-most entry, so a forged header cannot move a client to a fresh counter.
AXES_CLIENT_IP_CALLABLE = "dashboard.client_ip.client_ip"
AXES_RESET_ON_SUCCESS = True  # that user's failures from that address only (LoginAttemptsHandler)
AXES_HANDLER = "dashboard.login_throttle.LoginAttemptsHandler"
AXES_LOCKOUT_CALLABLE = "dashboard.login_throttle.lockout_response"

# --- Celery -----------------------------------------------------------------
REDIS_URL = os.getenv("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True  # a task on a killed worker is delivered again
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": envint("CELERY_VISIBILITY_TIMEOUT", "600", minimum=10)}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", "False")
# Sync ticks get their own queue: behind a backlog of thousands of describes
# (a first import, a throttling storm) they would otherwise expire unrun and
# nothing new would be listed. Workers consume both queues by default.
CELERY_TASK_QUEUES = (Queue("sync"), Queue("celery"))
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {
    "jobs.tasks.sync_all_sources": {"queue": "sync"},
    "jobs.tasks.sync_source": {"queue": "sync"},
}

# --- Sync -------------------------------------------------------------------
TRAINWATCH_SYNC_INTERVAL = envint("TRAINWATCH_SYNC_INTERVAL", "60", minimum=5)
TRAINWATCH_LOOKBACK_DAYS = envint("TRAINWATCH_LOOKBACK_DAYS", "30", minimum=1)
# LastModifiedTime is set by AWS's clock; re-list a margin behind our cursor.
TRAINWATCH_LIST_OVERLAP_SECONDS = envint("TRAINWATCH_LIST_OVERLAP_SECONDS", "300", minimum=0)
# A queued describe not done after this long is taken as lost and queued again.
TRAINWATCH_DESCRIBE_TIMEOUT_SECONDS = envint("TRAINWATCH_DESCRIBE_TIMEOUT_SECONDS", "600", minimum=30)
# A job not found on this many describes in a row is gone at the source (deleted
# with its account, a simulated account started afresh): no longer running or described.
TRAINWATCH_GONE_AFTER = envint("TRAINWATCH_GONE_AFTER", "3", minimum=1)
if TRAINWATCH_GONE_AFTER > 1000:
    raise ImproperlyConfigured(f"TRAINWATCH_GONE_AFTER={TRAINWATCH_GONE_AFTER} must be at most 1000")
# Refresh due jobs with Search (100 full records a call, tags included) before
# falling back to one DescribeTrainingJob each; off if the role may not Search.
TRAINWATCH_SEARCH = envbool("TRAINWATCH_SEARCH", "True")
# Push (manage.py consume_events): while a source's last event is at most the window
# old, its running jobs are described every FACTOR sync intervals instead of every
# cycle (listing still runs every cycle); past the window it is back to polling.
TRAINWATCH_PUSH_POLL_FACTOR = envint("TRAINWATCH_PUSH_POLL_FACTOR", "10", minimum=1)
TRAINWATCH_PUSH_WINDOW_SECONDS = envint("TRAINWATCH_PUSH_WINDOW_SECONDS", "900", minimum=1)
TRAINWATCH_DEFAULT_SOURCE = envbool("TRAINWATCH_DEFAULT_SOURCE", "True")
# The default source's SQS queue of SageMaker state-change events (manage.py consume_events reads it);
# empty leaves what the admin or setup_events set.
TRAINWATCH_EVENTS_QUEUE_URL = os.getenv("TRAINWATCH_EVENTS_QUEUE_URL", "").strip()

# --- CloudWatch metrics and logs ---------------------------------------------
# Fetch each running job's metric curves, instance utilization and log tail.
TRAINWATCH_CLOUDWATCH = envbool("TRAINWATCH_CLOUDWATCH", "True")
# Ask each job's instance metrics with one SEARCH query (False: one query per
# host and metric). A source whose SEARCH finds nothing where explicit queries
# find points (moto) falls back to explicit queries by itself.
TRAINWATCH_CLOUDWATCH_SEARCH = envbool("TRAINWATCH_CLOUDWATCH_SEARCH", "True")
# Lines kept per host's log stream (the newest); the full log is in CloudWatch.
TRAINWATCH_LOG_TAIL_LINES = envint("TRAINWATCH_LOG_TAIL_LINES", "1000", minimum=0)
# Points kept per series; past it a series is thinned to half, its shape kept.
TRAINWATCH_SERIES_MAX_POINTS = envint("TRAINWATCH_SERIES_MAX_POINTS", "200000", minimum=1000)
# Extra sources: JSON list of {"name", "region", "profile", "role_arn", "endpoint_url"}.
TRAINWATCH_EXTRA_SOURCES = envjson("TRAINWATCH_EXTRA_SOURCES", "[]")
if not isinstance(TRAINWATCH_EXTRA_SOURCES, list):
    raise ImproperlyConfigured("TRAINWATCH_EXTRA_SOURCES must be a JSON list of objects")
AWS_RETRY_MODE = os.getenv("AWS_RETRY_MODE", "adaptive")
if AWS_RETRY_MODE not in {"legacy", "standard", "adaptive"}:
    raise ImproperlyConfigured(f"AWS_RETRY_MODE={AWS_RETRY_MODE!r} must be legacy, standard or adaptive")
AWS_MAX_ATTEMPTS = envint("AWS_MAX_ATTEMPTS", "3", minimum=1)
# Sync cycles and sync errors older than this are pruned hourly; 0 keeps them all.
TRAINWATCH_RETENTION_DAYS = envint("TRAINWATCH_RETENTION_DAYS", "30", minimum=0)
TRAINWATCH_STATUS_PUBLIC = envbool("TRAINWATCH_STATUS_PUBLIC", "False")
# How long the failures and status figures are shared between viewers (jobs/figures_cache.py).
TRAINWATCH_FIGURES_CACHE_SECONDS = envint("TRAINWATCH_FIGURES_CACHE_SECONDS", "15", minimum=0)

# --- Alerts -----------------------------------------------------------------------
# Apprise URLs (comma-separated) every rule without channels of its own sends to.
TRAINWATCH_ALERT_URLS = [u.strip() for u in os.getenv("TRAINWATCH_ALERT_URLS", "").split(",") if u.strip()]
# Where the dashboard is reached, for the links in alerts.
TRAINWATCH_BASE_URL = os.getenv("TRAINWATCH_BASE_URL", f"http://127.0.0.1:{os.getenv('PORT', '8000')}").rstrip("/")
if not TRAINWATCH_BASE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"TRAINWATCH_BASE_URL={TRAINWATCH_BASE_URL!r} must start with http:// or https://")
# Alerts of one rule are held until none has come for this long (at most 10 times
# as long), so a cycle failing 200 jobs sends one message; sync_jobs sends at once.
TRAINWATCH_ALERT_QUIET_SECONDS = envint("TRAINWATCH_ALERT_QUIET_SECONDS", "15", minimum=0)
# Beside the sync ticks: a backlog of describes never holds up an alert.
CELERY_TASK_ROUTES["alerts.tasks.deliver_alerts"] = {"queue": "sync"}

# --- Operations ---------------------------------------------------------------
# /metrics answers a scraper with this bearer token, or from these networks.
TRAINWATCH_METRICS_TOKEN = os.getenv("TRAINWATCH_METRICS_TOKEN", "")
try:
    TRAINWATCH_METRICS_ALLOW = [
        ipaddress.ip_network(cidr.strip())
        for cidr in os.getenv("TRAINWATCH_METRICS_ALLOW", "127.0.0.1/32,::1/128").split(",")
        if cidr.strip()
    ]
except ValueError as exc:
    raise ImproperlyConfigured(f"TRAINWATCH_METRICS_ALLOW: {exc} (comma-separated networks, e.g. 10.0.0.0/8)") from None

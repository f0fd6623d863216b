"""Settings for the test suite: the app's own, with the embedded services under
.leads/test so that tests never touch the data or the task queue of `make run`.

pytest-django imports this before any conftest, so the environment is set in time."""

import os
from pathlib import Path

os.environ.setdefault("LEADS_HOME", str(Path(__file__).resolve().parent.parent / ".leads" / "test"))
os.environ.setdefault("RESCORE_DELAY_SECONDS", "0")

from leads.settings import *  # noqa: E402, F403

# Tests create many users; the default hasher spends ~0.3 s on each.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Two test runs side by side (two checkouts, or a benchmark beside the suite) need two databases.
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("LEADS_TEST_DATABASE", "test_leads")}  # noqa: F405

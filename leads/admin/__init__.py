"""The admin: companies and labels (companies.py), users and groups (accounts.py). Django's
autodiscover imports this package, which registers both."""

from leads.admin import accounts, companies  # noqa: F401

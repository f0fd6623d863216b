"""The admin: companies and labels (companies.py), users and groups (accounts.py), deals
(outcomes.py), ideal-customer profiles (profiles.py). Django's autodiscover imports this package,
which registers them."""

from leads.admin import accounts, companies, outcomes, profiles  # noqa: F401

"""The admin: companies and labels (companies.py), users and groups (accounts.py), deals
(outcomes.py). Django's autodiscover imports this package, which registers them."""

from leads.admin import accounts, companies, outcomes  # noqa: F401

"""Which ideal-customer profile a page, a request or a command works in (read-side).

A team starts with one profile (models.profiles.FIRST_PROFILE_ID) and every page works in it;
choosing another (`?profile=`, the rep's last choice) comes with the pages that offer it."""

from __future__ import annotations

from leads.models import FIRST_PROFILE_ID


def current_id(request=None) -> int:
    """The profile `request` works in: the first profile, the only one a team has so far."""
    return FIRST_PROFILE_ID

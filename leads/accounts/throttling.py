"""Log-in throttling (django-axes, configured in settings): which limit applies, the address a
request comes from behind a proxy, and the page a locked-out rep sees."""

from __future__ import annotations

from axes.attempts import get_cool_off_threshold
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def failure_limit(request: HttpRequest, credentials: dict | None = None) -> int:
    """AXES_FAILURE_LIMIT: LOGIN_FAILURE_LIMIT for one username from one address, else
    LOGIN_ADDRESS_FAILURE_LIMIT for the address.

    Axes counts the failures of each lockout parameter (settings.AXES_LOCKOUT_PARAMETERS), takes
    the largest count, which is always the address's (it holds the pair's), and compares it with
    one limit. So the limit is the address's, unless the pair has already reached its own: then it
    is the pair's, which the address's count has reached too."""
    return settings.LOGIN_FAILURE_LIMIT if _pair_locked(request, credentials) else settings.LOGIN_ADDRESS_FAILURE_LIMIT


def _pair_locked(request: HttpRequest, credentials: dict | None) -> bool:
    """Whether this username from this address has reached LOGIN_FAILURE_LIMIT."""
    failures = AccessAttempt.objects.filter(
        username=get_client_username(request, credentials),
        ip_address=request.axes_ip_address,
        attempt_time__gte=get_cool_off_threshold(request),
    ).aggregate(total=Sum("failures_since_start"))["total"]
    return (failures or 0) >= settings.LOGIN_FAILURE_LIMIT


def forwarded_address(request: HttpRequest) -> str | None:
    """AXES_CLIENT_IP_CALLABLE behind a proxy (TRUST_X_FORWARDED_FOR): the address the proxy saw,
    the last one in X-Forwarded-For, which the proxy adds. Anything before it the browser may have
    written itself. Without the header, the connection's own address."""
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    return forwarded[-1] or request.META.get("REMOTE_ADDR")


def locked_out(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """The log-in page again, saying why and for how long, with 429 Too Many Requests.

    Axes answers this instead of the log-in attempt (a right password included) from the
    LOGIN_FAILURE_LIMIT-th wrong one for a username from one address, or the
    LOGIN_ADDRESS_FAILURE_LIMIT-th from the address, until LOGIN_LOCKOUT_MINUTES after the last."""
    form = AuthenticationForm(request, initial={"username": request.POST.get("username", "")})
    context = {
        "form": form,
        "next": request.POST.get("next", request.GET.get("next", "")),
        "locked_out_minutes": settings.LOGIN_LOCKOUT_MINUTES,
        # The pair's lock refuses this username; the address's refuses every username from it.
        "address_locked": not _pair_locked(request, credentials),
        "failure_limit": failure_limit(request, credentials),
    }
    return render(request, "registration/login.html", context, status=429)

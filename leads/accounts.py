"""Log-in throttling (django-axes, configured in settings): the page a locked-out rep sees."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def locked_out(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """The log-in page again, saying why and for how long, with 429 Too Many Requests.

    Axes answers this instead of the log-in attempt (a right password included) from the
    LOGIN_FAILURE_LIMIT-th wrong one until LOGIN_LOCKOUT_MINUTES after the last."""
    form = AuthenticationForm(request, initial={"username": request.POST.get("username", "")})
    context = {
        "form": form,
        "next": request.POST.get("next", request.GET.get("next", "")),
        "locked_out_minutes": settings.LOGIN_LOCKOUT_MINUTES,
        "failure_limit": settings.LOGIN_FAILURE_LIMIT,
    }
    return render(request, "registration/login.html", context, status=429)

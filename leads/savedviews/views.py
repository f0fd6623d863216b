"""Saved views' pages: save the dashboard's view, open one by its link, delete one."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from leads.accounts import roles
from leads.models import SavedView
from leads.profiles import selectors as profiles
from leads.savedviews import services


@roles.required(roles.VIEW)
@require_POST
def save(request: HttpRequest) -> HttpResponse:
    query = request.POST.get("query", "")
    if request.POST.get(profiles.PARAM) and profiles.PARAM not in dict(parse_qsl(query)):
        # The page's profile (its form field, checked: a 400 for one the user may not use), though
        # its address named none: the view is that profile's, as the chooser showed.
        query = urlencode([*parse_qsl(query), (profiles.PARAM, profiles.current_id(request))])
    try:
        view = services.save_view(name=request.POST.get("name", ""), query=query, user=request.user)
    except services.BadView as error:
        messages.error(request, f"Not saved: {error}")
        return redirect(f"{reverse('dashboard')}?{services.valid_query(query, user=request.user)}")
    messages.success(request, f"Saved “{view.name}”: anyone on the team can open it from Views, or by its link.")
    return redirect(f"{reverse('dashboard')}?{view.query}")


@roles.required(roles.VIEW)
@require_GET
def open_view(request: HttpRequest, pk: int) -> HttpResponse:
    """A view's link: its companies on the dashboard, and its new ones counted from now."""
    view = get_object_or_404(SavedView, pk=pk)
    query = services.open_view(view=view, user=request.user)
    return redirect(f"{reverse('dashboard')}?{query}")


@roles.required(roles.VIEW)
@require_POST
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    view = get_object_or_404(SavedView, pk=pk)
    try:
        services.delete_view(view=view, user=request.user)
    except PermissionError as error:
        return HttpResponse(str(error), status=403, content_type="text/plain; charset=utf-8")
    messages.success(request, f"Deleted the view “{view.name}”.")
    return redirect("dashboard")

"""Responses every feature's views share."""

from __future__ import annotations

from django.http import HttpResponseBadRequest


def bad_request(message: str) -> HttpResponseBadRequest:
    """400 with what to fix, as plain text: the message quotes the user's input, which must not be
    rendered as HTML."""
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")

"""The company admin's owners and notes: the bulk action "Assign to…" (the owner picked in a box
beside the action list) and "Unassign", both through leads/owners/services.py; notes read-only."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.template.defaultfilters import linebreaksbr
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join

from leads.core import words
from leads.core.params import whole_number
from leads.owners import selectors, services


class AssignActionForm(ActionForm):
    """The admin's action bar, with whom "Assign to…" gives the selected companies to."""

    owner = forms.ModelChoiceField(
        queryset=selectors.possible_owners(), required=False, empty_label="(owner for “Assign to…”)", label="Owner"
    )


def _assign(modeladmin, request, queryset, owner) -> None:
    ids = list(queryset.values_list("pk", flat=True))
    try:
        changed = services.assign_companies(ids=ids, owner=owner, by=request.user)
    except services.Refused as error:
        modeladmin.message_user(request, str(error), messages.ERROR)
        return
    modeladmin.message_user(request, _assigned_note(changed, len(ids), owner))


def _assigned_note(changed: int, selected: int, owner) -> str:
    """'1 company now alice's.', '2 companies unassigned; the other already was.'"""
    whose = f"{owner.get_username()}'s" if owner else "unassigned"
    if not changed:
        return f"No company changed: the selected {'one was' if selected == 1 else 'ones were'} already {whose}."
    note = f"{words.companies(changed)} {'now ' if owner else ''}{whose}"
    others = selected - changed
    if not others:
        return note + "."
    return note + ("; the other already was." if others == 1 else f"; the other {others:,} already were.")


@admin.action(description="Assign to… (pick the owner beside the action)", permissions=["assign"])
def assign_to(modeladmin, request, queryset):
    # The owner field alone: the form's action field has its choices only inside the changelist.
    picked = request.POST.get("owner", "")
    number = whole_number(picked)
    owner = selectors.possible_owners().filter(pk=number).first() if number is not None else None
    if owner is None:
        modeladmin.message_user(
            request, "Pick the owner in the box beside the action list, then run “Assign to…” again.", messages.ERROR
        )
        return
    _assign(modeladmin, request, queryset, owner)


@admin.action(description="Unassign the selected companies", permissions=["assign"])
def unassign(modeladmin, request, queryset):
    _assign(modeladmin, request, queryset, None)


def notes_html(company) -> str:
    """A company's notes for its admin page, newest first, read-only: reps and managers write them
    on the company page or through the API (a read-only inline would make every change form post
    its management form)."""
    notes = selectors.company_notes(company.pk)
    if not notes:
        return "None."
    return format_html(
        '<ul class="notes">{}</ul>',
        format_html_join(
            "",
            "<li>{}<br><small>{}, {}</small></li>",
            (
                (
                    linebreaksbr(note.text),
                    note.author.get_username() if note.author else "a deleted account",
                    date_format(timezone.localtime(note.created_at), "SHORT_DATETIME_FORMAT"),
                )
                for note in notes
            ),
        ),
    )

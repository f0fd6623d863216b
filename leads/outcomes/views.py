"""Outcomes on the web: a deals file uploaded, previewed (columns, CRM, stages a manager maps, a dry
run's matches by key), confirmed and imported by a worker while its page shows the progress, then
what it did; its rejects as CSV; the "outcomes count as verdicts" setting; the "Does it find
customers?" report."""

from __future__ import annotations

import csv
import re

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leads.accounts import roles
from leads.companies.exports import neutralise
from leads.core import queue
from leads.core.params import whole_number
from leads.crm.names import KNOWN, crm_label
from leads.imports import jobs
from leads.imports.csvfiles import UnreadableFile
from leads.models import OutcomeImport
from leads.outcomes import deals as deal_rows
from leads.outcomes import selectors
from leads.outcomes import services as outcomes
from leads.outcomes.matching import read_file
from leads.outcomes.report import outcomes_report
from leads.profiles import selectors as profiles

_STAGE_KEY = re.compile(r"stage-\d+")  # a stage of the preview's table: its choice is posted as stage-N-as


@roles.required(roles.IMPORT)
@require_http_methods(["GET", "POST"])
def outcomes_page(request: HttpRequest) -> HttpResponse:
    """The deals upload, the recent deals files and (for who may change settings) the setting."""
    error = ""
    if request.method == "POST":
        uploaded = request.FILES.get("file")
        if uploaded is None:
            error = "Choose a deals file (CSV or Excel) to upload."
        else:
            try:
                job = outcomes.create_import_from_stream(uploaded.file, name=uploaded.name, size=uploaded.size,
                                                         crm=request.POST.get("crm", ""), user=request.user)  # fmt: skip
            except UnreadableFile as problem:
                error = str(problem)
            else:
                return redirect("outcome-import", job.pk)
    count = selectors.outcomes_count(profiles.current_id(request))
    context = {"error": error, "jobs": selectors.recent_imports(), "count": count,
               "may_change": request.user.has_perm(roles.SETTINGS), "crms": KNOWN}  # fmt: skip
    return render(request, "leads/outcomes.html", context, status=400 if error else 200)


@roles.required(roles.IMPORT)
@require_http_methods(["GET", "POST"])
def outcome_import(request: HttpRequest, pk: int) -> HttpResponse:
    """Before the import: its preview (a dry run with the choices made so far); then its progress
    while a worker imports it, and what it did (or why it failed). POST `action=preview` keeps the
    choices (columns, CRM, stages), `action=import` keeps them and queues the import."""
    job = get_object_or_404(OutcomeImport, pk=pk)
    if request.method == "POST" and job.state != OutcomeImport.State.PENDING:
        messages.info(request, "This import was already confirmed.")
        return redirect("outcome-import", job.pk)
    if request.method == "POST":
        indexes = {k: whole_number(k[7:]) for k in request.POST if k.startswith("column-")}
        columns = {i: request.POST[k] for k, i in indexes.items()
                   if i is not None and i < len(job.headers) and request.POST[k] in deal_rows.FIELDS}  # fmt: skip
        stages = {request.POST[k]: request.POST.get(f"{k}-as", "") for k in request.POST if _STAGE_KEY.fullmatch(k)}
        outcomes.choose(job, columns=columns, stages={**job.stages, **stages}, crm=request.POST.get("crm") or None,
                        replace=any(k.startswith("column-") for k in request.POST))  # fmt: skip
        doubled = deal_rows.doubled_columns(job.column_mapping(), job.headers)  # the preview says which
        if request.POST.get("action") == "import" and job.crm and not doubled:
            jobs.choose_profile(job, profiles.current_id(request))  # where its verdicts go, while outcomes count
            outcomes.start_import(job)
            if queue.queue_is_down():  # confirmed and kept; the sweep starts it once Redis is back
                messages.warning(request, "The task queue is unreachable: the import starts once it is back.")
        return redirect("outcome-import", job.pk)
    shown = {"job": job, "crm_name": crm_label(job.crm) if job.crm else ""}
    if job.state != OutcomeImport.State.PENDING:
        return render(request, "leads/outcome_import.html", {**shown, "progress": selectors.import_progress(job)})
    try:
        reading = read_file(job)
    except UnreadableFile as problem:  # past the rows the upload read: say what, the job keeps the file
        return render(request, "leads/outcome_import.html", {**shown, "error": str(problem)}, status=400)
    mapping = job.column_mapping()
    columns = [(i, header, mapping.get(i, "")) for i, header in enumerate(job.headers)]
    # Each stage no default pipeline names, with what the manager chose for it (else open).
    chosen = [(s, job.stages.get(deal_rows.fold_stage(s), deal_rows.OPEN)) for s in reading.unknown_stages]
    return render(request, "leads/outcome_import.html", {
        **shown, "reading": reading, "columns": columns, "fields": deal_rows.FIELD_LABELS.items(), "crms": KNOWN,
        "stages": deal_rows.STAGES, "chosen_stages": chosen, "doubled": deal_rows.doubled_columns(mapping, job.headers),
        "no_stage": "" if deal_rows.reads_stage(mapping) else deal_rows.NO_STAGE,
    })  # fmt: skip


@roles.required(roles.IMPORT)
@require_GET
def outcome_progress(request: HttpRequest, pk: int) -> JsonResponse:
    """What the import's page polls while a worker imports the file."""
    return JsonResponse(selectors.import_progress(get_object_or_404(OutcomeImport, pk=pk)))


@roles.required(roles.IMPORT)
@require_GET
def outcome_rejected(request: HttpRequest, pk: int) -> HttpResponse:
    """Every rejected row of an import: line, reason, then the row's cells (formulas neutralised)."""
    job = get_object_or_404(OutcomeImport, pk=pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="rejected-deals-{job.pk}.csv"'
    writer = csv.writer(response)
    writer.writerow(["line", "reason", *map(neutralise, job.headers)])
    for row in job.rejected_rows:
        writer.writerow([row["line"], neutralise(row["reason"]), *map(neutralise, row["values"])])
    return response


@roles.required(roles.SETTINGS)
@require_POST
def outcomes_setting(request: HttpRequest) -> HttpResponse:
    """Outcomes count as verdicts, or are only measured."""
    count = request.POST.get("count") == "on"
    changed = outcomes.set_outcomes_count(count=count, user=request.user, profile_id=profiles.current_id(request))
    state = "count as verdicts" if count else "are only measured"
    messages.success(request, f"Outcomes now {state}: {changed} verdicts changed.")
    return redirect("outcomes")


@roles.required(roles.VIEW)
@require_GET
def report_page(request: HttpRequest) -> HttpResponse:
    report = outcomes_report(profile_id=profiles.current_id(request))
    return render(request, "leads/outcomes_report.html", {"report": report})

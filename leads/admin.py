"""Admin for managers reviewing scored companies."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import F
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.urls import reverse

from leads import embedding, identity, selectors
from leads.models import ApiToken, Company, ImportJob, Label, LabelSource, Score, Verdict
from leads.services import companies
from leads.services.labels import label_companies


class NulQueryMiddleware:
    """Refuses admin pages whose query string holds a NUL character (?verdict=%00, ?q=%00).

    Postgres text cannot hold NUL, so a list filter value with one fails inside the query as a
    500. Django's admin checks its search box for NUL but passes filter values straight to the
    database, for every model (ours, users, groups): so any parameter with a NUL is refused
    here, one rule for all, before an admin view runs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(reverse("admin:index")) and _holds_nul(request.GET):
            return HttpResponseBadRequest(
                "The address holds a NUL character (%00), which nothing can match: remove it.",
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)


def _holds_nul(params) -> bool:
    return any("\x00" in name or any("\x00" in value for value in values) for name, values in params.lists())


class EmbeddingStatusFilter(admin.SimpleListFilter):
    title = "embedding"
    parameter_name = "embedded"

    def lookups(self, request, model_admin):
        return [("yes", "Embedded"), ("no", "Waiting for the worker")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.with_current_embedding(embedding.model_name())
        if self.value() == "no":
            return queryset.needing_embedding(embedding.model_name())
        return queryset


class ScoreStatusFilter(admin.SimpleListFilter):
    title = "score"
    parameter_name = "scored"

    def lookups(self, request, model_admin):
        return [
            ("high", "0.5 and above"),
            ("low", "below -0.5"),
            ("uncertain", "between -0.2 and 0.2"),
            ("none", "not scored"),
        ]

    def queryset(self, request, queryset):
        ranges = {
            "high": {"score__value__gte": 0.5},
            "low": {"score__value__lt": -0.5},
            "uncertain": {"score__value__gt": -0.2, "score__value__lt": 0.2},
            "none": {"score__isnull": True},
        }
        return queryset.filter(**ranges[self.value()]) if self.value() in ranges else queryset


class LabelInline(admin.TabularInline):
    model = Label
    extra = 0
    fields = ["verdict", "user", "source", "created_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


def _verdict_action(verdict: Verdict, description: str):
    @admin.action(description=description)
    def action(modeladmin, request, queryset):
        changed = label_companies(
            verdicts=[(pk, verdict) for pk in queryset.values_list("pk", flat=True)],
            user=request.user,
            source=LabelSource.ADMIN,
        )
        modeladmin.message_user(request, f"{changed} companies changed; their neighbours' scores update in a moment.")

    action.__name__ = f"mark_{verdict.value}"
    return action


class CompanyForm(forms.ModelForm):
    """The import's rules for names and websites (leads/identity.py), with the same messages."""

    class Meta:
        model = Company
        fields = ["name", "website", "description", "industry", "country", "extra"]

    def clean_name(self) -> str:
        name = identity.clean_name(self.cleaned_data["name"])
        if not name:
            raise ValidationError("A company needs a name with at least one visible character.")
        return name

    def clean_website(self) -> str:
        website = self.cleaned_data["website"]
        if problem := identity.read_website(website).problem:
            raise ValidationError(problem[0].upper() + problem[1:] + ".")
        return website


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    form = CompanyForm
    list_display = ["name", "domain", "industry", "country", "verdict", "score_value", "embedded"]
    list_filter = [ScoreStatusFilter, "verdict", EmbeddingStatusFilter, "industry", "country"]
    search_fields = ["name", "domain", "description"]
    list_select_related = ["score"]
    readonly_fields = ["domain", "dedupe_key", "text_hash", "verdict", "import_job", "created_at", "updated_at"]
    inlines = [LabelInline]
    show_full_result_count = False  # counting a million rows on every page is slow
    actions = [
        _verdict_action(Verdict.LIKE, "Like the selected companies"),
        _verdict_action(Verdict.DISLIKE, "Dislike the selected companies"),
        _verdict_action(Verdict.CLEAR, "Clear the verdict of the selected companies"),
    ]

    # Every write goes through the services, which keep vectors, labels and scores in step.
    def save_model(self, request, obj, form, change):
        companies.save_company(obj)

    def delete_model(self, request, obj):
        companies.delete_companies([obj])

    def delete_queryset(self, request, queryset):
        companies.delete_companies(queryset)

    def get_queryset(self, request):
        return super().get_queryset(request).with_embedding_status(embedding.model_name())

    @admin.display(description="score", ordering=F("score__value").asc(nulls_last=True))
    def score_value(self, company):
        score = getattr(company, "score", None)
        if score is None:
            return "—"
        return f"{score.signed} ({selectors.score_distribution().band(score.value).label})"

    @admin.display(description="embedded", boolean=True, ordering="is_embedded")
    def embedded(self, company):
        return company.is_embedded


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    """Read-only history: verdicts are given on the dashboard, the API, an import or the
    company list's actions, all through services.labels."""

    list_display = ["company", "verdict", "user", "source", "created_at"]
    list_filter = ["verdict", "source", "user"]
    search_fields = ["company__name"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Score)
class ScoreAdmin(admin.ModelAdmin):
    """Read-only: scores are derived from the labels."""

    list_display = ["company", "value", "computed_at"]
    search_fields = ["company__name"]
    readonly_fields = ["company", "value", "neighbour_ids", "neighbour_distances", "neighbour_labels", "kth_distance"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["original_name", "state", "user", "rows_read", "created", "updated", "rejected", "created_at"]
    list_filter = ["state"]
    readonly_fields = [f.name for f in ImportJob._meta.fields]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Staff see whose tokens exist and revoke one by deleting it. Neither the key (never
    stored) nor its hash is shown; reps make their own on /account/token, which shows the key once."""

    list_display = ["prefix", "user", "created_at", "last_used_at"]
    fields = list_display
    readonly_fields = list_display
    search_fields = ["user__username", "prefix"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

"""Admin for managers reviewing scored companies."""

from django.contrib import admin
from django.db.models import F

from leads import embedding
from leads.models import ApiToken, Company, ImportJob, Label, Score


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
    fields = ["verdict", "user", "created_at"]
    readonly_fields = fields
    can_delete = False


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ["name", "domain", "industry", "country", "verdict", "score_value", "embedded"]
    list_filter = [ScoreStatusFilter, "verdict", EmbeddingStatusFilter, "industry", "country"]
    search_fields = ["name", "domain", "description"]
    list_select_related = ["score"]
    readonly_fields = ["domain", "dedupe_key", "text_hash", "verdict", "import_job", "created_at", "updated_at"]
    inlines = [LabelInline]
    show_full_result_count = False  # counting a million rows on every page is slow

    def get_queryset(self, request):
        return super().get_queryset(request).with_embedding_status(embedding.model_name())

    @admin.display(description="score", ordering=F("score__value").asc(nulls_last=True))
    def score_value(self, company):
        score = getattr(company, "score", None)
        return "—" if score is None else score.signed

    @admin.display(description="embedded", boolean=True, ordering="is_embedded")
    def embedded(self, company):
        return company.is_embedded


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = ["company", "verdict", "user", "created_at"]
    list_filter = ["verdict", "user"]
    search_fields = ["company__name"]
    raw_id_fields = ["company"]


@admin.register(Score)
class ScoreAdmin(admin.ModelAdmin):
    list_display = ["company", "value", "computed_at"]
    search_fields = ["company__name"]
    raw_id_fields = ["company"]


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["original_name", "state", "user", "rows_read", "created", "updated", "rejected", "created_at"]
    list_filter = ["state"]
    readonly_fields = [f.name for f in ImportJob._meta.fields]


admin.site.register(ApiToken)

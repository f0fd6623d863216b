"""Companies, their embeddings, the labels reps give them and the scores we derive."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from pgvector.django import HnswIndex, VectorField

from leads.identity import dedupe_key, embedding_text, normalise_domain, text_hash


class Verdict(models.TextChoices):
    LIKE = "like", "Liked"
    DISLIKE = "dislike", "Disliked"
    CLEAR = "clear", "Cleared"


# The value a verdict contributes to a neighbour's score.
VERDICT_VALUE = {Verdict.LIKE: 1.0, Verdict.DISLIKE: -1.0}


def _current_embedding(model_name: str) -> Exists:
    return Exists(
        CompanyEmbedding.objects.filter(company=OuterRef("pk"), model_name=model_name, text_hash=OuterRef("text_hash"))
    )


class CompanyQuerySet(models.QuerySet):
    def with_current_embedding(self, model_name: str) -> CompanyQuerySet:
        """Companies whose embedding was made by `model_name` from their current text."""
        return self.filter(_current_embedding(model_name))

    def needing_embedding(self, model_name: str) -> CompanyQuerySet:
        return self.exclude(_current_embedding(model_name))

    def labelled(self) -> CompanyQuerySet:
        return self.exclude(verdict="")

    def unlabelled(self) -> CompanyQuerySet:
        return self.filter(verdict="")

    def search(self, query: str) -> CompanyQuerySet:
        query = query.strip()
        if not query:
            return self
        return self.filter(Q(name__icontains=query) | Q(domain__icontains=query.lower()))

    def with_embedding_status(self, model_name: str) -> CompanyQuerySet:
        """Annotate `is_embedded`: a vector from `model_name` for the current text exists."""
        return self.annotate(is_embedded=_current_embedding(model_name))

    def by_score(self) -> CompanyQuerySet:
        """Best score first; unscored companies after every scored one, then by name."""
        return self.order_by(models.F("score__value").desc(nulls_last=True), "name", "pk")


class Company(models.Model):
    name = models.CharField(max_length=300)
    website = models.CharField(max_length=500, blank=True)
    # Lowercase host without scheme, "www." or path: the dedupe key when present.
    domain = models.CharField(max_length=255, blank=True)
    # The domain, or the normalised name plus country: one company per key (see Meta).
    dedupe_key = models.CharField(max_length=500)
    description = models.TextField(blank=True)
    industry = models.CharField(max_length=200, blank=True)
    country = models.CharField(max_length=100, blank=True)
    # Every other imported column (employees, founded, linkedin_url, ...).
    extra = models.JSONField(default=dict, blank=True)
    # Hash of embedding_text(): tells the worker whether the stored vector is stale.
    text_hash = models.CharField(max_length=64, editable=False)
    # The latest verdict, kept in step with the Label history by services.label_company
    # so that filtering a million companies by label needs no subquery.
    verdict = models.CharField(
        max_length=10, blank=True, choices=[(Verdict.LIKE, "Liked"), (Verdict.DISLIKE, "Disliked")]
    )
    # The import that last created or changed this company: drives that import's progress bar.
    import_job = models.ForeignKey(
        "ImportJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="companies"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CompanyQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "companies"
        ordering = ["name"]
        # Few indexes on purpose: every one of them slows a million-row import
        # (Django's unique=True would add a second, LIKE-only index as well).
        constraints = [models.UniqueConstraint(fields=["dedupe_key"], name="one_company_per_dedupe_key")]
        indexes = [models.Index(fields=["verdict"], condition=~Q(verdict=""), name="company_labelled")]

    def __str__(self) -> str:
        return self.name

    @property
    def text(self) -> str:
        return embedding_text(name=self.name, description=self.description, industry=self.industry)

    def save(self, *args, **kwargs) -> None:
        self.domain = normalise_domain(self.website)
        self.dedupe_key = dedupe_key(name=self.name, domain=self.domain, country=self.country)
        self.text_hash = text_hash(self.text)
        super().save(*args, **kwargs)


class CompanyEmbedding(models.Model):
    """One vector per company and model, in its own table so that writing
    scores or editing companies never rewrites HNSW index entries."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="embeddings")
    model_name = models.CharField(max_length=300)
    text_hash = models.CharField(max_length=64)
    vector = VectorField(dimensions=settings.EMBEDDING_DIMENSIONS)
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["company", "model_name"], name="one_embedding_per_model")]
        indexes = [
            HnswIndex(
                name="embedding_vector_hnsw",
                fields=["vector"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            )
        ]


class Label(models.Model):
    """Every verdict ever given, clears included; the latest one is current."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="labels")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    verdict = models.CharField(max_length=10, choices=Verdict.choices)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["company", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.company} {self.verdict}"


class Score(models.Model):
    """The kNN score of an unlabelled company and the neighbours that made it."""

    company = models.OneToOneField(Company, on_delete=models.CASCADE, primary_key=True, related_name="score")
    value = models.FloatField(db_index=True)  # in [-1, 1]
    # [{"company_id": 7, "distance": 0.31, "weight": 0.42, "label": 1.0}, ...] nearest first;
    # weight is the neighbour's share of the total weight (shares add up to 1).
    neighbours = models.JSONField(default=list)
    computed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.company_id}: {self.signed}"

    @property
    def signed(self) -> str:
        """'+0.81' / '-0.40': the sign matters to a reader, floatformat drops it."""
        return f"{self.value:+.2f}"


class ScoringState(models.Model):
    """A single row: how far the scores have caught up with the labels.

    Every labelling transaction bumps labels_version; a rescore records the
    version it started from in scored_version. A burst of labels queues many
    rescore tasks but only the first finds scored_version behind and works."""

    labels_version = models.BigIntegerField(default=0)
    scored_version = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    @classmethod
    def get(cls) -> ScoringState:
        state, _ = cls.objects.get_or_create(pk=1)
        return state


class ApiToken(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_token")
    key = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    @classmethod
    def for_user(cls, user, *, regenerate: bool = False) -> ApiToken:
        token, created = cls.objects.get_or_create(user=user, defaults={"key": secrets.token_hex(20)})
        if regenerate and not created:
            token.key = secrets.token_hex(20)
            token.save(update_fields=["key"])
        return token


class ImportJob(models.Model):
    """One CSV import: the original file, who ran it, what it did and what it rejected."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for confirmation"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Importing"
        DONE = "done", "Imported"
        FAILED = "failed", "Failed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    file = models.FileField(upload_to="imports/%Y/%m/")
    original_name = models.CharField(max_length=300)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    encoding = models.CharField(max_length=30, blank=True)
    delimiter = models.CharField(max_length=5, blank=True)
    headers = models.JSONField(default=list, blank=True)
    mapping = models.JSONField(default=dict, blank=True)  # {"<column index>": "name" | "extra:x" | "ignore"}
    size_bytes = models.PositiveBigIntegerField(default=0)
    rows_estimate = models.PositiveIntegerField(default=0)  # from the sample; drives the first progress bar
    rows_read = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    labels = models.PositiveIntegerField(default=0)
    # [{"line": 7, "reason": "...", "values": [...]}]: the first few, for display.
    rejected_rows = models.JSONField(default=list, blank=True)
    rejected_file = models.FileField(blank=True)  # every rejected row: line, reason, original cells
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.get_state_display()})"

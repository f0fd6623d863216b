"""Companies, their embeddings, the labels reps give them and the scores we derive."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import models
from django.db.models import Exists, F, Func, OuterRef, Q, Value
from django.utils import timezone
from pgvector.django import HnswIndex, VectorField

from leads.identity import dedupe_key, embedding_text, normalise_domain, text_hash
from leads.scoring import inverse_distance_weights


class Verdict(models.TextChoices):
    LIKE = "like", "Liked"
    DISLIKE = "dislike", "Disliked"
    CLEAR = "clear", "Cleared"


class LabelSource(models.TextChoices):
    """Where a verdict came from, so that imported verdicts and a rep's own can be told apart."""

    CLICK = "click", "Dashboard click"
    API = "api", "API call"
    IMPORT = "import", "Import"
    ADMIN = "admin", "Admin action"


# The value a verdict contributes to a neighbour's score.
VERDICT_VALUE = {Verdict.LIKE: 1.0, Verdict.DISLIKE: -1.0}


def current_vector_exists(model_name: str, company: str = "pk", text_hash: str = "text_hash") -> Exists:
    """For a correlated subquery: the outer row's company (`company`, `text_hash`: its fields as
    seen from the outer query) has a current vector. One index probe per outer row."""
    vectors = CompanyEmbedding.objects.current(model_name, text_hash=OuterRef(text_hash))
    return Exists(vectors.filter(company=OuterRef(company)))


class CompanyEmbeddingQuerySet(models.QuerySet):
    def current(self, model_name: str, *, text_hash=None) -> CompanyEmbeddingQuerySet:
        """THE definition of a company's current vector: made by `model_name` from the company's
        current text (its text hash). Anything else is stale and is never scored or searched.

        `text_hash` lets a correlated subquery pass the outer company's hash (an OuterRef)
        instead of joining the companies table again."""
        return self.filter(model_name=model_name, text_hash=text_hash or models.F("company__text_hash"))

    def to_score(self, model_name: str) -> CompanyEmbeddingQuerySet:
        """Current vectors of unlabelled companies: the companies that get a score."""
        return self.current(model_name).filter(company__verdict="")

    def labelled(self, model_name: str) -> CompanyEmbeddingQuerySet:
        """Current vectors of labelled companies: the neighbours scores are made of."""
        return self.current(model_name).exclude(company__verdict="")


# Name and domain as words ("Acme Corp" + "acme com"), in the 'simple' configuration: no
# stemming, no stop words, so any word a rep types can match. The embedded Postgres has no pg_trgm.
SEARCH_VECTOR = SearchVector(
    "name", Func(F("domain"), Value(r"[.\-]"), Value(" "), Value("g"), function="regexp_replace"), config="simple"
)


# Up to this many matches are passed on as a list of ids (see CompanyQuerySet.search).
SEARCH_IDS_INLINE = 50_000


def search_query(text: str) -> SearchQuery | None:
    """'acme co' -> every word as a prefix, all required: 'acme':* & 'co':*; None for no words."""
    words = re.findall(r"\w+", text.lower())
    if not words:
        return None
    return SearchQuery(" & ".join(f"'{word}':*" for word in words[:8]), search_type="raw", config="simple")


@models.ForeignKey.register_lookup
@models.IntegerField.register_lookup
class AnyOf(models.Lookup):
    """`id__any_of=[...]`: `id = ANY(%s)`, one array parameter however many ids (Postgres hashes
    it), where `id__in` writes one placeholder per id."""

    lookup_name = "any_of"
    prepare_rhs = False  # a list, not one value of the field

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", [*lhs_params, [int(value) for value in self.rhs]]


class CompanyQuerySet(models.QuerySet):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The ids search() found, kept through later filters: BestFirst repeats them on the score
        # side, so that Postgres reads the page off the score index instead of every match.
        self.matching_ids: list[int] | None = None

    def _clone(self):
        clone = super()._clone()
        clone.matching_ids = self.matching_ids
        return clone

    def with_current_embedding(self, model_name: str) -> CompanyQuerySet:
        """Companies whose embedding was made by `model_name` from their current text."""
        return self.filter(current_vector_exists(model_name))

    def needing_embedding(self, model_name: str) -> CompanyQuerySet:
        return self.exclude(current_vector_exists(model_name))

    def with_stale_embedding(self, model_name: str) -> CompanyQuerySet:
        """Companies that have a vector from `model_name`, but not for their current text."""
        any_vector = Exists(CompanyEmbedding.objects.filter(company=OuterRef("pk"), model_name=model_name))
        return self.filter(any_vector).exclude(current_vector_exists(model_name))

    def labelled(self) -> CompanyQuerySet:
        return self.exclude(verdict="")

    def unlabelled(self) -> CompanyQuerySet:
        return self.filter(verdict="")

    def search(self, query: str) -> CompanyQuerySet:
        """Companies whose name or domain has words starting with each word of the query,
        through a GIN index: 'brew' finds 'Alpha Brewing', 'acme' finds 'acme.com'."""
        if not query.strip():
            return self
        parsed = search_query(query)
        if parsed is None:  # only punctuation: nothing can match
            return self.none()
        matches = self.alias(search_words=SEARCH_VECTOR).filter(search_words=parsed)
        # Find the matches once through the GIN index and pass them on as one array of ids (else
        # Postgres walks the dashboard's score order computing each company's words until a page
        # is full: 300 ms at 100k companies, 2 s at a million). An array parameter, not an IN
        # list: 22,000 placeholders cost ~0.4 s per query to build, send and plan. A word in more
        # than SEARCH_IDS_INLINE names fills a page after a short walk.
        ids = list(matches.order_by().values_list("pk", flat=True)[: SEARCH_IDS_INLINE + 1])
        if len(ids) <= SEARCH_IDS_INLINE:
            found = self.filter(pk__any_of=ids)
            found.matching_ids = ids
            return found
        return matches

    def with_embedding_status(self, model_name: str) -> CompanyQuerySet:
        """Annotate `is_embedded`: a vector from `model_name` for the current text exists."""
        return self.annotate(is_embedded=current_vector_exists(model_name))


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
        indexes = [
            models.Index(fields=["verdict"], condition=~Q(verdict=""), name="company_labelled"),
            # Word-prefix search on name and domain (see CompanyQuerySet.search).
            GinIndex(SEARCH_VECTOR, name="company_name_domain_search"),
        ]

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

    objects = CompanyEmbeddingQuerySet.as_manager()

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
    source = models.CharField(max_length=10, choices=LabelSource.choices)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["company", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.company} {self.verdict}"


class Score(models.Model):
    """The kNN score of an unlabelled company and the k labelled neighbours that made it.

    The neighbours are kept as parallel arrays, nearest first, so that a full rescore writes
    them with one binary COPY and the incremental rescore can ask the database which scores
    cite a company (GIN index on neighbour_ids) and which a new label would enter
    (its distance below kth_distance)."""

    company = models.OneToOneField(Company, on_delete=models.CASCADE, primary_key=True, related_name="score")
    value = models.FloatField()  # in [-1, 1]
    neighbour_ids = ArrayField(models.BigIntegerField())
    neighbour_distances = ArrayField(models.FloatField())  # cosine distance, 0..2
    neighbour_labels = ArrayField(models.FloatField())  # +1 like / -1 dislike, as scored
    # Distance of the k-th neighbour; +inf while fewer than k companies are labelled
    # (then any new label is a neighbour).
    kth_distance = models.FloatField()
    computed_at = models.DateTimeField()

    class Meta:
        indexes = [
            GinIndex(fields=["neighbour_ids"], name="score_neighbour_ids"),
            # The dashboard's order (selectors.BestFirst): its first page reads ~50 entries.
            models.Index(fields=["-value", "company"], name="score_best_first"),
        ]

    def __str__(self) -> str:
        return f"{self.company_id}: {self.signed}"

    @property
    def signed(self) -> str:
        """'+0.81' / '-0.40': the sign matters to a reader, floatformat drops it."""
        return f"{self.value:+.2f}"

    @property
    def neighbours(self) -> list[dict]:
        """[{"company_id", "distance", "weight", "label"}, ...] nearest first; weight is the
        neighbour's share of the total weight (shares add up to 1)."""
        if not self.neighbour_ids:
            return []
        weights = inverse_distance_weights(np.array([self.neighbour_distances]))[0]
        return [
            {"company_id": cid, "distance": round(d, 6), "weight": round(float(w), 6), "label": label}
            for cid, d, w, label in zip(self.neighbour_ids, self.neighbour_distances, weights, self.neighbour_labels)
        ]


class PendingScoreChange(models.Model):
    """A labelled-set change the scores have not caught up with yet: a company whose verdict
    changed, or whose vector changed while labelled, or which was deleted while labelled.

    Written in the same transaction as the change; the incremental rescore takes (deletes)
    every committed row and rescores exactly the companies they affect. Many clicks on the
    same or other companies pile up here and cost one pass."""

    company_id = models.BigIntegerField(primary_key=True)  # no FK: a deleted company still counts
    # It may have entered the labelled set, or moved in it (newly labelled, or labelled and
    # re-embedded): only then can it enter other scores' neighbours, which costs a pass over every
    # vector. A flip, a clear or a deletion only touches the scores that cite it.
    entered = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)


class ScoreChange(models.Model):
    """A score that an incremental rescore changed: from what, to what, because of which verdicts.
    What the dashboard's "37 scores changed" links to; kept for a day (the sweep trims it)."""

    company_id = models.BigIntegerField()  # no FK: the log outlives a deleted company
    old_value = models.FloatField(null=True)  # None: it had no score
    new_value = models.FloatField(null=True)  # None: it has none now (labelled since)
    causes = ArrayField(models.BigIntegerField())  # the companies whose verdicts changed in that pass
    changed_at = models.DateTimeField(db_index=True)


class ScoringState(models.Model):
    """A single row: how far a full rescore split over workers has got."""

    chunks_left = models.IntegerField(default=0)  # > 0 while a full rescore's chunk tasks run
    # Set when some company was scored against an empty labelled set (so has no score row the
    # incremental pass could find): the next pass that sees labels runs a full rescore instead.
    needs_full_rescore = models.BooleanField(default=True)
    full_started_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    @classmethod
    def get(cls) -> ScoringState:
        state, _ = cls.objects.get_or_create(pk=1)
        return state


class ApiToken(models.Model):
    """A rep's key for the JSON API (one per rep). Only a hash of the key is stored: the key is
    shown once, when made, and a leaked database or admin page gives nobody API access.

    A key is 160 random bits, so a fast SHA-256 is enough: a slow password hash guards against
    guessing, and nobody can guess a random key."""

    PREFIX_LENGTH = 8  # characters of the key kept in the clear, to tell tokens apart

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_token")
    key_hash = models.CharField(max_length=64, unique=True)  # hex SHA-256 of the key
    prefix = models.CharField(max_length=PREFIX_LENGTH)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    # The plain key: set only on the instance issue() returns, never stored.
    key = ""

    class Meta:
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @staticmethod
    def hash(key: str) -> str:
        return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()

    @classmethod
    def issue(cls, *, user) -> ApiToken:
        """A new key for user, replacing (so revoking) any key they had. The returned token's
        `key` is the only copy of the plain key: show it to the rep now."""
        key = secrets.token_hex(20)
        token, _ = cls.objects.update_or_create(
            user=user,
            defaults={
                "key_hash": cls.hash(key),
                "prefix": key[: cls.PREFIX_LENGTH],
                "created_at": timezone.now(),
                "last_used_at": None,
            },
        )
        token.key = key
        return token

    @classmethod
    def revoke(cls, *, user) -> bool:
        """Whether user had a token; it no longer works."""
        deleted, _ = cls.objects.filter(user=user).delete()
        return bool(deleted)

    @classmethod
    def user_for(cls, key: str):
        """The active user whose key this is, or None; any junk (a NUL byte, 10 kB) is just a wrong key."""
        token = cls.objects.select_related("user").filter(key_hash=cls.hash(key)).first()
        if token is None or not token.user.is_active:
            return None
        now = timezone.now()
        # One write a minute at most, not one per request: "last used" is for spotting stale tokens.
        if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
            cls.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user


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


class MapPointQuerySet(models.QuerySet):
    def current(self, model_name: str) -> MapPointQuerySet:
        """Points placed from a company's current vector (see CompanyEmbedding.objects.current):
        same model, same text hash. Any other point is stale: compute_map replaces or drops it."""
        return self.filter(model_name=model_name, text_hash=F("company__text_hash"))

    def stale(self, model_name: str) -> MapPointQuerySet:
        return self.exclude(model_name=model_name, text_hash=F("company__text_hash"))


class MapPoint(models.Model):
    """A company's place on the map ("Companies in space"): written by services.maps.compute_map
    from its current vector, read by the map page."""

    company = models.OneToOneField(Company, on_delete=models.CASCADE, primary_key=True, related_name="map_point")
    x = models.FloatField()
    y = models.FloatField()
    # In [0, 1), from the company id alone (mapping.sample_keys): the map page shows the unlabelled
    # companies with the lowest keys, a sample that stays put while companies come and go.
    sample_key = models.FloatField()
    model_name = models.CharField(max_length=300)
    text_hash = models.CharField(max_length=64)  # of the text the vector was made from
    computed_at = models.DateTimeField()

    objects = MapPointQuerySet.as_manager()

    class Meta:
        # The map page's order (sample key, then id, so that ties are deterministic too).
        indexes = [models.Index(fields=["sample_key", "company"], name="map_point_sample")]


class MapLayout(models.Model):
    """A single row: how map coordinates are made, kept so that companies embedded later land
    where the same projection puts them instead of the whole map being redrawn (and moving)."""

    method = models.CharField(max_length=10, blank=True)  # "pca" or "umap"; "" before the first fit
    model_name = models.CharField(max_length=300, blank=True)  # the embedding model it was fitted on
    # pca: {"mean": [dims], "components": [[dims], [dims]]}; umap: {"anchor_ids": [m], "anchor_xy": [[x, y] * m]}
    projection = models.JSONField(default=dict, blank=True)
    fitted_on = models.IntegerField(default=0)  # companies with a current vector when it was fitted
    fitted_at = models.DateTimeField(null=True, blank=True)
    # [min x, min y, max x, max y] of every point after the last compute_map: the frame the page's
    # coordinates are sent in, the same whichever sample of points a request gets.
    extent = models.JSONField(default=list, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)  # when the last compute_map finished
    checked_at = models.DateTimeField(null=True, blank=True)  # the sweep's last look for missing points

    @classmethod
    def get(cls) -> MapLayout:
        layout, _ = cls.objects.get_or_create(pk=1)
        return layout


class QualitySnapshot(models.Model):
    """One day's leave-one-out ranking quality of the labels (leads/quality.py), for the trend on
    the label review page: written by services.quality.record_quality (the sweep, once a day, and
    `evaluate --record`)."""

    date = models.DateField(unique=True)
    labels = models.PositiveIntegerField()
    liked = models.PositiveIntegerField()
    k = models.PositiveIntegerField()  # the configured k the headline figures are for
    # None where undefined: one class only, or fewer labels than the precision counts.
    auc = models.FloatField(null=True)
    auc_low = models.FloatField(null=True)  # bootstrap interval, 2.5th to 97.5th percentile
    auc_high = models.FloatField(null=True)
    precision_at_20 = models.FloatField(null=True)
    precision_at_50 = models.FloatField(null=True)
    naive_auc = models.FloatField(null=True)  # np.average(labels, weights=distances): the README's bug
    uniform_auc = models.FloatField(null=True)
    figures = models.JSONField(default=dict)  # the whole report: every k, every interval
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date}: AUC {self.auc}"


class ReviewDecision(models.Model):
    """A manager's "keep: this is right" on a label review entry. The entry stays hidden while the
    labels it was about are the latest ones; any new label on its companies brings it back."""

    class Kind(models.TextChoices):
        SUSPICIOUS = "suspicious", "Suspicious label"
        CONFLICT = "conflict", "Reps disagree"
        DUPLICATE = "duplicate", "Near-duplicates labelled apart"

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    # The disliked company of a near-duplicate pair (company is the liked one); None otherwise.
    other = models.ForeignKey(Company, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # The latest label of company (and of other) when kept.
    label = models.ForeignKey(Label, null=True, on_delete=models.CASCADE, related_name="+")
    other_label = models.ForeignKey(Label, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    verdict = models.CharField(max_length=10, blank=True)  # company's verdict then, for the record
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["kind", "company"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.company_id}: kept by {self.user}"

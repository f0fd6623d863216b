"""Companies in space: the map's points and its projection."""

from __future__ import annotations

from django.db import models
from django.db.models import F

from leads.models.companies import Company
from leads.models.onerow import OneRow


class MapPointQuerySet(models.QuerySet):
    def current(self, model_name: str) -> MapPointQuerySet:
        """Points placed from a company's current vector (see CompanyEmbedding.objects.current):
        same model, same text hash. Any other point is stale: compute_map replaces or drops it."""
        return self.filter(model_name=model_name, text_hash=F("company__text_hash"))

    def stale(self, model_name: str) -> MapPointQuerySet:
        return self.exclude(model_name=model_name, text_hash=F("company__text_hash"))


class MapPoint(models.Model):
    """A company's place on the map ("Companies in space"): written by map.services.compute_map
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


class MapLayout(OneRow):
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

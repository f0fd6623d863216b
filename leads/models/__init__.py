"""Companies, their embeddings, the labels reps give them and the scores we derive: one module
per concern, all importable from `leads.models`."""

from leads.models.access import ApiToken
from leads.models.companies import (
    SEARCH_IDS_INLINE,
    SEARCH_VECTOR,
    Company,
    CompanyEmbedding,
    CompanyEmbeddingQuerySet,
    CompanyQuerySet,
    CompanyWords,
    CountryName,
    current_vector_exists,
    search_query,
)
from leads.models.crm import CrmRecord
from leads.models.encoders import EncoderState
from leads.models.imports import ImportedCompany, ImportJob, ImportState, UploadedTable
from leads.models.labels import VERDICT_VALUE, Label, LabelQuerySet, LabelSource, Verdict
from leads.models.lookups import AnyOf
from leads.models.maps import MapLayout, MapPoint, MapPointQuerySet
from leads.models.notes import CompanyNote
from leads.models.outcomes import MatchedBy, Outcome, OutcomeBand, OutcomeImport, OutcomeSettings, ScoreSnapshot, Stage
from leads.models.profiles import FIRST_PROFILE_ID, CurrentVerdict, Profile, ProfileAccess, ProfileChoice
from leads.models.review import QualitySnapshot, ReviewDecision
from leads.models.saved_views import SavedView, SavedViewVisit
from leads.models.scores import FitDistribution, PendingScoreChange, Score, ScoreChange, ScoringState
from leads.models.webhooks import WebhookDelivery, WebhookEndpoint, WebhookEvent

__all__ = [
    "SEARCH_IDS_INLINE", "SEARCH_VECTOR", "VERDICT_VALUE", "AnyOf", "ApiToken", "Company", "CompanyEmbedding",
    "CompanyEmbeddingQuerySet", "CompanyNote", "CompanyQuerySet", "CompanyWords", "CountryName", "CrmRecord", "CurrentVerdict", "FIRST_PROFILE_ID", "EncoderState", "FitDistribution", "ImportedCompany", "ImportJob", "ImportState", "Label", "LabelQuerySet", "LabelSource", "MapLayout", "MapPoint",
    "MapPointQuerySet", "MatchedBy", "Outcome", "OutcomeBand", "OutcomeImport", "OutcomeSettings", "PendingScoreChange", "Profile", "ProfileAccess", "ProfileChoice", "QualitySnapshot", "ReviewDecision", "SavedView", "SavedViewVisit", "Score", "ScoreChange",
    "ScoreSnapshot", "ScoringState", "Stage", "UploadedTable", "Verdict", "WebhookDelivery", "WebhookEndpoint", "WebhookEvent",
    "current_vector_exists", "search_query",
]  # fmt: skip

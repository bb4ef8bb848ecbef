"""The embedded runbook index: BM25 over a Kubernetes-aware analyzer, no server needed.

Scoring, per query:

1. A *meta* BM25 index holds one document per runbook (id, title, categories, keywords,
   symptoms); a *section* BM25 index holds one document per ``##`` section. A runbook's text
   score is ``META_WEIGHT * meta + best section + SECTION_SPREAD * other sections`` — the
   fields a runbook author curates count more than prose, and the best section is reported.
2. The text score is squashed to ``[0, 1)`` relative to the query's best runbook:
   ``raw / (max_raw + SATURATION)`` (a strong top match scores near 1, a weak one stays low).
3. With the ``embeddings`` extra, the best section's cosine similarity is mixed in.
4. With classifier categories, :func:`runbooks.scoring.blend` adds their weights.

The built index is persisted under ``cache_dir/<key>/`` where the key hashes every runbook's
content, the analyzer version and the encoder, so it is rebuilt only when one of them changes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Literal

import bm25s
import numpy as np
import numpy.typing as npt

from runbooks import analyzer
from runbooks.dense import Encoder, load_encoder
from runbooks.library import Runbook, corpus_hash, load_runbooks
from runbooks.scoring import CATEGORY_BOOST, RunbookHit, normalise_categories

log = logging.getLogger(__name__)

META_WEIGHT = 1.5
SECTION_SPREAD = 0.15
SATURATION = 4.0
DENSE_WEIGHT = 0.35
UNINDEXED_SECTIONS = frozenset({"references"})
"""Sections kept for display but not searched: links add noise, not meaning."""
_CACHE_KEEP = 8
_MANIFEST = "manifest.json"

FloatArray = npt.NDArray[np.float32]


def meta_text(runbook: Runbook) -> str:
    return "\n".join([runbook.id, runbook.title, *runbook.categories, *runbook.keywords, *runbook.symptoms])


def section_chunks(runbook: Runbook) -> list[tuple[str, str]]:
    """(heading, text) pairs searched for this runbook; never empty."""
    chunks = [
        (heading, f"{heading}\n{text}")
        for heading, text in runbook.sections.items()
        if heading.lower() not in UNINDEXED_SECTIONS and text.strip()
    ]
    return chunks or [("Overview", runbook.title)]


def _bm25(corpus_tokens: list[list[str]]) -> bm25s.BM25:
    model = bm25s.BM25(k1=1.2, b=0.75)
    model.index(corpus_tokens, show_progress=False)
    return model


class EmbeddedIndex:
    """Hybrid BM25 (+ optional dense) runbook search held in memory, persisted on disk."""

    def __init__(
        self,
        runbooks: Sequence[Runbook],
        cache_dir: Path | str | None = None,
        encoder: Encoder | Literal["auto"] | None = "auto",
    ) -> None:
        started = time.perf_counter()
        self._runbooks: list[Runbook] = sorted(runbooks, key=lambda runbook: runbook.id)
        self._by_id = {runbook.id: position for position, runbook in enumerate(self._runbooks)}
        self._encoder: Encoder | None = load_encoder() if encoder == "auto" else encoder
        self._chunk_headings: list[str] = []
        chunk_owner: list[int] = []
        chunk_texts: list[str] = []
        for position, runbook in enumerate(self._runbooks):
            for heading, text in section_chunks(runbook):
                self._chunk_headings.append(heading)
                chunk_owner.append(position)
                chunk_texts.append(text)
        self._chunk_owner = np.asarray(chunk_owner, dtype=np.int64)
        # chunks are grouped by owner, so each runbook's chunks are one contiguous slice
        self._chunk_starts = np.searchsorted(self._chunk_owner, np.arange(len(self._runbooks)))
        self._category_members: dict[str, list[int]] = {}
        for position, runbook in enumerate(self._runbooks):
            for label in {runbook.id, *(category.lower() for category in runbook.categories)}:
                self._category_members.setdefault(label, []).append(position)

        self.key = self._cache_key()
        self.from_cache = False
        self._meta: bm25s.BM25 | None = None
        self._sections: bm25s.BM25 | None = None
        self._dense: FloatArray | None = None
        cache_root = Path(cache_dir) if cache_dir is not None else None
        if self._runbooks:
            if cache_root is not None and self._load(cache_root / self.key):
                self.from_cache = True
            else:
                self._build(chunk_texts)
                if cache_root is not None:
                    self._save(cache_root)
        self.build_seconds = time.perf_counter() - started
        log.info(
            "runbook index ready: %d runbooks, %d sections, %s in %.3fs",
            len(self._runbooks),
            len(self._chunk_headings),
            "loaded from cache" if self.from_cache else "built",
            self.build_seconds,
        )

    # ----- construction -------------------------------------------------------------------------

    @classmethod
    def from_dirs(
        cls,
        dirs: Iterable[Path | str],
        cache_dir: Path | str | None = None,
        encoder: Encoder | Literal["auto"] | None = "auto",
    ) -> EmbeddedIndex:
        """Load every runbook in ``dirs`` (later folders override equal ids) and index them."""
        return cls(load_runbooks(dirs), cache_dir=cache_dir, encoder=encoder)

    def _cache_key(self) -> str:
        encoder_name = self._encoder.name if self._encoder is not None else "none"
        seed = f"{corpus_hash(self._runbooks)}|analyzer={analyzer.ANALYZER_VERSION}|encoder={encoder_name}"
        return hashlib.sha256(seed.encode("utf-8")).hexdigest()[:24]

    def _build(self, chunk_texts: list[str]) -> None:
        self._meta = _bm25([analyzer.analyze(meta_text(runbook)) for runbook in self._runbooks])
        self._sections = _bm25([analyzer.analyze(text) for text in chunk_texts])
        if self._encoder is not None:
            self._dense = self._encoder.encode(chunk_texts)

    def _save(self, cache_root: Path) -> None:
        assert self._meta is not None and self._sections is not None
        cache_root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".building-", dir=cache_root))
        try:
            self._meta.save(str(staging / "meta"), show_progress=False)
            self._sections.save(str(staging / "sections"), show_progress=False)
            if self._dense is not None:
                np.save(staging / "dense.npy", self._dense)
            manifest = {
                "key": self.key,
                "runbooks": [[runbook.id, runbook.content_hash] for runbook in self._runbooks],
                "sections": self._chunk_headings,
            }
            (staging / _MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
            target = cache_root / self.key
            if target.exists():
                shutil.rmtree(target)
            # rename is atomic: a reader sees a whole index or none
            staging.rename(target)
        except OSError as exc:
            log.warning("could not persist the runbook index under %s: %s", cache_root, exc)
            shutil.rmtree(staging, ignore_errors=True)
            return
        self._prune(cache_root)

    def _load(self, folder: Path) -> bool:
        manifest_file = folder / _MANIFEST
        if not manifest_file.is_file():
            return False
        try:
            manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
            if manifest.get("sections") != self._chunk_headings:
                return False
            self._meta = bm25s.BM25.load(str(folder / "meta"), show_progress=False)
            self._sections = bm25s.BM25.load(str(folder / "sections"), show_progress=False)
            if self._encoder is not None:
                self._dense = np.load(folder / "dense.npy")
        except (OSError, ValueError, KeyError) as exc:
            log.warning("persisted runbook index %s is unreadable (%s); rebuilding", folder, exc)
            return False
        folder.touch()
        return True

    @staticmethod
    def _prune(cache_root: Path) -> None:
        """Keep the few most recently used persisted indexes (several runbook sets may share a data dir)."""
        entries = sorted(
            (entry for entry in cache_root.iterdir() if entry.is_dir() and not entry.name.startswith(".")),
            key=lambda entry: entry.stat().st_mtime,
            reverse=True,
        )
        for stale in entries[_CACHE_KEEP:]:
            shutil.rmtree(stale, ignore_errors=True)

    # ----- the RunbookIndex protocol ------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """True once at least one runbook is indexed."""
        return bool(self._runbooks) and self._meta is not None

    def __len__(self) -> int:
        return len(self._runbooks)

    @property
    def sections(self) -> int:
        """How many sections are searched (the unit a hit's ``section`` names)."""
        return len(self._chunk_headings)

    def ids(self) -> list[str]:
        """Every indexed runbook id, sorted."""
        return [runbook.id for runbook in self._runbooks]

    def get(self, runbook_id: str) -> Runbook | None:
        """The runbook with this id (title, sections, path), or None."""
        position = self._by_id.get(runbook_id)
        return None if position is None else self._runbooks[position]

    def close(self) -> None:
        """Nothing to release; present so callers can treat every index alike."""

    def search(
        self, query: str, top_k: int = 3, categories: Mapping[str, float] | None = None
    ) -> list[RunbookHit]:
        """Best ``top_k`` runbooks for ``query``, optionally boosted by classifier ``categories``."""
        if top_k <= 0 or not self.ready:
            return []
        text, chunk_rank = self._text_scores(query)
        wanted = normalise_categories(categories)
        scores = text
        if wanted:
            boost = np.zeros(len(self._runbooks), dtype=np.float32)
            for label, weight in wanted.items():
                members = self._category_members.get(label)
                if members:
                    boost[members] = np.maximum(boost[members], weight)
            scores = ((text + CATEGORY_BOOST * boost) / (1.0 + CATEGORY_BOOST)).astype(np.float32)
        return self._top(scores, chunk_rank, top_k)

    # ----- scoring ------------------------------------------------------------------------------

    @staticmethod
    def _token_ids(model: bm25s.BM25, tokens: list[str]) -> list[int]:
        vocab: dict[str, int] = model.vocab_dict
        return [vocab[token] for token in tokens if token in vocab]

    def _text_scores(self, query: str) -> tuple[FloatArray, FloatArray]:
        """Per-runbook text relevance in [0, 1), and a per-chunk rank used to pick the best section."""
        assert self._meta is not None and self._sections is not None
        count = len(self._runbooks)
        tokens = analyzer.analyze_query(query)
        meta_ids = self._token_ids(self._meta, tokens)
        section_ids = self._token_ids(self._sections, tokens)
        meta = self._meta.get_scores_from_ids(meta_ids) if meta_ids else np.zeros(count, np.float32)
        chunk_scores = (
            self._sections.get_scores_from_ids(section_ids)
            if section_ids
            else np.zeros(len(self._chunk_owner), np.float32)
        )
        best_section = np.maximum.reduceat(chunk_scores, self._chunk_starts)
        section_sum = np.add.reduceat(chunk_scores, self._chunk_starts)
        raw = META_WEIGHT * meta + best_section + SECTION_SPREAD * (section_sum - best_section)
        top = float(raw.max())
        text = (raw / (top + SATURATION)).astype(np.float32) if top > 0 else np.zeros(count, np.float32)
        chunk_rank = chunk_scores
        if self._encoder is not None and self._dense is not None and query.strip():
            similarity = self._dense @ self._encoder.encode([query])[0]
            best_dense = np.maximum.reduceat(similarity, self._chunk_starts)
            text = ((1 - DENSE_WEIGHT) * text + DENSE_WEIGHT * np.clip(best_dense, 0, 1)).astype(np.float32)
            chunk_rank = (
                chunk_scores / (float(chunk_scores.max()) or 1.0) + np.clip(similarity, 0, 1)
            ).astype(np.float32)
        return text, chunk_rank

    def _best_section(self, position: int, chunk_rank: FloatArray) -> str | None:
        """Heading of the runbook's highest-ranked section; None when no section matched at all."""
        start = int(self._chunk_starts[position])
        end = int(self._chunk_starts[position + 1]) if position + 1 < len(self._runbooks) else len(chunk_rank)
        offset = int(np.argmax(chunk_rank[start:end]))
        if chunk_rank[start + offset] <= 0:
            return None
        return self._chunk_headings[start + offset]

    def _top(self, scores: FloatArray, chunk_rank: FloatArray, top_k: int) -> list[RunbookHit]:
        candidates = np.flatnonzero(scores > 0)
        if candidates.size > top_k:
            part = np.argpartition(-scores[candidates], top_k - 1)[:top_k]
            candidates = candidates[part]
        # ties break on id so results are stable across runs
        ordered = sorted(candidates.tolist(), key=lambda i: (-float(scores[i]), self._runbooks[i].id))
        return [
            RunbookHit(
                id=self._runbooks[position].id,
                title=self._runbooks[position].title,
                score=round(float(scores[position]), 6),
                section=self._best_section(position, chunk_rank),
                path=self._runbooks[position].path,
                categories=list(self._runbooks[position].categories),
            )
            for position in ordered
        ]

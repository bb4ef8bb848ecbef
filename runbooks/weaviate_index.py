"""Runbook search on Weaviate (weaviate-client v4 collections), for large shared libraries.

Selected by ``WEAVIATE_URL`` (+ ``WEAVIATE_API_KEY``). Each runbook section is one object in the
``IdpRunbookSection`` collection, with:

* ``meta_text`` / ``search_text``: the runbook's curated fields and the section text run through
  :mod:`runbooks.analyzer` (CamelCase split, synonyms), so Weaviate's BM25 sees the same tokens
  as the embedded index; ``meta_text`` is boosted like the embedded index's meta field;
* a vector from the ``embeddings`` extra when it is installed, otherwise whatever vectorizer the
  collection was created with on the server (none: keyword search only).

Ingestion is idempotent: an object's uuid is a uuid5 of (runbook id, section, content hash,
analyzer version, encoder), so re-ingesting unchanged runbooks writes nothing and a changed runbook
replaces only its own objects. Ranking, category boosts and the result shape match
:class:`runbooks.embedded.EmbeddedIndex`. No Weaviate server runs in CI; the contract suite in
``tests/test_runbook_index.py`` runs against a real one when ``WEAVIATE_URL`` is set.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from runbooks import analyzer
from runbooks.dense import Encoder, load_encoder
from runbooks.embedded import meta_text, section_chunks
from runbooks.library import Runbook, load_runbooks
from runbooks.scoring import CATEGORY_BOOST, RunbookHit, category_weight, normalise_categories

if TYPE_CHECKING:
    from weaviate import WeaviateClient

    from idp.settings import Settings

log = logging.getLogger(__name__)

COLLECTION = "IdpRunbookSection"
DEFAULT_GRPC_PORT = 50051
_CLOUD_SUFFIXES = (".weaviate.cloud", ".weaviate.network", ".wcs.api.weaviate.io")
_RETURNED = ["runbook_id", "heading"]


def connect(url: str, api_key: str | None, timeout_s: float = 10.0) -> WeaviateClient:
    """Open a v4 client for ``url`` (Weaviate Cloud, a local server, or any custom host).

    gRPC is assumed on the same host, port 50051 (Weaviate's default), secured like HTTP.
    """
    import weaviate
    from weaviate.classes.init import AdditionalConfig, Auth, Timeout

    parts = urlsplit(url if "://" in url else f"http://{url}")
    host = parts.hostname or "localhost"
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 8080)
    auth = Auth.api_key(api_key) if api_key else None
    extra = AdditionalConfig(timeout=Timeout(init=timeout_s, query=timeout_s, insert=max(timeout_s, 30.0)))
    if host.endswith(_CLOUD_SUFFIXES):
        if auth is None:
            raise ValueError("Weaviate Cloud needs WEAVIATE_API_KEY")
        return weaviate.connect_to_weaviate_cloud(url, auth_credentials=auth, additional_config=extra)
    if host in {"localhost", "127.0.0.1"} and not secure:
        return weaviate.connect_to_local(
            host=host, port=port, grpc_port=DEFAULT_GRPC_PORT, auth_credentials=auth, additional_config=extra
        )
    return weaviate.connect_to_custom(
        http_host=host,
        http_port=port,
        http_secure=secure,
        grpc_host=host,
        grpc_port=DEFAULT_GRPC_PORT,
        grpc_secure=secure,
        auth_credentials=auth,
        additional_config=extra,
    )


def object_uuid(runbook: Runbook, heading: str, encoder_name: str = "none") -> str:
    """Deterministic id of one section object: unchanged content (and encoder) maps to the same uuid."""
    from weaviate.util import generate_uuid5

    seed = f"{runbook.id}|{heading}|{runbook.content_hash}|{analyzer.ANALYZER_VERSION}|{encoder_name}"
    return str(generate_uuid5(seed))


def _server_vectorizes(config: Any) -> bool:
    """True when the collection was created with a server-side vectorizer (not self-provided)."""
    named = getattr(config, "vector_config", None) or {}
    for vector in named.values():
        name = str(getattr(getattr(vector, "vectorizer", None), "vectorizer", "none")).lower()
        if not name.endswith("none"):
            return True
    legacy = str(getattr(config, "vectorizer", "none") or "none").lower()
    return not legacy.endswith("none")


class WeaviateIndex:
    """Hybrid (BM25 + vector) runbook search on a Weaviate collection; same contract as EmbeddedIndex."""

    def __init__(
        self,
        client: WeaviateClient,
        runbooks: Sequence[Runbook],
        alpha: float = 0.5,
        encoder: Encoder | Literal["auto"] | None = "auto",
        collection: str = COLLECTION,
    ) -> None:
        self._client = client
        self._alpha = alpha
        self._encoder: Encoder | None = load_encoder() if encoder == "auto" else encoder
        self._runbooks = sorted(runbooks, key=lambda runbook: runbook.id)
        self._by_id = {runbook.id: runbook for runbook in self._runbooks}
        self._collection = self._ensure_collection(collection)
        self._server_vectorizer = _server_vectorizes(self._collection.config.get())
        self.written, self.removed = self.ingest(self._runbooks)
        self._ready = client.is_ready()

    @classmethod
    def from_settings(cls, settings: Settings, dirs: Iterable[Path | str]) -> WeaviateIndex:
        """Connect with ``WEAVIATE_URL`` / ``WEAVIATE_API_KEY`` and ingest the runbooks in ``dirs``."""
        if not settings.weaviate_url:
            raise ValueError("WEAVIATE_URL is not set")
        api_key = settings.weaviate_api_key.get_secret_value() if settings.weaviate_api_key else None
        client = connect(settings.weaviate_url, api_key, timeout_s=settings.api_timeout_s * 2)
        try:
            return cls(client, load_runbooks(dirs), alpha=settings.weaviate_alpha)
        except Exception:
            # the index owns the client only once constructed; do not leak the connection
            client.close()
            raise

    # ----- schema and ingestion -----------------------------------------------------------------

    def _ensure_collection(self, name: str) -> Any:
        from weaviate.classes.config import Configure, DataType, Property, Tokenization

        if self._client.collections.exists(name):
            return self._client.collections.use(name)
        return self._client.collections.create(
            name,
            description="idp-agent runbook sections (one object per ## section)",
            vector_config=Configure.Vectors.self_provided(),
            properties=[
                Property(
                    name="runbook_id",
                    data_type=DataType.TEXT,
                    tokenization=Tokenization.FIELD,
                    skip_vectorization=True,
                ),
                Property(
                    name="content_hash",
                    data_type=DataType.TEXT,
                    tokenization=Tokenization.FIELD,
                    skip_vectorization=True,
                ),
                Property(
                    name="heading",
                    data_type=DataType.TEXT,
                    tokenization=Tokenization.FIELD,
                    skip_vectorization=True,
                ),
                Property(
                    name="categories",
                    data_type=DataType.TEXT_ARRAY,
                    tokenization=Tokenization.FIELD,
                    skip_vectorization=True,
                ),
                Property(name="title", data_type=DataType.TEXT),
                Property(name="body", data_type=DataType.TEXT, skip_vectorization=True),
                # analyzer output is already tokens: whitespace keeps them intact
                Property(name="meta_text", data_type=DataType.TEXT, tokenization=Tokenization.WHITESPACE),
                Property(name="search_text", data_type=DataType.TEXT, tokenization=Tokenization.WHITESPACE),
            ],
        )

    def ingest(self, runbooks: Sequence[Runbook]) -> tuple[int, int]:
        """Make the collection hold exactly these runbooks' sections; returns (written, removed)."""
        from weaviate.classes.query import Filter

        encoder_name = self._encoder.name if self._encoder is not None else "none"
        wanted: dict[str, tuple[Runbook, str, str]] = {}
        for runbook in runbooks:
            for heading, text in section_chunks(runbook):
                wanted[object_uuid(runbook, heading, encoder_name)] = (runbook, heading, text)
        existing = {str(item.uuid) for item in self._collection.iterator(return_properties=[])}
        missing = [uuid for uuid in wanted if uuid not in existing]
        stale = [uuid for uuid in existing if uuid not in wanted]
        vectors = (
            self._encoder.encode([wanted[uuid][2] for uuid in missing])
            if self._encoder is not None and missing
            else None
        )
        with self._collection.batch.fixed_size(batch_size=100) as batch:
            for position, uuid in enumerate(missing):
                runbook, heading, text = wanted[uuid]
                batch.add_object(
                    properties={
                        "runbook_id": runbook.id,
                        "content_hash": runbook.content_hash,
                        "heading": heading,
                        "categories": list(runbook.categories),
                        "title": runbook.title,
                        "body": text,
                        "meta_text": analyzer.expanded_text(meta_text(runbook)),
                        "search_text": analyzer.expanded_text(text),
                    },
                    uuid=uuid,
                    vector=vectors[position].tolist() if vectors is not None else None,
                )
        failed = self._collection.batch.failed_objects
        if failed:
            raise RuntimeError(f"Weaviate rejected {len(failed)} runbook objects: {failed[0].message}")
        if stale:
            self._collection.data.delete_many(where=Filter.by_id().contains_any(stale))
        log.info(
            "weaviate runbook ingestion: %d written, %d removed, %d kept",
            len(missing),
            len(stale),
            len(wanted) - len(missing),
        )
        return len(missing), len(stale)

    # ----- the RunbookIndex protocol ------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """True when the server answered and the runbooks are ingested."""
        return self._ready and bool(self._runbooks)

    def __len__(self) -> int:
        return len(self._runbooks)

    def ids(self) -> list[str]:
        """Every ingested runbook id, sorted."""
        return [runbook.id for runbook in self._runbooks]

    def get(self, runbook_id: str) -> Runbook | None:
        """The runbook with this id, from the folders that were ingested."""
        return self._by_id.get(runbook_id)

    def close(self) -> None:
        """Close the connection to Weaviate."""
        self._client.close()

    def search(
        self, query: str, top_k: int = 3, categories: Mapping[str, float] | None = None
    ) -> list[RunbookHit]:
        """Best ``top_k`` runbooks: hybrid BM25 + vector in Weaviate, then category boosts here."""
        if top_k <= 0 or not self._runbooks:
            return []
        text_scores, sections = self._text_scores(query, limit=max(top_k * 8, 24))
        wanted = normalise_categories(categories)
        scored: dict[str, float] = {}
        for runbook in self._runbooks:
            text = text_scores.get(runbook.id, 0.0)
            boost = category_weight(runbook.categories, runbook.id, wanted) if wanted else 0.0
            score = (text + CATEGORY_BOOST * boost) / (1.0 + CATEGORY_BOOST) if wanted else text
            if score > 0:
                scored[runbook.id] = score
        ordered = sorted(scored, key=lambda runbook_id: (-scored[runbook_id], runbook_id))[:top_k]
        return [
            RunbookHit(
                id=runbook_id,
                title=self._by_id[runbook_id].title,
                score=round(scored[runbook_id], 6),
                section=sections.get(runbook_id),
                path=self._by_id[runbook_id].path,
                categories=list(self._by_id[runbook_id].categories),
            )
            for runbook_id in ordered
        ]

    def _text_scores(self, query: str, limit: int) -> tuple[dict[str, float], dict[str, str]]:
        """Best section score per runbook (already in [0, 1] from relative-score fusion) and its heading."""
        from weaviate.classes.query import HybridFusion, MetadataQuery

        expanded = analyzer.expanded_text(query)
        if not expanded:
            return {}, {}
        properties = ["meta_text^2", "search_text"]
        metadata = MetadataQuery(score=True)
        if self._encoder is not None or self._server_vectorizer:
            vector = self._encoder.encode([query])[0].tolist() if self._encoder is not None else None
            response = self._collection.query.hybrid(
                query=expanded,
                alpha=self._alpha,
                vector=vector,
                query_properties=properties,
                fusion_type=HybridFusion.RELATIVE_SCORE,
                limit=limit,
                return_metadata=metadata,
                return_properties=_RETURNED,
            )
        else:
            response = self._collection.query.bm25(
                query=expanded,
                query_properties=properties,
                limit=limit,
                return_metadata=metadata,
                return_properties=_RETURNED,
            )
        raw: dict[str, float] = {}
        sections: dict[str, str] = {}
        for item in response.objects:
            runbook_id = str(item.properties["runbook_id"])
            score = float(item.metadata.score or 0.0)
            if runbook_id in self._by_id and score > raw.get(runbook_id, 0.0):
                raw[runbook_id] = score
                sections[runbook_id] = str(item.properties["heading"])
        top = max(raw.values(), default=0.0)
        # BM25 scores are unbounded; squash like the embedded index so scores mean the same thing
        scale = top if (self._encoder is not None or self._server_vectorizer) and top <= 1.0 else top + 4.0
        return ({key: value / scale for key, value in raw.items()} if scale > 0 else {}), sections

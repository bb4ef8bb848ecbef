"""The runbook index interface the graph's retrieve node and the service call.

``build_index(settings)`` picks the backend: Weaviate when ``WEAVIATE_URL`` is set (hybrid
BM25 + vector at scale), the embedded BM25 index otherwise (no server, persisted under
``IDP_DATA_DIR/runbook-index``). Both return :class:`RunbookHit` lists with the same meaning.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from runbooks.embedded import EmbeddedIndex
from runbooks.library import Runbook, library_dirs
from runbooks.scoring import RunbookHit

if TYPE_CHECKING:
    from idp.settings import Settings

__all__ = ["EmbeddedIndex", "Runbook", "RunbookHit", "RunbookIndex", "build_index", "cache_dir_for"]

INDEX_FOLDER = "runbook-index"


@runtime_checkable
class RunbookIndex(Protocol):
    """What every runbook index offers."""

    @property
    def ready(self) -> bool:
        """True when the index can answer searches."""
        ...

    def search(
        self, query: str, top_k: int = 3, categories: Mapping[str, float] | None = None
    ) -> list[RunbookHit]:
        """Best ``top_k`` runbooks for ``query``, best first; ``categories`` maps taxonomy labels
        hypothesised by the classifier to weights in [0, 1] that boost the runbooks covering them."""
        ...

    def __len__(self) -> int: ...

    def ids(self) -> list[str]:
        """Every indexed runbook id."""
        ...

    def get(self, runbook_id: str) -> Runbook | None:
        """The full runbook (title and section texts) for ``runbook_id``, or None."""
        ...


def cache_dir_for(settings: Settings) -> str:
    """Where the embedded index persists itself."""
    return str(settings.data_dir / INDEX_FOLDER)


def build_index(settings: Settings) -> RunbookIndex:
    """Weaviate when ``settings.weaviate_url`` is set, the embedded index otherwise.

    The caller owns the result; call its ``close()`` when done (a no-op for the embedded index,
    it closes the Weaviate connection).
    """
    dirs = library_dirs(settings.runbooks_dirs)
    if settings.weaviate_url:
        from runbooks.weaviate_index import WeaviateIndex

        return WeaviateIndex.from_settings(settings, dirs)
    return EmbeddedIndex.from_dirs(dirs, cache_dir=cache_dir_for(settings))

"""The chat-model factory (the model issue fills in providers); ``none`` means deterministic analyzers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from idp.settings import Settings


def build_model(settings: Settings) -> Any | None:
    """A chat model chosen by settings, or None for the deterministic path."""
    _ = settings
    return None

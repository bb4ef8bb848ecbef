"""The chat-model factory: ``gemini``, ``ollama`` or ``none`` (the deterministic analyzers), by settings.

Nothing here runs at import time; provider packages are imported only when chosen, so a
deployment without a model never loads them. :func:`json_model` binds a model to answer JSON
against a schema in the provider's own way, so the graph can stream tokens and still parse
and validate the answer itself (one repair try, then the rules floor).
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from langchain_core.exceptions import ModelConnectionError, ModelRateLimitError, ModelTimeoutError
from pydantic import BaseModel, ValidationError

from graph.compaction import estimate_tokens
from idp.settings import LLMProvider

if TYPE_CHECKING:
    from idp.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)


class ModelConfigError(ValueError):
    """The settings ask for a provider that cannot be built here (package missing, no key)."""


def build_model(settings: Settings) -> Any | None:
    """A chat model chosen by settings, or None for the deterministic path.

    ``auto`` is Gemini when ``GOOGLE_API_KEY`` is set, else none. Asking for a provider that
    cannot be built raises :class:`ModelConfigError` at start-up rather than failing every run.
    """
    provider = settings.resolved_llm_provider()
    if provider is LLMProvider.GEMINI:
        return _gemini(settings)
    if provider is LLMProvider.OLLAMA:
        return _ollama(settings)
    return None


def describe_model(settings: Settings) -> str:
    """One line for start-up logs: which provider and model diagnoses use, or why none."""
    provider = settings.resolved_llm_provider()
    if provider is LLMProvider.NONE:
        why = "IDP_LLM_PROVIDER=none" if settings.llm_provider is LLMProvider.NONE else "no GOOGLE_API_KEY"
        return f"none: deterministic analyzers only ({why})"
    if provider is LLMProvider.GEMINI:
        where = f" via {settings.gemini_base_url}" if settings.gemini_base_url else ""
        return f"gemini:{settings.gemini_model}{where}"
    return f"ollama:{settings.ollama_model} at {settings.ollama_base_url}"


def _gemini(settings: Settings) -> Any:
    if settings.google_api_key is None:
        raise ModelConfigError("IDP_LLM_PROVIDER=gemini needs GOOGLE_API_KEY")
    from langchain_google_genai import ChatGoogleGenerativeAI

    kwargs: dict[str, Any] = {}
    if settings.gemini_base_url:
        # Corporate gateways and proxies (and the loopback stand-in) speak the same REST API.
        kwargs["base_url"] = settings.gemini_base_url
    return ChatGoogleGenerativeAI(
        model=settings.gemini_model,
        google_api_key=settings.google_api_key,
        timeout=settings.llm_timeout_s,
        # google-genai counts attempts, the first one included.
        max_retries=settings.llm_max_retries + 1,
        # Diagnoses should be repeatable: the same evidence, the same answer.
        temperature=0.0,
        **kwargs,
    )


def _ollama(settings: Settings) -> Any:
    try:
        from langchain_ollama import ChatOllama
    except ImportError as exc:
        raise ModelConfigError(
            "IDP_LLM_PROVIDER=ollama needs the 'ollama' extra: pip install 'idp-agent[ollama]'"
        ) from exc
    return ChatOllama(
        model=settings.ollama_model,
        base_url=settings.ollama_base_url,
        temperature=0.0,
        client_kwargs={"timeout": settings.llm_timeout_s},
    )


def json_model(model: Any, schema: dict[str, Any]) -> Any:
    """``model`` bound to answer JSON matching ``schema``, in the provider's native way.

    Other chat models (test fakes, unknown providers) are returned as they are: the prompt
    asks for JSON and the caller validates what comes back.
    """
    name = type(model).__name__
    if name == "ChatGoogleGenerativeAI":
        return model.bind(response_mime_type="application/json", response_json_schema=schema)
    if name == "ChatOllama":
        return model.bind(format=schema)
    return model


# --- calling a model: prompts from files, streamed JSON, validation, one repair, typed failures ---

PROMPTS = Path(__file__).parent / "prompts"


@dataclass(frozen=True)
class Limits:
    """Per-diagnosis bounds on model use (from settings; defaults when a run has none)."""

    timeout_s: float = 20.0
    input_budget_tokens: int = 6000
    max_calls: int = 3

    @classmethod
    def of(cls, settings: Settings | None) -> Limits:
        if settings is None:
            return cls()
        return cls(settings.llm_timeout_s, settings.llm_input_budget_tokens, settings.llm_max_calls)


@lru_cache(maxsize=16)
def load_prompt(name: str) -> Template:
    """``graph/prompts/<name>.md`` as a ``${field}`` template (JSON braces in prompts stay literal)."""
    return Template((PROMPTS / f"{name}.md").read_text(encoding="utf-8"))


@dataclass
class ModelAnswer(Generic[T]):
    """What one step got from the model: the parsed answer, or why there is none."""

    value: T | None
    calls: int
    """Model calls made (a repair try is a second call)."""
    failure: str | None = None
    input_tokens: list[int] = field(default_factory=list)
    """Estimated input tokens of each call."""


class ModelTimeout(TimeoutError):
    """The model's answer did not finish within the configured timeout."""


def ask_json(
    model: Any,
    schema: type[T],
    system: str,
    user: str,
    *,
    limits: Limits,
    calls_left: int,
    run_name: str,
    metadata: dict[str, Any] | None = None,
) -> ModelAnswer[T]:
    """Stream the model's JSON answer for ``schema``, parse and validate it; repair once if invalid.

    Never raises for a model failure: errors, timeouts, 429s and invalid answers come back as
    ``failure`` (a sentence for ``missing_data``), so the caller falls back to the rules.
    """
    from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

    bound = json_model(model, schema.model_json_schema())
    messages: list[BaseMessage] = [SystemMessage(system), HumanMessage(user)]
    answer: ModelAnswer[T] = ModelAnswer(value=None, calls=0)
    while answer.calls < calls_left:
        answer.calls += 1
        answer.input_tokens.append(sum(estimate_tokens(str(m.content)) for m in messages))
        try:
            text = _stream_text(bound, messages, limits.timeout_s, run_name, metadata or {})
        except Exception as exc:  # noqa: BLE001 - any provider failure means "use the rules", by design
            answer.failure = describe_failure(exc, limits.timeout_s)
            log.warning("%s: model call failed: %s", run_name, answer.failure)
            return answer
        try:
            answer.value = schema.model_validate(parse_json(text))
            answer.failure = None
            return answer
        except (ValueError, ValidationError) as exc:
            problem = _short_problem(exc)
            answer.failure = f"the model's answer was not valid ({problem})"
            log.warning("%s: invalid model answer: %s", run_name, problem)
            messages += [
                AIMessage(text[:4000]),
                HumanMessage(load_prompt("repair").substitute(error=problem)),
            ]
    if answer.failure is None:
        answer.failure = "no model calls left for this diagnosis"
    elif answer.calls > 1:
        answer.failure += " and the repair try failed too"
    return answer


def _stream_text(
    model: Any, messages: list[Any], timeout_s: float, run_name: str, metadata: dict[str, Any]
) -> str:
    """The model's answer, streamed so that ``stream_events`` sees each token as it forms."""
    deadline = time.monotonic() + timeout_s
    parts: list[str] = []
    config = {"run_name": run_name, "metadata": metadata, "tags": ["idp-model"]}
    for chunk in model.stream(messages, config=config):
        content = chunk.content
        parts.append(content if isinstance(content, str) else _text_of(content))
        # The client's timeout bounds each read; this bounds an answer that trickles in.
        if time.monotonic() > deadline:
            raise ModelTimeout(f"answer still streaming after {timeout_s:g} s")
    return "".join(parts)


def _text_of(content: list[Any]) -> str:
    return "".join(str(part.get("text", "")) if isinstance(part, dict) else str(part) for part in content)


_CODE_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def parse_json(text: str) -> Any:
    """The JSON object in ``text`` (models sometimes wrap it in a Markdown code fence)."""
    match = _CODE_FENCE.match(text)
    if match:
        text = match.group(1)
    if not text.strip():
        raise ValueError("empty answer")
    return json.loads(text)


def _short_problem(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        errors = exc.errors()
        first = errors[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "answer"
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        return f"{where}: {first.get('msg')}{more}"
    if isinstance(exc, json.JSONDecodeError):
        return f"not JSON: {exc.msg} at char {exc.pos}"
    return str(exc)[:200]


def describe_failure(exc: BaseException, timeout_s: float) -> str:
    """A sentence for missing_data: what went wrong with the model call, without the payload."""
    name = type(exc).__name__
    text = str(exc)
    if isinstance(exc, ModelRateLimitError) or "RESOURCE_EXHAUSTED" in text or " 429" in f" {text}":
        return "the model refused the call: quota or rate limit (429)"
    if isinstance(exc, TimeoutError | ModelTimeoutError) or "timeout" in name.lower() or "timed out" in text:
        return f"the model did not answer within {timeout_s:g} s"
    if isinstance(exc, ModelConnectionError) or "connect" in name.lower():
        return f"the model could not be reached ({name})"
    return f"the model call failed: {name}: {text[:160]}"

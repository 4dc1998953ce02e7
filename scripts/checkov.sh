#!/usr/bin/env bash
# Static checks with checkov over the Dockerfile and the GitHub workflows
# (INVARIANTS B16, B17). Exits non-zero on any failed check.
#
# checkov pins its own boto3/botocore, which conflict with the project's, so it
# never goes into .venv: `uv tool run` gives the pinned version its own cached,
# isolated environment.
#
# A finding may only be suppressed in place, next to the code it is about,
# with a written reason:
#   # checkov:skip=CKV_DOCKER_2: the reason, in words
# A skip comment without a reason fails this script.
set -euo pipefail
cd "$(dirname "$0")/.."

CHECKOV_VERSION="3.3.30"

fail() { printf 'checkov.sh: %s\n' "$*" >&2; exit 1; }

command -v uv >/dev/null || fail "uv is not on PATH (install it: python3 -m pip install uv)"

# What is scanned. The Dockerfile and both workflows are part of the
# repository's contract (docs/ci-cd.md); a missing one is an error, not a skip.
targets=(Dockerfile .github/workflows/ci.yml .github/workflows/deploy.yml)
# Any further workflow added later is scanned as well.
shopt -s nullglob
for wf in .github/workflows/*.yml .github/workflows/*.yaml; do
  case " ${targets[*]} " in *" $wf "*) ;; *) targets+=("$wf") ;; esac
done
shopt -u nullglob
for target in "${targets[@]}"; do
  [ -f "$target" ] || fail "$target not found: it must exist and be scanned"
done

# Every in-place suppression must carry a reason after the check id.
bad_skips=$(grep -nE 'checkov:skip=' "${targets[@]}" | grep -vE 'checkov:skip=[A-Z0-9_]+ *: *[^ ].{9,}' || true)
if [ -n "$bad_skips" ]; then
  printf '%s\n' "$bad_skips" >&2
  fail "checkov:skip without a written reason (use '# checkov:skip=<ID>: <why it does not apply>')"
fi

echo "checkov ${CHECKOV_VERSION}: scanning ${targets[*]}"
args=()
for target in "${targets[@]}"; do args+=(--file "$target"); done
# --skip-download: no network calls to Prisma Cloud (no API key is used);
# checks and suppressions are all local.
if uv tool run --from "checkov==${CHECKOV_VERSION}" checkov \
  --framework dockerfile github_actions \
  --skip-download --compact --quiet \
  "${args[@]}"; then
  echo "checkov: no unsuppressed findings"
else
  fail "checkov reported findings (fix them, or suppress in place with a written reason)"
fi

#!/usr/bin/env bash
# `buf breaking` for protos/ (run by `make lint`): the contract against its last release.
#
# The baseline is the newest release tag (v<major>.<minor>.<patch>, `git tag --sort=-v:refname`), or
# CONTRACT_BASELINE=<git ref> to compare against something else. A breaking change against a release
# fails. Before the first release (no tag yet) v1 may still change incompatibly (CHANGELOG, "Changed
# (breaking, before any bank depends on v1)"): the script then compares against the merge-base with
# main and only reports, so a branch's breaking changes are visible in review and in the CHANGELOG.
# Releasing (docs/operations.md, "Releases"): tag the release commit `git tag v0.1.0`; from then on a
# breaking change fails `make lint` until the next major version's package (tanxiao.*.v2) takes it.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUF=${BUF:-.tools/node_modules/.bin/buf}

strict=true
baseline=${CONTRACT_BASELINE:-$(git tag --list 'v[0-9]*' --sort=-v:refname | head -n1)}
if [ -z "$baseline" ]; then
  strict=false
  main=$(git rev-parse --verify --quiet main || git rev-parse --verify --quiet origin/main || true)
  baseline=$( [ -n "$main" ] && git merge-base HEAD "$main" || git rev-parse HEAD )
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! git archive "$baseline" protos | tar -x -C "$tmp" 2>/dev/null; then
  echo "buf breaking: $baseline has no protos/; nothing to compare"
  exit 0
fi
if (cd protos && "../$BUF" breaking --against "$tmp/protos"); then
  echo "buf breaking: no breaking change against $baseline"
elif $strict; then
  echo "buf breaking: breaking changes against the release $baseline (see above)" >&2
  exit 1
else
  echo "buf breaking: the changes above break the contract against $baseline; allowed before the first" \
       "release tag (docs/operations.md, \"Contract releases\"): record them in CHANGELOG.md"
fi

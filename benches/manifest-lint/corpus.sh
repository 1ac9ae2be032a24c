#!/usr/bin/env bash
# Gathers the corpus of real public manifests that compare.py reads, from pinned
# commits of public repositories (sources, commits and licences: RESULTS.md).
#
# Usage: benches/manifest-lint/corpus.sh OUT [CLONES]
#   OUT     directory to create (one subdirectory per source repository)
#   CLONES  optional directory holding git clones named OWNER+NAME (or OWNER+NAME/repo);
#           a source missing there is cloned from GitHub (partial clone, blobs on demand).
# Only the listed paths are exported (`git archive`), as they were at the pinned commit.
set -euo pipefail
out=${1:?usage: corpus.sh OUT [CLONES]}
clones=${2:-}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# repo commit licence paths… (directories are exported whole; only *.yaml/*.yml are kept)
SOURCES=(
  "kubernetes/examples 279e8e4fe314f6cb7bc55fa3fbc21bbeaa48c0ea Apache-2.0 ."
  "GoogleCloudPlatform/microservices-demo 34ffea9175946982c3088ed84994fe6019ad6e92 Apache-2.0 kubernetes-manifests release kustomize/components"
  "prometheus-operator/kube-prometheus 4d719f1dea8853540b3823ab1fbe6be74a9953b3 Apache-2.0 manifests"
  "kubernetes/ingress-nginx dbb11b92ddb77bee9c35e462479129354c84f939 Apache-2.0 deploy/static"
  "argoproj/argo-cd 37ee0097cf851bc2dd7665fc081bbce61a7e836e Apache-2.0 manifests/install.yaml manifests/ha/install.yaml manifests/core-install.yaml"
  "istio/istio 86c9f01fd735fb01d8192f5bcaf0d424afb7f14c Apache-2.0 samples"
  "docker/awesome-compose 18f59bdb09ecf520dd5758fbf90dec314baec545 CC0-1.0 ."
)

for s in "${SOURCES[@]}"; do
  read -r repo commit licence paths <<<"$s"
  key=${repo/\//+}
  git_dir=""
  for cand in "$clones/$key/repo" "$clones/$key"; do
    if [ -n "$clones" ] && git -C "$cand" cat-file -e "$commit^{commit}" 2>/dev/null; then
      git_dir=$cand
      break
    fi
  done
  if [ -z "$git_dir" ]; then
    git_dir="$tmp/$key"
    git clone -q --filter=blob:none --no-checkout "https://github.com/$repo" "$git_dir"
  fi
  dest="$out/$key"
  rm -rf "$dest"
  mkdir -p "$dest"
  # shellcheck disable=SC2086
  git -C "$git_dir" archive --format=tar "$commit" -- $paths | tar -x -C "$dest"
  find "$dest" -type f ! -name '*.yaml' ! -name '*.yml' -delete
  find "$dest" -type d -empty -delete
  printf '%s\t%s\t%s\t%s\n' "$repo" "$commit" "$licence" "$(find "$dest" -type f | wc -l) files" | tee -a "$out/SOURCES.tsv"
done

#!/usr/bin/env bash
# Packages this directory as a Resource Manager stack: the zip "Deploy to Oracle Cloud" opens.
# It holds, at the zip's root, exactly what the stack needs: the Terraform files (*.tf, without
# local *override.tf files), schema.yaml (the Create stack page) and cloud-init.yaml (read by
# build.tf). Never tfvars (they hold the URL token), state, .terraform/, the Dockerfile or the
# scripts.
#
# Usage: deploy/package-stack.sh [OUT_ZIP]   (default: dist/galley-deploy-stack.zip)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/../dist/galley-deploy-stack.zip}"
mkdir -p "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"

cd "$here"
files=()
for f in *.tf; do
  case "$f" in
    override.tf | *_override.tf) ;; # Terraform's local overrides stay local
    *) files+=("$f") ;;
  esac
done
[ "${#files[@]}" -gt 0 ] || { echo "no .tf files in $here" >&2; exit 1; }
for f in schema.yaml cloud-init.yaml; do
  [ -f "$f" ] || { echo "$here/$f is missing: the stack needs it" >&2; exit 1; }
  files+=("$f")
done

rm -f "$out"
python3 -m zipfile -c "$out" "${files[@]}"
echo "packaged ${#files[@]} files into $out" >&2

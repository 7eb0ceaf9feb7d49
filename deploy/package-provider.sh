#!/usr/bin/env bash
# Packages a built terraform-provider-galley in the three layouts its users install from:
#   dist/release/  terraform-provider-galley_VERSION_OS_ARCH.zip, _SHA256SUMS, _manifest.json
#                  (what a registry or a network mirror serves)
#   dist/mirror/   registry.terraform.io/galley-dev/galley/terraform-provider-galley_VERSION_OS_ARCH.zip
#                  (a packed filesystem mirror: terraform init -plugin-dir=dist/mirror)
#   dist/rm-bucket/OS_ARCH/terraform-provider-galley_vVERSION
#                  (upload as is to the bucket a Resource Manager stack names in
#                   customTerraformProvider)
# Usage: deploy/package-provider.sh [BINARY] [OUT_DIR]   (defaults: target/release binary, dist)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${1:-${CARGO_TARGET_DIR:-$root/target}/release/terraform-provider-galley}"
out="${2:-$root/dist}"
[ -x "$bin" ] || { echo "no provider binary at $bin: run cargo build --release -p terraform-provider-galley" >&2; exit 1; }
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n1)"
os=linux
case "$(uname -m)" in
  x86_64) arch=amd64 ;;
  aarch64) arch=arm64 ;;
  *) echo "unsupported machine $(uname -m)" >&2; exit 1 ;;
esac
name="terraform-provider-galley"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

rm -rf "$out/release" "$out/mirror" "$out/rm-bucket"
mkdir -p "$out/release" "$out/mirror/registry.terraform.io/galley-dev/galley" "$out/rm-bucket/${os}_${arch}"

cp "$bin" "$stage/${name}_v${version}"
chmod 755 "$stage/${name}_v${version}"
zip="${name}_${version}_${os}_${arch}.zip"
(cd "$stage" && python3 -m zipfile -c "$out/release/$zip" "${name}_v${version}")
printf '{"version":1,"metadata":{"protocol_versions":["5.0"]}}\n' > "$out/release/${name}_${version}_manifest.json"
(cd "$out/release" && sha256sum "$zip" "${name}_${version}_manifest.json" > "${name}_${version}_SHA256SUMS")

cp "$out/release/$zip" "$out/mirror/registry.terraform.io/galley-dev/galley/$zip"
cp "$stage/${name}_v${version}" "$out/rm-bucket/${os}_${arch}/${name}_v${version}"
echo "packaged ${name} ${version} for ${os}_${arch} in $out" >&2

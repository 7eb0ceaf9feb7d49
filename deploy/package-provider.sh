#!/usr/bin/env bash
# The release command: builds terraform-provider-galley in release mode for linux_amd64 and
# linux_arm64 and writes, for both platforms, the layouts its users install from:
#   OUT/release/   terraform-provider-galley_VERSION_OS_ARCH.zip (each holding
#                  terraform-provider-galley_vVERSION), _SHA256SUMS over the zips and the
#                  manifest, _manifest.json (protocol 5.0): what a registry or network mirror serves
#   OUT/mirror/    registry.terraform.io/galley-dev/galley/terraform-provider-galley_VERSION_OS_ARCH.zip
#                  (a packed filesystem mirror: terraform init -plugin-dir=OUT/mirror)
#   OUT/rm-bucket/ OS_ARCH/terraform-provider-galley_vVERSION (raw executables: the bucket a
#                  Resource Manager stack names in customTerraformProvider; upload with
#                  galley-upload-providers --dir OUT/rm-bucket --bucket NAME)
#
# Usage: deploy/package-provider.sh [OUT_DIR]      (default: dist)
# Environment: GALLEY_PLATFORMS (default "linux_amd64 linux_arm64"), CARGO_TARGET_DIR.
#
# The platform that is not this machine's is cross-compiled with Debian's cross toolchain
# (gcc-aarch64-linux-gnu or gcc-x86-64-linux-gnu, installed with apt-get when missing) and the
# Rust standard library from `rustup target add`. Both builds run in one cargo invocation, so
# build scripts and proc macros compile once.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/dist}"
platforms="${GALLEY_PLATFORMS:-linux_amd64 linux_arm64}"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
name="terraform-provider-galley"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n1)"
log() { printf '[package-provider] %s\n' "$*" >&2; }

case "$(uname -m)" in
  x86_64) host=linux_amd64 ;;
  aarch64) host=linux_arm64 ;;
  *) log "unsupported build machine $(uname -m)"; exit 1 ;;
esac

# Per platform: Rust target, Debian cross compiler package, its tool prefix, ELF machine id.
triple_of() { case "$1" in linux_amd64) echo x86_64-unknown-linux-gnu ;; linux_arm64) echo aarch64-unknown-linux-gnu ;; *) return 1 ;; esac; }
gcc_pkg_of() { case "$1" in linux_amd64) echo gcc-x86-64-linux-gnu ;; linux_arm64) echo gcc-aarch64-linux-gnu ;; esac; }
libc_pkg_of() { case "$1" in linux_amd64) echo libc6-dev-amd64-cross ;; linux_arm64) echo libc6-dev-arm64-cross ;; esac; }
prefix_of() { case "$1" in linux_amd64) echo x86_64-linux-gnu ;; linux_arm64) echo aarch64-linux-gnu ;; esac; }
elf_machine_of() { case "$1" in linux_amd64) echo "3e 00" ;; linux_arm64) echo "b7 00" ;; esac; }

targets=()
for p in $platforms; do
  triple="$(triple_of "$p")" || { log "unknown platform $p (linux_amd64, linux_arm64)"; exit 1; }
  targets+=(--target "$triple")
  if ! rustup target list --installed 2>/dev/null | grep -qx "$triple"; then
    log "installing the Rust standard library for $triple"
    rustup target add "$triple" >&2
  fi
  [ "$p" = "$host" ] && continue
  prefix="$(prefix_of "$p")"
  if ! command -v "$prefix-gcc" >/dev/null 2>&1; then
    log "installing the $p cross toolchain ($(gcc_pkg_of "$p"), $(libc_pkg_of "$p"))"
    { apt-get install -y -qq "$(gcc_pkg_of "$p")" "$(libc_pkg_of "$p")" \
      || { apt-get update -qq && apt-get install -y -qq "$(gcc_pkg_of "$p")" "$(libc_pkg_of "$p")"; }; } >&2
  fi
  # cc-rs (AWS-LC's C build) and the linker, for that target only.
  t="$(echo "$triple" | tr 'a-z-' 'A-Z_')"
  u="$(echo "$triple" | tr '-' '_')"
  export "CARGO_TARGET_${t}_LINKER=$prefix-gcc" "CC_${u}=$prefix-gcc" "AR_${u}=$prefix-ar"
done

started=$(date +%s)
log "building $name $version (release) for: $platforms"
(cd "$root" && cargo build --release --locked -p terraform-provider-galley "${targets[@]}")
log "release build took $(( $(date +%s) - started )) s"

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
rm -rf "$out/release" "$out/mirror" "$out/rm-bucket"
mirror="$out/mirror/registry.terraform.io/galley-dev/galley"
mkdir -p "$out/release" "$mirror"
zips=()
for p in $platforms; do
  bin="$target_dir/$(triple_of "$p")/release/$name"
  # The ELF header's machine field: a mix-up of targets would ship the wrong architecture.
  machine="$(od -An -tx1 -j18 -N2 "$bin" | tr -s ' ' | sed 's/^ //; s/ $//')"
  [ "$machine" = "$(elf_machine_of "$p")" ] || { log "$bin is not a $p executable (ELF machine $machine)"; exit 1; }
  mkdir -p "$stage/$p" "$out/rm-bucket/$p"
  exe="$stage/$p/${name}_v${version}"
  cp "$bin" "$exe"
  chmod 755 "$exe"
  # A fixed timestamp: the same binary always gives the same zip, and so the same SHA256SUMS.
  touch -d '2000-01-01T00:00:00Z' "$exe"
  zip="${name}_${version}_${p}.zip"
  (cd "$stage/$p" && python3 -m zipfile -c "$out/release/$zip" "${name}_v${version}")
  cp "$out/release/$zip" "$mirror/$zip"
  cp "$exe" "$out/rm-bucket/$p/${name}_v${version}"
  zips+=("$zip")
  objdump=objdump
  [ "$p" = "$host" ] || objdump="$(prefix_of "$p")-objdump"
  glibc="$("$objdump" -T "$bin" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n1 || true)"
  log "$p: $(stat -c %s "$exe") bytes${glibc:+, needs $glibc}"
done
manifest="${name}_${version}_manifest.json"
printf '{"version":1,"metadata":{"protocol_versions":["5.0"]}}\n' > "$out/release/$manifest"
(cd "$out/release" && sha256sum "${zips[@]}" "$manifest" > "${name}_${version}_SHA256SUMS")
log "packaged $name $version for $platforms in $out"

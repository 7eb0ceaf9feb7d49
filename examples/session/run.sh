#!/usr/bin/env bash
# The main job, end to end on this machine (no cloud account): installs the tools, builds the
# provider and the local OCI engine, starts galley-local (Resource Manager, Instance Agent and
# Object Storage on loopback; its jobs run real Terraform) trusting a fresh API key, then drives
# examples/session with real Terraform: a PLAN job and its plan summary, the apply, the stack's
# outputs, a second plan that must be empty, and destroy.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
bash tests/setup.sh
cargo build --quiet -p terraform-provider-galley -p galley-local
bin_dir="${CARGO_TARGET_DIR:-$root/target}/debug"
tools="$root/.tools/bin"

work="$(mktemp -d)"
engine_pid=""
cleanup() {
  if [ -n "$engine_pid" ]; then
    kill "$engine_pid" 2>/dev/null || true
    wait "$engine_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# An API signing key and a config profile, trusted by the engine and used by the provider.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/key.pem" 2>/dev/null
fingerprint="$(openssl pkey -in "$work/key.pem" -pubout -outform DER \
  | openssl dgst -md5 -hex | awk '{print $NF}' | sed 's/../&:/g; s/:$//')"
cat > "$work/oci_config" <<CONFIG
[DEFAULT]
user=ocid1.user.oc1..aaaaaaaaexample
fingerprint=$fingerprint
key_file=$work/key.pem
tenancy=ocid1.tenancy.oc1..aaaaaaaaexample
region=us-ashburn-1
CONFIG
: > "$work/jobs.terraformrc"

"$bin_dir/galley-local" --listen 127.0.0.1:0 --data-dir "$work/engine" \
  --oci-config "$work/oci_config" --trust-profile DEFAULT \
  --terraform "$tools/terraform" --terraform-cli-config "$work/jobs.terraformrc" \
  --ready-file "$work/ready" > "$work/engine.log" 2>&1 &
engine_pid=$!
for _ in $(seq 200); do
  [ -s "$work/ready" ] && break
  sleep 0.1
done
if [ ! -s "$work/ready" ]; then
  cat "$work/engine.log" >&2
  exit 1
fi
endpoint="http://$(cat "$work/ready")"

mkdir "$work/tf"
cp -R examples/session/. "$work/tf/"
rm -f "$work/tf/run.sh"
cat > "$work/tf/.terraformrc" <<RC
provider_installation {
  dev_overrides { "registry.terraform.io/galley-dev/galley" = "$bin_dir" }
  direct {}
}
RC
export TF_CLI_CONFIG_FILE="$work/tf/.terraformrc" CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1
export OCI_CONFIG_FILE="$work/oci_config"
export GALLEY_RESOURCE_MANAGER_ENDPOINT="$endpoint" GALLEY_INSTANCE_AGENT_ENDPOINT="$endpoint"
export GALLEY_OBJECT_STORAGE_ENDPOINT="$endpoint"
export GALLEY_WORK_COMPARTMENT_ID=ocid1.compartment.oc1..aaaaaaaaexample
tf() { (cd "$work/tf" && "$tools/terraform" "$@"); }

echo "== plan"
tf plan -no-color -var operation=plan
echo "== the stack's PLAN job (operation = \"plan\"), and its summary"
tf apply -auto-approve -no-color -var operation=plan
tf output -no-color plan_summary
echo "== apply (a PLAN job, then an APPLY job of that plan)"
tf apply -auto-approve -no-color
echo "== the stack's outputs"
tf output -no-color stack_outputs
echo "== second plan (must be empty)"
tf plan -no-color -detailed-exitcode
echo "== destroy (a DESTROY job, then the stack is deleted)"
tf destroy -auto-approve -no-color
echo "Session main job finished: planned, applied through Resource Manager jobs, re-planned clean, destroyed."

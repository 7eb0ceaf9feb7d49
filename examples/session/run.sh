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
# shellcheck source=../lib/local-oci.sh
source examples/lib/local-oci.sh

work="$(mktemp -d)"
trap 'stop_local_oci; rm -rf "$work"' EXIT
start_local_oci "$work" "$bin_dir" "$tools"

mkdir "$work/tf"
cp -R examples/session/. "$work/tf/"
rm -f "$work/tf/run.sh"
write_dev_overrides "$work/tf/.terraformrc" "$bin_dir"
export TF_CLI_CONFIG_FILE="$work/tf/.terraformrc" CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1
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

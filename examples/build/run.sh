#!/usr/bin/env bash
# galley_build end to end on this machine: galley-local plays OCI (Object Storage, the
# Instance Agent) and the build instance (its run command executes the build script here, with
# a stand-in docker from examples/build/local first on PATH; the script's curl fetches the
# context through a real pre-authenticated URL). Plan, apply, a second plan that must be empty,
# destroy.
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
start_local_oci "$work" "$bin_dir" "$tools" \
  --enable-run-command --run-command-path-prefix "$root/examples/build/local"

# The bucket the build context goes to, made with the official OCI SDK.
"$root/.tools/venv/bin/python" - "$LOCAL_OCI_ENDPOINT" <<'PY'
import os, sys, oci
config = oci.config.from_file(os.environ["OCI_CONFIG_FILE"])
client = oci.object_storage.ObjectStorageClient(config, service_endpoint=sys.argv[1])
namespace = client.get_namespace().data
client.create_bucket(namespace, oci.object_storage.models.CreateBucketDetails(
    name="build-contexts", compartment_id="ocid1.compartment.oc1..aaaaaaaaexample"))
PY

mkdir "$work/tf"
cp -R examples/build/. "$work/tf/"
rm -rf "$work/tf/run.sh" "$work/tf/local"
write_dev_overrides "$work/tf/.terraformrc" "$bin_dir"
export TF_CLI_CONFIG_FILE="$work/tf/.terraformrc" CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1
tf() { (cd "$work/tf" && "$tools/terraform" "$@"); }

echo "== plan"
tf plan -no-color
echo "== apply (upload, build command, push)"
tf apply -auto-approve -no-color
echo "== second plan (must be empty)"
tf plan -no-color -detailed-exitcode
echo "== destroy (the uploaded context is removed; the image stays in the registry)"
tf destroy -auto-approve -no-color
echo "Build example finished: built through the Instance Agent, re-planned clean, destroyed."

#!/usr/bin/env bash
# A Resource Manager stack whose own configuration uses the Galley provider, end to end on this
# machine (no cloud account): builds the release (deploy/package-provider.sh: linux_amd64 and
# linux_arm64), starts moto (DynamoDB and S3) and galley-local (Resource Manager and Object
# Storage; its jobs run Terraform 1.6.6, the closest to Resource Manager's 1.5.7 available
# here), uploads the release's bucket layout with galley-upload-providers, then applies
# main.tf: a galley_session whose stack installs hashicorp/galley from the bucket and creates
# the tables and buckets of stack/resources.yml. Shows the stack's outputs and the job log's
# first lines, re-plans (must be empty) and destroys.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
bash tests/setup.sh
cargo build --quiet -p terraform-provider-galley -p galley-local -p galley-oci
bash deploy/package-provider.sh "$root/dist"
bin_dir="${CARGO_TARGET_DIR:-$root/target}/debug"
tools="$root/.tools/bin"
# shellcheck source=../lib/local-oci.sh
source examples/lib/local-oci.sh

work="$(mktemp -d)"
port="$("$root/.tools/venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$tools/moto_server" -H 127.0.0.1 -p "$port" > "$work/moto.log" 2>&1 &
moto_pid=$!
trap 'stop_local_oci; kill $moto_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do
  curl -fs "http://127.0.0.1:$port/moto-api/" > /dev/null 2>&1 && break
  sleep 0.2
done
start_local_oci "$work" "$bin_dir" "$tools" --terraform "1.6.6=$tools/terraform-1.6"

echo "== upload the release's bucket layout"
"$bin_dir/galley-upload-providers" --bucket galley-providers --dir "$root/dist/rm-bucket" \
  --compartment-id "$GALLEY_WORK_COMPARTMENT_ID"

mkdir "$work/tf"
cp -R examples/rm-custom-provider/. "$work/tf/"
rm -f "$work/tf/run.sh" "$work/tf/README.md"
write_dev_overrides "$work/tf/.terraformrc" "$bin_dir"
export TF_CLI_CONFIG_FILE="$work/tf/.terraformrc" CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1
export TF_VAR_providers_bucket=galley-providers TF_VAR_namespace=galleylocal
export TF_VAR_dynamodb_endpoint="http://127.0.0.1:$port" TF_VAR_s3_endpoint="http://127.0.0.1:$port"
export TF_VAR_aws_access_key=esb TF_VAR_aws_secret_key=esbsecret
tf() { (cd "$work/tf" && "$tools/terraform" "$@"); }

echo "== apply (a PLAN job, then an APPLY job; each installs hashicorp/galley from the bucket)"
tf apply -auto-approve -no-color
echo "== the stack's outputs"
tf output -no-color stack_outputs
echo "== the first lines of the last job's log"
job_dir="$(ls -td "$work"/engine/jobs/*/ | head -n1)"
"$root/.tools/venv/bin/python" -c 'import json,sys; [print(json.loads(l)["message"]) for l in list(open(sys.argv[1]))[:6]]' "$job_dir/logs.jsonl"
echo "== the tables on the local DynamoDB"
"$root/.tools/venv/bin/python" tests/tools/aws_probe.py tables "http://127.0.0.1:$port"
echo "== second plan (must be empty)"
tf plan -no-color -detailed-exitcode
echo "== destroy (a DESTROY job removes the tables and buckets, then the stack is deleted)"
tf destroy -auto-approve -no-color
echo "Custom provider example finished: the stack ran the Galley provider from its bucket, re-planned clean, destroyed."

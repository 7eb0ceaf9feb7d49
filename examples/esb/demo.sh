#!/usr/bin/env bash
# The ESB main job, end to end on this machine: installs the tools, builds the provider, starts
# a local DynamoDB+S3 server (moto), then plans, applies, re-plans (must be empty) and destroys
# examples/esb with real Terraform.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
bash tests/setup.sh
cargo build --quiet -p terraform-provider-galley
bin_dir="${CARGO_TARGET_DIR:-$root/target}/debug"
tools="$root/.tools/bin"

work="$(mktemp -d)"
port="$("$root/.tools/venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$tools/moto_server" -H 127.0.0.1 -p "$port" > "$work/moto.log" 2>&1 &
moto_pid=$!
trap 'kill $moto_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do
  curl -fs "http://127.0.0.1:$port/moto-api/" > /dev/null 2>&1 && break
  sleep 0.2
done

cp examples/esb/main.tf examples/esb/resources.yml "$work/"
cat > "$work/.terraformrc" <<RC
provider_installation {
  dev_overrides { "registry.terraform.io/galley-dev/galley" = "$bin_dir" }
  direct {}
}
RC
export TF_CLI_CONFIG_FILE="$work/.terraformrc" CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1
export DYNAMODB_ENDPOINT="http://127.0.0.1:$port" S3_ENDPOINT="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=esb AWS_SECRET_ACCESS_KEY=esbsecret AWS_DEFAULT_REGION=us-east-1
tf() { (cd "$work" && "$tools/terraform" "$@"); }

echo "== plan"; tf plan -no-color
echo "== apply"; tf apply -auto-approve -no-color
echo "== second plan (must be empty)"; tf plan -no-color -detailed-exitcode
echo "== destroy"; tf destroy -auto-approve -no-color
echo "ESB main job finished: tables and buckets created, re-planned clean, destroyed."

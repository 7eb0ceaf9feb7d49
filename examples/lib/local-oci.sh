# Sourced by the examples' run.sh: starts galley-local (the local OCI engine) on a free loopback
# port, trusting a freshly generated API key, and exports what the provider needs to reach it.
#
#   start_local_oci WORK_DIR BIN_DIR TOOLS_DIR [extra galley-local flags...]
#
# Sets LOCAL_OCI_PID and LOCAL_OCI_ENDPOINT; exports OCI_CONFIG_FILE, GALLEY_*_ENDPOINT and
# GALLEY_WORK_COMPARTMENT_ID. stop_local_oci stops the engine.

start_local_oci() {
  local work="$1" bin_dir="$2" tools="$3"
  shift 3
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/key.pem" 2>/dev/null
  local fingerprint
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
    --ready-file "$work/ready" "$@" > "$work/engine.log" 2>&1 &
  LOCAL_OCI_PID=$!
  for _ in $(seq 200); do
    [ -s "$work/ready" ] && break
    sleep 0.1
  done
  if [ ! -s "$work/ready" ]; then
    cat "$work/engine.log" >&2
    return 1
  fi
  LOCAL_OCI_ENDPOINT="http://$(cat "$work/ready")"
  export OCI_CONFIG_FILE="$work/oci_config"
  export GALLEY_RESOURCE_MANAGER_ENDPOINT="$LOCAL_OCI_ENDPOINT"
  export GALLEY_INSTANCE_AGENT_ENDPOINT="$LOCAL_OCI_ENDPOINT"
  export GALLEY_OBJECT_STORAGE_ENDPOINT="$LOCAL_OCI_ENDPOINT"
  export GALLEY_WORK_COMPARTMENT_ID=ocid1.compartment.oc1..aaaaaaaaexample
}

stop_local_oci() {
  if [ -n "${LOCAL_OCI_PID:-}" ]; then
    kill "$LOCAL_OCI_PID" 2>/dev/null || true
    wait "$LOCAL_OCI_PID" 2>/dev/null || true
  fi
}

# Writes a CLI configuration that installs the provider from BIN_DIR (dev_overrides).
write_dev_overrides() {
  local file="$1" bin_dir="$2"
  cat > "$file" <<RC
provider_installation {
  dev_overrides { "registry.terraform.io/galley-dev/galley" = "$bin_dir" }
  direct {}
}
RC
}

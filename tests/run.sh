#!/usr/bin/env bash
# The test command: installs what the tests need (tests/setup.sh), then checks formatting and
# runs every test of the workspace: unit tests, protocol tests, and the acceptance tests that
# drive the provider with real Terraform against real local servers.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash tests/setup.sh
cargo fmt --all -- --check
cargo test --workspace --locked

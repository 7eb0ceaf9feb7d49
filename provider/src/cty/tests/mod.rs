//! Golden-byte tests against go-cty/Terraform output, error-path tests and
//! property-based round trips for the cty codecs.

mod errors;
mod golden_json;
mod golden_msgpack;
mod roundtrip;

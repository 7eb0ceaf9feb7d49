//! Oracle Cloud Infrastructure wire layer shared by the Terraform provider, the sidecar and the
//! local engine.
//!
//! The same code signs requests on the client side and checks signatures on the engine side, so
//! one set of test vectors covers both directions.
//!
//! # Layout
//!
//! - [`signing`]: draft-cavage HTTP signatures as OCI uses them (rsa-sha256): which headers are
//!   signed, the signing string, RSA key loading (PKCS#1, PKCS#8, encrypted PEM), the client
//!   [`signing::Signer`] fed by a [`signing::KeyProvider`], and the verifying helpers an engine
//!   uses to answer `401 NotAuthenticated` precisely.

pub mod signing;

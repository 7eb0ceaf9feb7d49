//! The Galley Terraform provider: a tfplugin5 server and the resources it serves.
//!
//! # Layout
//! - `server`: the plugin protocol: handshake, AutoMTLS, the tfplugin5 service (`rpc`, with
//!   the one panic guard every call into provider code goes through; `rpc::identity` for
//!   identity checks, `rpc::list` for the ListResource stream), go-plugin's side services, and
//!   every conversion to and from the wire (`toproto`, `fromproto`). Knows nothing about what a
//!   resource does; owns what Terraform requires of every answer (write-only values null,
//!   identities kept across updates, list limits).
//! - `cty`: Terraform's value model and its msgpack and JSON encodings.
//! - `schema`, `identity`, `diagnostics`, `resource`, `data_source`, `list_resource`: the
//!   contracts every resource, data source and list resource implements, in typed values,
//!   without gRPC or `galley_proto`.
//! - `attrs`: reading and writing a resource's attributes, with one meaning of null and
//!   unknown.
//! - `provider`, `provider_config`: the resource, data source and list resource registries,
//!   the provider block and Configure.
//! - `resources`, `data_sources`, `list_resources`: one file per type, each registered in its
//!   folder's one list.
//! - `esb`: the engine behind `esb_resources` (resources.yml, DynamoDB and S3 clients, the
//!   idempotent reconcile).
//! - `session`: the engine behind `galley_session` and `galley_stack` (the configuration's
//!   digest and zip, the stack, its PLAN/APPLY/DESTROY jobs, job failures, outputs, reading an
//!   existing stack by OCID, the reviewed plan job to apply, drift detection).
//! - `packaging`: the file list of a directory (ignore rules), its digest, and the zip and
//!   tar.gz built from it.
//! - `build`: the engine behind `galley_build` (the build context packaged and uploaded, the
//!   scratch objects and pre-authenticated URLs, the script run through the Instance Agent,
//!   what the command left).
//! - `oci_clients`: the provider block turned into OCI clients (through `galley_oci::setup`),
//!   lazily, once per process.
//! - `compartment`: the compartment an OCI-backed resource goes in when none is configured.
//! - `remote`: following Resource Manager jobs and instance agent commands (poll schedules,
//!   job logs, cancellation).
//! - `timeouts`: the `timeouts` block of the OCI-backed resources.
//! - `logging`: JSON log lines on stderr in go-plugin's format.
//!
//! # Adding a resource, a data source or a list resource
//! |  | resource | data source | list resource |
//! | --- | --- | --- | --- |
//! | file | `resources/<type>.rs` | `data_sources/<type>.rs` | `list_resources/<type>.rs` |
//! | implements | [`resource::Resource`] | [`data_source::DataSource`] | [`list_resource::ListResource`] |
//! | register in | `resources::all()` | `data_sources::all()` | `list_resources::all()` |
//! | examples | `examples/resources/<type>/resource.tf`, `import.sh` (and `import-by-identity.tf`) | `examples/data-sources/<type>/data-source.tf` | `examples/list-resources/<type>/list.tfquery.hcl` |
//! | docs page | `docs/resources/<type>.md` | `docs/data-sources/<type>.md` | `docs/list-resources/<type>.md` |
//!
//! - A list resource has the type name of the managed resource it finds, which must declare an
//!   `identity_schema`; each result is a state of that resource, from the same code its `read`
//!   and `import` use.
//! - Optional features are typed additions in the resource file: a write-only attribute is
//!   `Attribute::write_only_with_fallback("<stored attribute for Terraform < 1.11>")` and is read
//!   in `apply` from `req.config`; an identity is `identity_schema` (plus `identity` when its
//!   names are not state attributes, `import_by_identity`, and `upgrade_identity` when its version
//!   goes up); `generate_config` only when the default (what a user sets) is not right.
//! - Docs: `GALLEY_WRITE_DOCS=1 cargo test -p terraform-provider-galley docs_are_current`
//!   rewrites the pages; without the variable the test fails while they are stale.
//! - Tests: unit tests in the file (plan, apply, read, import against a test double of the
//!   client; for a list resource, its results and that it stops when `found` returns false);
//!   `provider::tests::every_registered_schema_follows_terraforms_rules` checks the schemas;
//!   an acceptance test in `provider/tests/acceptance/` with real Terraform, on 1.15 and on 1.0
//!   (identity import needs 1.12, `terraform query` 1.14, write-only 1.11: show that older
//!   versions still work without them).

pub mod attrs;
pub mod build;
pub mod compartment;
pub mod cty;
pub mod data_source;
pub mod data_sources;
pub mod diagnostics;
pub mod docs;
pub mod esb;
pub mod identity;
pub mod list_resource;
pub mod list_resources;
pub mod logging;
pub mod oci_clients;
pub mod packaging;
pub mod provider;
pub mod provider_config;
pub mod remote;
pub mod resource;
pub mod resources;
pub mod schema;
pub mod server;
pub mod session;
pub mod timeouts;

//! The contract between the protocol layer and a data source.
//!
//! Like a resource, a data source sees typed cty values and returns values and diagnostics; it
//! never sees gRPC or msgpack. The protocol layer (`server::rpc`) decodes the configuration,
//! checks that what `read` returns is fully known and of the schema's type, and encodes it.

use async_trait::async_trait;

use crate::cty::Value;
use crate::diagnostics::Diagnostics;
use crate::resource::Ctx;
use crate::schema::Schema;

/// What a successful read found: the data source's whole value (the configuration with every
/// computed attribute filled in), and warnings worth showing.
pub struct DataRead {
    pub state: Value,
    pub diagnostics: Diagnostics,
}

impl DataRead {
    /// The value, with nothing to report.
    pub fn new(state: Value) -> Self {
        Self {
            state,
            diagnostics: Diagnostics::new(),
        }
    }
}

#[async_trait]
pub trait DataSource: Send + Sync + 'static {
    fn type_name(&self) -> &'static str;

    fn schema(&self) -> Schema;

    /// Static checks of a configuration, which may still hold unknown values.
    fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }

    /// Reads the data for a fully known configuration. The state returned must be of the
    /// schema's type and wholly known (the protocol layer refuses anything else as a provider
    /// bug). A failure is `Err`; a `DataRead` whose diagnostics hold an error is answered
    /// without its state.
    async fn read(&self, ctx: &Ctx, config: &Value) -> Result<DataRead, Diagnostics>;
}

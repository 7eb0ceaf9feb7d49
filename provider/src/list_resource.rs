//! The contract between the protocol layer and a list resource: the search behind
//! `terraform query` (Terraform 1.14 on) for existing objects of one managed resource type.
//!
//! A list resource has the type name of the managed resource it finds, a schema of its own
//! for the `config { ... }` block of a `list` block, and `list`, which sends one result per
//! object found into a [`ListSink`]. Each result is a state of the managed resource's type;
//! the protocol layer derives the identity from it with the managed resource's own
//! `Resource::identity`, sends the state only when Terraform asked for resource objects, nulls
//! write-only attributes, and stops the listing at Terraform's limit. Like a resource, a list
//! resource never sees gRPC or msgpack.

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::cty::Value;
use crate::diagnostics::Diagnostics;
use crate::resource::Ctx;
use crate::schema::Schema;

/// One `list` block's request.
pub struct ListRequest<'a> {
    /// The `config` block, of the list resource schema's type (null when the block is absent).
    pub config: &'a Value,
    /// Whether Terraform wants whole states (`include_resource = true`, or
    /// `-generate-config-out`): then every result's state must be complete, as `read` would
    /// return it. Otherwise the attributes the identity and display name need are enough.
    pub include_resource_object: bool,
    /// At most this many results are used (at least 1: the layer answers 0 itself). Useful to
    /// size pages; the sink enforces it either way.
    pub limit: u64,
}

/// One object found.
pub struct ListResult {
    /// What `terraform query` shows for it.
    pub display_name: String,
    /// A state of the managed resource's type.
    pub state: Value,
    /// Warnings about this object.
    pub diagnostics: Diagnostics,
}

impl ListResult {
    pub fn new(display_name: impl Into<String>, state: Value) -> Self {
        Self {
            display_name: display_name.into(),
            state,
            diagnostics: Diagnostics::new(),
        }
    }
}

/// What travels from a listing to the protocol layer.
pub(crate) enum ListItem {
    Found(ListResult),
    /// Diagnostics not about one object; an error ends the listing.
    Report(Diagnostics),
}

/// Where a listing sends its results. Every send says whether to go on: `false` once the limit
/// is reached or Terraform has gone away, and then `list` should return at once.
pub struct ListSink {
    tx: mpsc::Sender<ListItem>,
}

impl ListSink {
    pub(crate) fn new(tx: mpsc::Sender<ListItem>) -> Self {
        Self { tx }
    }

    /// Sends one result; waits while Terraform has not taken the previous one.
    #[must_use = "stop listing when this returns false"]
    pub async fn found(&self, result: ListResult) -> bool {
        self.tx.send(ListItem::Found(result)).await.is_ok()
    }

    /// Sends diagnostics about the listing as a whole (a skipped page, a partial answer).
    /// Errors end the listing; returning `Err` from `list` does the same.
    #[must_use = "stop listing when this returns false"]
    pub async fn report(&self, diagnostics: Diagnostics) -> bool {
        self.tx.send(ListItem::Report(diagnostics)).await.is_ok()
    }
}

#[async_trait]
pub trait ListResource: Send + Sync + 'static {
    /// The type name of the managed resource whose objects this finds; that resource must
    /// declare an identity schema.
    fn type_name(&self) -> &'static str;

    /// The schema of the `config` block.
    fn schema(&self) -> Schema;

    /// Static checks of a `config` block, which may still hold unknown values.
    fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }

    /// Finds objects and sends each to `sink`, stopping when a send returns false or
    /// `ctx.stop` is cancelled. An `Err` is reported after the results already sent.
    async fn list(
        &self,
        ctx: &Ctx,
        req: ListRequest<'_>,
        sink: &ListSink,
    ) -> Result<(), Diagnostics>;
}

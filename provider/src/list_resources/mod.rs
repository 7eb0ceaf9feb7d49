//! Every list resource type the provider serves, registered once here. A list resource is one
//! file in this folder (typed `config` model, schema, `list`) over the same engine and the same
//! state-building code its managed resource uses, never a copy of them.

mod galley_session;

use std::sync::Arc;

use crate::list_resource::ListResource;

pub fn all() -> Vec<Arc<dyn ListResource>> {
    vec![Arc::new(galley_session::GalleySessions)]
}

/// A managed resource with an identity and write-only attributes, and its list resource, for
/// tests of the plumbing (protocol, docs) while the registries may hold no such thing. Names
/// pick behaviours, so a few types cover good and bad results.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use async_trait::async_trait;

    use crate::attrs::{i64_of, str_of};
    use crate::cty::{Type, Value};
    use crate::diagnostics::{Diagnostic, Diagnostics, PathStep};
    use crate::identity::{ForImport, IdentityAttribute, IdentitySchema};
    use crate::list_resource::{ListRequest, ListResource, ListResult, ListSink};
    use crate::resource::{
        Applied, ApplyRequest, ClientCapabilities, Ctx, PlanRequest, Planned, ReadOutcome, Resource,
    };
    use crate::schema::{Attribute, Block, NestedBlock, Nesting, Presence, Schema};

    pub const TYPE_NAME: &str = "galley_test_widget";

    /// What a buggy resource might put into write-only attributes; the protocol layer must
    /// never let it out.
    pub const LEAK: &str = "leaked";

    pub fn schema() -> Schema {
        Schema {
            version: 0,
            block: Block {
                description: "A widget. Used by tests only.".into(),
                attributes: vec![
                    Attribute::new("name", Type::String, Presence::Required, "The name."),
                    Attribute::new(
                        "zone",
                        Type::String,
                        Presence::OptionalComputed,
                        "The zone; `z1` when unset.",
                    ),
                    Attribute::new(
                        "secret",
                        Type::String,
                        Presence::Optional,
                        "The secret, stored in state.",
                    )
                    .sensitive(),
                    Attribute::new(
                        "secret_wo",
                        Type::String,
                        Presence::Optional,
                        "The secret, never stored.",
                    )
                    .write_only_with_fallback("secret"),
                    Attribute::new("id", Type::String, Presence::Computed, "The id."),
                    Attribute::new("checksum", Type::String, Presence::Computed, "A checksum."),
                ],
                blocks: vec![NestedBlock {
                    type_name: "options",
                    block: Block {
                        description: "Options.".into(),
                        attributes: vec![
                            Attribute::new("label", Type::String, Presence::Optional, "A label."),
                            Attribute::new("pin_wo", Type::String, Presence::Optional, "A pin.")
                                .write_only(),
                        ],
                        ..Default::default()
                    },
                    nesting: Nesting::Single,
                    min_items: 0,
                    max_items: 0,
                }],
                deprecated: false,
            },
        }
    }

    pub fn identity_schema() -> IdentitySchema {
        IdentitySchema {
            version: 1,
            attributes: vec![
                IdentityAttribute::new("name", Type::String, ForImport::Required, "The name."),
                IdentityAttribute::new(
                    "zone",
                    Type::String,
                    ForImport::Optional,
                    "The zone; `z1` when unset.",
                ),
            ],
        }
    }

    pub fn value_type() -> Type {
        schema().block.value_type()
    }

    /// A whole state as apply writes it.
    pub fn state(name: &str, zone: &str) -> Value {
        let mut s = Value::null_object(&value_type());
        s.set_attr("name", Value::string(name));
        s.set_attr("zone", Value::string(zone));
        s.set_attr("id", Value::string(format!("w-{name}")));
        s.set_attr("checksum", Value::string(format!("sum-{name}")));
        s
    }

    /// What the protocol layer sends back of `leaky(state(name, zone))`: write-only nulled.
    pub fn as_sent(name: &str, zone: &str) -> Value {
        let mut s = state(name, zone);
        s.set_attr(
            "options",
            Value::object([("label", Value::string("l")), ("pin_wo", Value::Null)]),
        );
        s
    }

    /// A state with `secret_wo` and `options.pin_wo` set, as a careless resource returns it.
    fn leaky(mut s: Value) -> Value {
        s.set_attr("secret_wo", Value::string(LEAK));
        s.set_attr(
            "options",
            Value::object([
                ("label", Value::string("l")),
                ("pin_wo", Value::string(LEAK)),
            ]),
        );
        s
    }

    /// Plans the config (zone defaults to `z1`; a new name replaces the widget), applies with
    /// `id = "w-<name>"`. Every state it returns carries write-only values (see `leaky`), and
    /// it records what apply saw of `secret_wo` in the configuration. `zone = "drift"` in a
    /// plan of an update returns another zone without replacement (an identity change).
    #[derive(Default)]
    pub struct Widget {
        pub apply_saw_secret_wo: Arc<Mutex<Option<String>>>,
        /// The client capabilities plan and apply saw in their `Ctx`.
        pub clients_seen: Arc<Mutex<Vec<(&'static str, ClientCapabilities)>>>,
    }

    #[async_trait]
    impl Resource for Widget {
        fn type_name(&self) -> &'static str {
            TYPE_NAME
        }

        fn schema(&self) -> Schema {
            schema()
        }

        fn identity_schema(&self) -> Option<IdentitySchema> {
            Some(identity_schema())
        }

        fn upgrade_identity(
            &self,
            from_version: i64,
            json: serde_json::Value,
        ) -> Result<serde_json::Value, Diagnostics> {
            // Version 0 called the name `widget_name`.
            match from_version {
                0 => Ok(serde_json::json!({ "name": json["widget_name"] })),
                _ => Ok(json),
            }
        }

        async fn plan(&self, ctx: &Ctx, req: PlanRequest<'_>) -> Result<Planned, Diagnostics> {
            self.clients_seen.lock().unwrap().push(("plan", ctx.client));
            let mut planned = req.proposed_new_state.clone();
            if str_of(req.config, "zone").is_none() {
                planned.set_attr("zone", Value::string("z1"));
            }
            if req.prior_state.is_null()
                || str_of(req.prior_state, "name") != str_of(req.config, "name")
            {
                planned.set_attr("id", Value::unknown());
                planned.set_attr("checksum", Value::unknown());
            }
            Ok(Planned {
                planned_state: planned,
                requires_replace: vec![vec![PathStep::Attr("name".into())]],
                planned_private: Vec::new(),
                diagnostics: Diagnostics::new(),
            })
        }

        async fn apply(&self, ctx: &Ctx, req: ApplyRequest<'_>) -> Applied {
            self.clients_seen
                .lock()
                .unwrap()
                .push(("apply", ctx.client));
            *self.apply_saw_secret_wo.lock().unwrap() = str_of(req.config, "secret_wo");
            if req.planned_state.is_null() {
                return Applied::gone();
            }
            let name = str_of(req.planned_state, "name").unwrap_or_default();
            let zone = str_of(req.planned_state, "zone").unwrap_or_default();
            let mut s = leaky(state(&name, &zone));
            s.set_attr(
                "secret",
                req.planned_state
                    .get_attr("secret")
                    .cloned()
                    .unwrap_or(Value::Null),
            );
            Applied::done(s)
        }

        async fn read(
            &self,
            _ctx: &Ctx,
            state: &Value,
            private: &[u8],
        ) -> Result<ReadOutcome, Diagnostics> {
            match str_of(state, "name").as_deref() {
                Some("gone") => Ok(ReadOutcome::Gone),
                _ => Ok(ReadOutcome::present(leaky(state.clone()), private.to_vec())),
            }
        }

        async fn import(&self, _ctx: &Ctx, id: &str) -> Result<Value, Diagnostics> {
            match id.strip_prefix("w-") {
                Some(name) if !name.is_empty() => Ok(leaky(state(name, "z1"))),
                _ => Err(Diagnostic::error(
                    "Invalid import id",
                    format!("Expected w-<name>, got {id:?}."),
                )
                .into()),
            }
        }

        async fn import_by_identity(
            &self,
            _ctx: &Ctx,
            identity: &Value,
        ) -> Result<Value, Diagnostics> {
            let name = str_of(identity, "name").unwrap_or_default();
            let zone = str_of(identity, "zone").unwrap_or_else(|| "z1".into());
            // `alias` finds an object that goes by another name: a bug to report.
            let name = if name == "alias" {
                "aliased".into()
            } else {
                name
            };
            Ok(leaky(state(&name, &zone)))
        }
    }

    /// Lists widgets `<prefix>-0`, `<prefix>-1`, ... (`count` of them, default 3), with whole
    /// states only when asked. Prefixes that start a behaviour: `forever` (never stops by
    /// itself), `hang` (one result, then waits for cancellation), `fail` (two results, then an
    /// error), `warn` (a warning first), `anonymous` (a null state), `panic`.
    #[derive(Default)]
    pub struct Widgets {
        /// How many results the sink accepted.
        pub sent: Arc<AtomicUsize>,
        /// Set when the sink refused a result or the listing saw `ctx.stop` cancelled.
        pub told_to_stop: Arc<AtomicBool>,
    }

    pub fn list_schema() -> Schema {
        Schema {
            version: 0,
            block: Block {
                description: "Finds widgets by name prefix. Used by tests only.".into(),
                attributes: vec![
                    Attribute::new("prefix", Type::String, Presence::Required, "Name prefix."),
                    Attribute::new("count", Type::Number, Presence::Optional, "How many."),
                ],
                ..Default::default()
            },
        }
    }

    #[async_trait]
    impl ListResource for Widgets {
        fn type_name(&self) -> &'static str {
            TYPE_NAME
        }

        fn schema(&self) -> Schema {
            list_schema()
        }

        fn validate(&self, config: &Value) -> Diagnostics {
            match i64_of(config, "count") {
                Some(n) if n < 0 => Diagnostic::error("Negative count", "Set count to 0 or more.")
                    .at("count")
                    .into(),
                _ => Diagnostics::new(),
            }
        }

        async fn list(
            &self,
            ctx: &Ctx,
            req: ListRequest<'_>,
            sink: &ListSink,
        ) -> Result<(), Diagnostics> {
            let prefix = str_of(req.config, "prefix").unwrap_or_default();
            let count = i64_of(req.config, "count").unwrap_or(3);
            if prefix == "panic" {
                panic!("boom in list");
            }
            if prefix == "warn"
                && !sink
                    .report(Diagnostic::warning("Slow listing", "Page 2 was retried.").into())
                    .await
            {
                return Ok(());
            }
            let mut i = 0;
            loop {
                if prefix != "forever" && i >= count {
                    return Ok(());
                }
                if prefix == "fail" && i == 2 {
                    return Err(Diagnostic::error("Listing failed", "page 3: 500").into());
                }
                let name = format!("{prefix}-{i}");
                let mut s = if req.include_resource_object {
                    leaky(state(&name, "z1"))
                } else {
                    let mut s = Value::null_object(&value_type());
                    s.set_attr("name", Value::string(&name));
                    s.set_attr("zone", Value::string("z1"));
                    s
                };
                if prefix == "anonymous" {
                    s = Value::Null;
                }
                if !sink
                    .found(ListResult::new(format!("Widget {name}"), s))
                    .await
                {
                    self.told_to_stop.store(true, Ordering::SeqCst);
                    return Ok(());
                }
                self.sent.fetch_add(1, Ordering::SeqCst);
                if prefix == "hang" {
                    ctx.stop.cancelled().await;
                    self.told_to_stop.store(true, Ordering::SeqCst);
                    return Ok(());
                }
                i += 1;
            }
        }
    }
}

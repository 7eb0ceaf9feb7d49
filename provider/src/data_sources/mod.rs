//! Every data source type the provider serves, registered once here. A data source is one file
//! in this folder (typed model, schema, read) over the same engine its resource uses, never a
//! copy of it.

use std::sync::Arc;

use crate::data_source::DataSource;

pub mod galley_stack;

pub fn all() -> Vec<Arc<dyn DataSource>> {
    vec![Arc::new(galley_stack::GalleyStack)]
}

/// A data source for tests of the plumbing (protocol, docs) while the registry may be empty.
/// Its `name` picks a behaviour, so one type covers good and bad results.
#[cfg(test)]
pub(crate) mod testing {
    use async_trait::async_trait;

    use crate::cty::{Type, Value};
    use crate::data_source::{DataRead, DataSource};
    use crate::diagnostics::{Diagnostic, Diagnostics};
    use crate::resource::Ctx;
    use crate::schema::{Attribute, Block, Presence, Schema};

    pub const TYPE_NAME: &str = "galley_test_echo";

    /// Reads back its configuration with `greeting` and `tag_count` filled in. Names that
    /// start a behaviour: `wrong-type`, `unknown`, `null` (a result the protocol must refuse),
    /// `fail` (an error), `panic`.
    pub struct Echo;

    pub fn schema() -> Schema {
        Schema {
            version: 0,
            block: Block {
                description: "Echoes its configuration. Used by tests only.".into(),
                attributes: vec![
                    Attribute::new("name", Type::String, Presence::Required, "Who to greet."),
                    Attribute::new(
                        "tags",
                        Type::Map(Box::new(Type::String)),
                        Presence::Optional,
                        "Kept as given.",
                    ),
                    Attribute::new(
                        "greeting",
                        Type::String,
                        Presence::Computed,
                        "The greeting.",
                    ),
                    Attribute::new(
                        "tag_count",
                        Type::Number,
                        Presence::Computed,
                        "How many tags.",
                    ),
                ],
                ..Default::default()
            },
        }
    }

    #[async_trait]
    impl DataSource for Echo {
        fn type_name(&self) -> &'static str {
            TYPE_NAME
        }

        fn schema(&self) -> Schema {
            schema()
        }

        fn validate(&self, config: &Value) -> Diagnostics {
            match crate::attrs::str_of(config, "name").as_deref() {
                Some("") => Diagnostic::error("Empty name", "Set name to who to greet.")
                    .at("name")
                    .into(),
                Some("panic") => panic!("boom in validate"),
                _ => Diagnostics::new(),
            }
        }

        async fn read(&self, _ctx: &Ctx, config: &Value) -> Result<DataRead, Diagnostics> {
            let name = crate::attrs::str_of(config, "name").unwrap_or_default();
            let tags = crate::attrs::map_of(config, "tags").unwrap_or_default();
            let mut state = config.clone();
            state.set_attr("greeting", Value::string(format!("hello, {name}")));
            state.set_attr("tag_count", Value::number(tags.len() as u64));
            match name.as_str() {
                "wrong-type" => state.set_attr("greeting", Value::Bool(true)),
                "unknown" => state.set_attr("greeting", Value::unknown()),
                "null" => state = Value::Null,
                "fail" => {
                    return Err(Diagnostic::error("Lookup failed", "nothing found").into());
                }
                "panic" => panic!("boom in read"),
                _ => {}
            }
            Ok(DataRead::new(state))
        }
    }
}

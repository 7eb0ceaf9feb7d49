//! Conversions from the provider's model to tfplugin5 messages: schemas, diagnostics,
//! attribute paths and values.
//!
//! This module owns the outgoing wire shapes only; what goes into them is decided by the
//! schema, diagnostics and resource modules, which never see a `galley_proto` type.

use galley_proto::tfplugin5 as pb;

use crate::cty::{self, Type, Value};
use crate::diagnostics::{Diagnostic, Diagnostics, PathStep, Severity};
use crate::identity::{ForImport, IdentitySchema};
use crate::schema::{Block, Nesting, Schema};

pub fn schema(s: &Schema) -> pb::Schema {
    pb::Schema {
        version: s.version,
        block: Some(block(&s.block)),
    }
}

pub fn block(b: &Block) -> pb::schema::Block {
    pb::schema::Block {
        version: 0,
        attributes: b
            .attributes
            .iter()
            .map(|a| pb::schema::Attribute {
                name: a.name.to_string(),
                r#type: a.ty.to_json().into_bytes(),
                description: a.description.clone(),
                required: a.required,
                optional: a.optional,
                computed: a.computed,
                sensitive: a.sensitive,
                description_kind: pb::StringKind::Markdown as i32,
                deprecated: a.deprecated,
                write_only: a.write_only,
                deprecation_message: String::new(),
            })
            .collect(),
        block_types: b
            .blocks
            .iter()
            .map(|nb| pb::schema::NestedBlock {
                type_name: nb.type_name.to_string(),
                block: Some(block(&nb.block)),
                nesting: nesting(nb.nesting) as i32,
                min_items: nb.min_items,
                max_items: nb.max_items,
            })
            .collect(),
        description: b.description.clone(),
        description_kind: pb::StringKind::Markdown as i32,
        deprecated: b.deprecated,
        deprecation_message: String::new(),
    }
}

pub fn identity_schema(s: &IdentitySchema) -> pb::ResourceIdentitySchema {
    pb::ResourceIdentitySchema {
        version: s.version,
        identity_attributes: s
            .attributes
            .iter()
            .map(|a| pb::resource_identity_schema::IdentityAttribute {
                name: a.name.to_string(),
                r#type: a.ty.to_json().into_bytes(),
                required_for_import: a.for_import == ForImport::Required,
                optional_for_import: a.for_import == ForImport::Optional,
                description: a.description.clone(),
            })
            .collect(),
    }
}

fn nesting(n: Nesting) -> pb::schema::nested_block::NestingMode {
    use pb::schema::nested_block::NestingMode;
    match n {
        Nesting::Single => NestingMode::Single,
        Nesting::List => NestingMode::List,
        Nesting::Set => NestingMode::Set,
        Nesting::Map => NestingMode::Map,
        Nesting::Group => NestingMode::Group,
    }
}

/// An attribute path (a `requires_replace` entry, or where a diagnostic points).
pub fn attribute_path(path: &[PathStep]) -> pb::AttributePath {
    use pb::attribute_path::step::Selector;
    pb::AttributePath {
        steps: path
            .iter()
            .map(|s| pb::attribute_path::Step {
                selector: Some(match s {
                    PathStep::Attr(name) => Selector::AttributeName(name.clone()),
                    PathStep::Index(i) => Selector::ElementKeyInt(*i),
                    PathStep::Key(k) => Selector::ElementKeyString(k.clone()),
                }),
            })
            .collect(),
    }
}

pub fn diagnostic(d: &Diagnostic) -> pb::Diagnostic {
    pb::Diagnostic {
        severity: match d.severity {
            Severity::Error => pb::diagnostic::Severity::Error,
            Severity::Warning => pb::diagnostic::Severity::Warning,
        } as i32,
        summary: d.summary.clone(),
        detail: d.detail.clone(),
        // A diagnostic about the whole resource carries no path at all.
        attribute: (!d.path.is_empty()).then(|| attribute_path(&d.path)),
    }
}

pub fn diagnostics(ds: &Diagnostics) -> Vec<pb::Diagnostic> {
    ds.0.iter().map(diagnostic).collect()
}

/// A value as msgpack, the encoding Terraform prefers. `what` names the value in the error.
pub fn dynamic_value(v: &Value, ty: &Type, what: &str) -> Result<pb::DynamicValue, Diagnostic> {
    cty::msgpack::encode(v, ty)
        .map(|msgpack| pb::DynamicValue {
            msgpack,
            json: Vec::new(),
        })
        .map_err(|e| {
            Diagnostic::error(
                format!("Failed to encode the {what}"),
                format!("The provider produced a value of the wrong shape: {e}. Please report it."),
            )
        })
}

/// An identity value, as ReadResource, PlanResourceChange, ApplyResourceChange,
/// ImportResourceState and ListResource carry it.
pub fn identity(v: &Value, ty: &Type) -> Result<pb::ResourceIdentityData, Diagnostic> {
    dynamic_value(v, ty, "identity").map(|dv| pb::ResourceIdentityData {
        identity_data: Some(dv),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::IdentityAttribute;
    use crate::schema::tests::sample;

    #[test]
    fn proto_encoding_keeps_flags_and_cty_type_json() {
        let pb = block(&sample());
        assert_eq!(pb.attributes.len(), 4);
        let name = &pb.attributes[0];
        assert!(name.required && !name.optional && !name.computed);
        assert_eq!(name.r#type, br#""string""#);
        assert!(pb.attributes[2].sensitive);
        assert!(!pb.attributes[2].write_only);
        assert!(pb.attributes[3].write_only && pb.attributes[3].optional);
        assert_eq!(
            pb.block_types[0].nesting,
            pb::schema::nested_block::NestingMode::Single as i32
        );
    }

    #[test]
    fn identity_schemas_encode_import_flags_and_types() {
        let s = IdentitySchema {
            version: 3,
            attributes: vec![
                IdentityAttribute::new("id", Type::String, ForImport::Required, "The id."),
                IdentityAttribute::new("zones", Type::list(Type::String), ForImport::Optional, ""),
            ],
        };
        let pb = identity_schema(&s);
        assert_eq!(pb.version, 3);
        let [id, zones] = &pb.identity_attributes[..] else {
            panic!("two attributes: {pb:?}")
        };
        assert_eq!(id.name, "id");
        assert!(id.required_for_import && !id.optional_for_import);
        assert_eq!(id.description, "The id.");
        assert!(!zones.required_for_import && zones.optional_for_import);
        assert_eq!(zones.r#type, br#"["list","string"]"#);
    }

    #[test]
    fn error_with_path_encodes_severity_and_steps() {
        let d = Diagnostic::error("Invalid resources file", "fix it").at_path(vec![
            PathStep::Attr("variables".into()),
            PathStep::Key("x".into()),
        ]);
        let pb = diagnostic(&d);
        assert_eq!(pb.severity, 1);
        let steps = pb.attribute.unwrap().steps;
        assert_eq!(steps.len(), 2);
        assert!(matches!(
            &steps[1].selector,
            Some(pb::attribute_path::step::Selector::ElementKeyString(k)) if k == "x"
        ));
        assert_eq!(diagnostic(&Diagnostic::warning("w", "")).severity, 2);
        assert!(
            diagnostic(&Diagnostic::warning("w", ""))
                .attribute
                .is_none()
        );
    }

    #[test]
    fn attribute_paths_encode_every_kind_of_step() {
        use pb::attribute_path::step::Selector;
        let path = attribute_path(&[
            PathStep::Attr("endpoints".into()),
            PathStep::Index(2),
            PathStep::Key("k".into()),
        ]);
        let selectors: Vec<_> = path.steps.into_iter().map(|s| s.selector).collect();
        assert_eq!(
            selectors,
            [
                Some(Selector::AttributeName("endpoints".into())),
                Some(Selector::ElementKeyInt(2)),
                Some(Selector::ElementKeyString("k".into())),
            ]
        );
        assert!(attribute_path(&[]).steps.is_empty());
    }
}

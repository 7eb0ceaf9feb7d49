//! The output schemas the tools declare, shaped so clients can afford to check every result.
//!
//! Clients validate each result's `structuredContent` against the tool's `outputSchema` (the
//! Python SDK does, with `jsonschema`, at roughly 20 µs per checked node). Checked item by item,
//! a 50-component session costs about 7 ms per call to validate, against under 1 ms to produce.
//! So the schemas derived from the result types are rewritten once, when the router is built:
//! `$defs` are inlined, and arrays are checked as arrays: the schema of their items moves into
//! the array's description (the item's description and its fields with their types) instead of
//! being applied to every item. Everything outside arrays keeps its full schema, so the result's
//! own shape (its fields, their types, what is required) is still checked.

use rmcp::model::JsonObject;
use serde_json::{Map, Value};

/// Deepest `$ref` chain followed; a deeper (recursive) one is left unconstrained.
const MAX_REF_DEPTH: usize = 16;

/// The lighter equivalent of a derived output schema.
pub fn lighten(schema: &JsonObject) -> JsonObject {
    let defs = schema
        .get("$defs")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut root = schema.clone();
    root.remove("$defs");
    match walk(&Value::Object(root), &defs, 0) {
        Value::Object(o) => o,
        _ => JsonObject::new(),
    }
}

fn walk(v: &Value, defs: &Map<String, Value>, depth: usize) -> Value {
    match v {
        Value::Object(o) => {
            if let Some(target) = o.get("$ref").and_then(Value::as_str) {
                let resolved = target
                    .strip_prefix("#/$defs/")
                    .and_then(|name| defs.get(name))
                    .filter(|_| depth < MAX_REF_DEPTH);
                return match resolved {
                    Some(def) => {
                        // Keywords beside the `$ref` (a description) apply too.
                        let mut merged = def.as_object().cloned().unwrap_or_default();
                        for (k, val) in o {
                            if k != "$ref" {
                                merged.insert(k.clone(), val.clone());
                            }
                        }
                        walk(&Value::Object(merged), defs, depth + 1)
                    }
                    None => Value::Object(Map::new()),
                };
            }
            let mut out = Map::new();
            for (k, val) in o {
                let child = match (k.as_str(), val) {
                    ("items", _) => continue,
                    // Maps of names to schemas: the names are not keywords.
                    ("properties" | "patternProperties" | "dependentSchemas", Value::Object(m)) => {
                        Value::Object(
                            m.iter()
                                .map(|(name, schema)| (name.clone(), walk(schema, defs, depth)))
                                .collect(),
                        )
                    }
                    _ => walk(val, defs, depth),
                };
                out.insert(k.clone(), child);
            }
            if let Some(items) = o.get("items") {
                let items = walk(items, defs, depth);
                let mut description = out
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .trim()
                    .to_string();
                if !description.is_empty() {
                    description.push(' ');
                }
                description.push_str(&describe_items(&items));
                out.insert("description".into(), Value::from(description));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| walk(x, defs, depth)).collect()),
        other => other.clone(),
    }
}

/// `Items: <description> Fields: a (string), b (integer or null).`, or `Items: string.`
fn describe_items(items: &Value) -> String {
    let mut text = String::from("Items:");
    if let Some(d) = items.get("description").and_then(Value::as_str) {
        text.push(' ');
        text.push_str(d.trim());
    }
    match items.get("properties").and_then(Value::as_object) {
        Some(props) => {
            let fields: Vec<String> = props
                .iter()
                .map(|(name, s)| match type_name(s) {
                    Some(t) => format!("{name} ({t})"),
                    None => name.clone(),
                })
                .collect();
            text.push_str(&format!(" Fields: {}.", fields.join(", ")));
        }
        None => match type_name(items) {
            Some(t) => text.push_str(&format!(" {t}.")),
            None => text.push_str(" any value."),
        },
    }
    text
}

/// `string`, `integer or null`... of a property schema, when it says.
fn type_name(s: &Value) -> Option<String> {
    match s.get("type")? {
        Value::String(t) => Some(t.clone()),
        Value::Array(ts) => Some(
            ts.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" or "),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemars::JsonSchema;
    use serde_json::json;

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    struct Item {
        /// The item's id.
        id: String,
        size: Option<u32>,
        tags: Vec<String>,
    }

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    struct Holder {
        /// What holds the items.
        name: String,
        items: Vec<Item>,
        first: Option<Item>,
    }

    #[test]
    fn arrays_describe_their_items_and_refs_are_inlined() {
        let derived = rmcp::handler::server::common::schema_for_output::<Holder>();
        assert!(derived.contains_key("$defs"), "{derived:?}");
        let light = Value::Object(lighten(&derived));
        let text = light.to_string();
        assert!(!text.contains("$ref") && !text.contains("$defs"), "{text}");
        // A field named `items` stays a field; the `items` keyword of its array goes.
        let items = &light["properties"]["items"];
        assert_eq!(items["type"], "array");
        assert!(items.get("items").is_none(), "{items}");
        let d = items["description"].as_str().unwrap();
        assert!(
            d.contains("Items:")
                && d.contains("id (string)")
                && d.contains("size (integer or null)")
                && d.contains("tags (array)"),
            "{d}"
        );
        // Outside arrays the full schema stays: the result's own fields and an inlined object.
        assert_eq!(light["required"], json!(["name", "items", "first"]));
        assert_eq!(light["properties"]["name"]["type"], "string");
        let first = &light["properties"]["first"];
        let alternatives = first["anyOf"].as_array().expect("anyOf");
        assert!(
            alternatives
                .iter()
                .any(|a| a["properties"]["id"]["type"] == "string"),
            "{first}"
        );
        let tags = &alternatives[0]["properties"]["tags"];
        assert_eq!(tags["description"], "Items: string.", "{first}");
    }

    #[test]
    fn unresolvable_refs_allow_anything() {
        let schema = json!({"type": "object", "properties": {"x": {"$ref": "#/$defs/Missing"}}});
        let light = lighten(schema.as_object().unwrap());
        assert_eq!(light["properties"]["x"], json!({}));
    }
}

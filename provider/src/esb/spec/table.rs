//! Validation of one DynamoDB table entry: the CreateTable fields ESB files use, checked the way
//! DynamoDB would check them, so mistakes surface at plan time with the field that causes them.

use std::collections::{BTreeMap, BTreeSet};

use galley_oci::echo::echo;
use serde_norway::Value;

use super::reader::{At, Obj, Reader};
use super::{
    AttributeType, Billing, GlobalIndex, KeySchema, LocalIndex, Projection, ProjectionType,
    StreamViewType, TableSpec, Throughput,
};

const TABLE_KEYS: &[&str] = &[
    "TableName",
    "KeySchema",
    "AttributeDefinitions",
    "BillingMode",
    "ProvisionedThroughput",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "StreamSpecification",
];
const KEY_ELEMENT_KEYS: &[&str] = &["AttributeName", "KeyType"];
const ATTRIBUTE_KEYS: &[&str] = &["AttributeName", "AttributeType"];
const THROUGHPUT_KEYS: &[&str] = &["ReadCapacityUnits", "WriteCapacityUnits"];
const GSI_KEYS: &[&str] = &[
    "IndexName",
    "KeySchema",
    "Projection",
    "ProvisionedThroughput",
];
const LSI_KEYS: &[&str] = &["IndexName", "KeySchema", "Projection"];
const PROJECTION_KEYS: &[&str] = &["ProjectionType", "NonKeyAttributes"];
const STREAM_KEYS: &[&str] = &["StreamEnabled", "StreamViewType"];

/// DynamoDB's own limits.
const MAX_GSIS: usize = 20;
const MAX_LSIS: usize = 5;

/// A key schema together with where each attribute name was written, so a missing attribute
/// definition can be reported at the exact `KeySchema[n].AttributeName`.
struct ReadKey {
    key: KeySchema,
    positions: Vec<(String, At)>,
}

pub(super) fn read_table(reader: &mut Reader<'_>, value: &Value, at: &At) -> Option<TableSpec> {
    let obj = reader.object(value, at, TABLE_KEYS)?;
    let problems_before = reader.problems.len();

    let name = reader.string(&obj, "TableName", true);
    if let Some(name) = &name {
        check_dynamodb_name(reader, &obj.at.key("TableName"), name, "table");
    }
    let key = read_key_schema(reader, &obj, "KeySchema");
    let attributes = read_attributes(reader, &obj);
    let billing = read_billing(reader, &obj);

    let mut index_names: BTreeMap<String, String> = BTreeMap::new();
    let mut global_indexes = Vec::new();
    let mut global_keys = Vec::new();
    let gsi_values = reader.list(&obj, "GlobalSecondaryIndexes", false);
    if gsi_values.is_some_and(|v| v.len() > MAX_GSIS) {
        reader.problem(
            &obj.at.key("GlobalSecondaryIndexes"),
            format!("DynamoDB allows at most {MAX_GSIS} global secondary indexes per table"),
        );
    }
    for (index, value) in gsi_values.unwrap_or_default().iter().enumerate() {
        let at = obj.at.key("GlobalSecondaryIndexes").index(index);
        let Some(gsi) = reader.object(value, &at, GSI_KEYS) else {
            continue;
        };
        let name = read_index_name(reader, &gsi, &mut index_names);
        let key = read_key_schema(reader, &gsi, "KeySchema");
        let projection = read_projection(reader, &gsi);
        let own_throughput = read_throughput(reader, &gsi);
        let throughput = match (&billing, own_throughput) {
            (Some(Billing::Provisioned(table)), None) => Some(*table),
            (Some(Billing::Provisioned(_)), Some(own)) => Some(own),
            (_, Some(_)) => {
                reader.warning(
                    &gsi.at.key("ProvisionedThroughput"),
                    "is ignored because the table's BillingMode is PAY_PER_REQUEST",
                );
                None
            }
            (_, None) => None,
        };
        if let Some(key) = &key {
            global_keys.push(key.positions.clone());
        }
        if let (Some(name), Some(key), Some(projection)) = (name, key, projection) {
            global_indexes.push(GlobalIndex {
                name,
                key: key.key,
                projection,
                throughput,
            });
        }
    }

    let mut local_indexes = Vec::new();
    let mut local_keys = Vec::new();
    let lsi_values = reader.list(&obj, "LocalSecondaryIndexes", false);
    if lsi_values.is_some_and(|v| v.len() > MAX_LSIS) {
        reader.problem(
            &obj.at.key("LocalSecondaryIndexes"),
            format!("DynamoDB allows at most {MAX_LSIS} local secondary indexes per table"),
        );
    }
    for (index, value) in lsi_values.unwrap_or_default().iter().enumerate() {
        let at = obj.at.key("LocalSecondaryIndexes").index(index);
        let Some(lsi) = reader.object(value, &at, LSI_KEYS) else {
            continue;
        };
        let name = read_index_name(reader, &lsi, &mut index_names);
        let lsi_key = read_key_schema(reader, &lsi, "KeySchema");
        let projection = read_projection(reader, &lsi);
        if let (Some(lsi_key), Some(table_key)) = (&lsi_key, &key) {
            let key_at = lsi.at.key("KeySchema");
            if lsi_key.key.hash != table_key.key.hash {
                reader.problem(
                    &key_at,
                    format!(
                        "a local secondary index must use the table's HASH attribute `{}`, \
                         not `{}`",
                        echo(&table_key.key.hash),
                        echo(&lsi_key.key.hash)
                    ),
                );
            }
            if lsi_key.key.range.is_none() {
                reader.problem(
                    &key_at,
                    "a local secondary index needs a RANGE attribute: add one",
                );
            }
            if table_key.key.range.is_none() {
                reader.problem(
                    &lsi.at,
                    "local secondary indexes need a table with a RANGE key: add a RANGE \
                     attribute to the table's KeySchema or use a global secondary index",
                );
            }
        }
        if let Some(lsi_key) = &lsi_key {
            local_keys.push(lsi_key.positions.clone());
        }
        if let (Some(name), Some(lsi_key), Some(projection)) = (name, lsi_key, projection) {
            local_indexes.push(LocalIndex {
                name,
                key: lsi_key.key,
                projection,
            });
        }
    }

    let stream = read_stream(reader, &obj);

    // Every key attribute needs a definition, and DynamoDB rejects definitions no key uses.
    if let Some(attributes) = &attributes {
        let mut used = BTreeSet::new();
        let all_keys = key
            .iter()
            .map(|k| &k.positions)
            .chain(global_keys.iter())
            .chain(local_keys.iter());
        for positions in all_keys {
            for (name, at) in positions {
                used.insert(name.clone());
                if !attributes.types.contains_key(name) {
                    reader.problem(
                        at,
                        format!(
                            "attribute `{name}` has no entry in AttributeDefinitions: add \
                             `{{AttributeName: {name}, AttributeType: S}}` (or N, B)",
                            name = echo(name)
                        ),
                    );
                }
            }
        }
        for (name, at) in &attributes.positions {
            if !used.contains(name) {
                reader.problem(
                    at,
                    format!(
                        "attribute `{}` is not part of the table key or any index key; \
                         DynamoDB only accepts key attributes here: remove it",
                        echo(name)
                    ),
                );
            }
        }
    }

    if reader.problems.len() != problems_before {
        return None;
    }
    Some(TableSpec {
        name: name?,
        key: key?.key,
        attributes: attributes?.types,
        billing: billing?,
        global_indexes,
        local_indexes,
        stream: stream?,
    })
}

/// Table and index names: 3 to 255 of `a-z A-Z 0-9 _ - .`.
fn check_dynamodb_name(reader: &mut Reader<'_>, at: &At, name: &str, what: &str) {
    let length = name.chars().count();
    if !(3..=255).contains(&length) {
        reader.problem(
            at,
            format!(
                "{what} name `{}` must be 3 to 255 characters long",
                echo(name)
            ),
        );
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        reader.problem(
            at,
            format!(
                "{what} name `{}` contains `{bad}`: use only letters, digits, `_`, `-` and `.`",
                echo(name)
            ),
        );
    }
}

fn read_index_name(
    reader: &mut Reader<'_>,
    index: &Obj<'_>,
    seen: &mut BTreeMap<String, String>,
) -> Option<String> {
    let name = reader.string(index, "IndexName", true)?;
    let at = index.at.key("IndexName");
    check_dynamodb_name(reader, &at, &name, "index");
    if let Some(first) = seen.get(&name) {
        reader.problem(
            &at,
            format!(
                "index `{}` is already declared at {first}: index names must be unique \
                 within a table",
                echo(&name)
            ),
        );
        return None;
    }
    seen.insert(name.clone(), at.field.clone());
    Some(name)
}

fn read_key_schema(reader: &mut Reader<'_>, obj: &Obj<'_>, key: &str) -> Option<ReadKey> {
    let at = obj.at.key(key);
    let elements = reader.list(obj, key, true)?;
    if elements.is_empty() {
        reader.problem(
            &at,
            "is empty: add one HASH attribute (and optionally one RANGE)",
        );
        return None;
    }
    let mut hash: Vec<String> = Vec::new();
    let mut range: Vec<String> = Vec::new();
    let mut positions = Vec::new();
    let mut complete = true;
    for (index, element) in elements.iter().enumerate() {
        let element_at = at.index(index);
        let Some(element) = reader.object(element, &element_at, KEY_ELEMENT_KEYS) else {
            complete = false;
            continue;
        };
        let name = reader.string(&element, "AttributeName", true);
        let kind = reader.choice(&element, "KeyType", true, &["HASH", "RANGE"]);
        match (name, kind) {
            (Some(name), Some(kind)) => {
                positions.push((name.clone(), element_at.key("AttributeName")));
                if kind == "HASH" {
                    hash.push(name);
                } else {
                    range.push(name);
                }
            }
            _ => complete = false,
        }
    }
    if !complete {
        return None;
    }
    let mut ok = true;
    if hash.len() != 1 {
        reader.problem(
            &at,
            format!(
                "needs exactly one HASH attribute, found {}{}",
                hash.len(),
                if hash.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", echo_all(&hash))
                }
            ),
        );
        ok = false;
    }
    if range.len() > 1 {
        reader.problem(
            &at,
            format!(
                "allows at most one RANGE attribute, found {} ({})",
                range.len(),
                echo_all(&range)
            ),
        );
        ok = false;
    }
    if let ([h], [r]) = (hash.as_slice(), range.as_slice()) {
        if h == r {
            reader.problem(
                &at,
                format!(
                    "uses `{}` as both HASH and RANGE: use two different attributes",
                    echo(h)
                ),
            );
            ok = false;
        }
    }
    if !ok {
        return None;
    }
    Some(ReadKey {
        key: KeySchema {
            hash: hash.remove(0),
            range: range.pop(),
        },
        positions,
    })
}

struct ReadAttributes {
    types: BTreeMap<String, AttributeType>,
    positions: Vec<(String, At)>,
}

fn read_attributes(reader: &mut Reader<'_>, obj: &Obj<'_>) -> Option<ReadAttributes> {
    let at = obj.at.key("AttributeDefinitions");
    let elements = reader.list(obj, "AttributeDefinitions", true)?;
    let mut types = BTreeMap::new();
    let mut positions = Vec::new();
    let mut complete = true;
    for (index, element) in elements.iter().enumerate() {
        let element_at = at.index(index);
        let Some(element) = reader.object(element, &element_at, ATTRIBUTE_KEYS) else {
            complete = false;
            continue;
        };
        let name = reader.string(&element, "AttributeName", true);
        let kind = reader
            .choice(&element, "AttributeType", true, &["S", "N", "B"])
            .and_then(|k| AttributeType::from_wire(&k));
        let (Some(name), Some(kind)) = (name, kind) else {
            complete = false;
            continue;
        };
        if types.insert(name.clone(), kind).is_some() {
            reader.problem(
                &element_at.key("AttributeName"),
                format!(
                    "attribute `{}` is defined twice: keep one definition",
                    echo(&name)
                ),
            );
            complete = false;
        }
        positions.push((name, element_at));
    }
    complete.then_some(ReadAttributes { types, positions })
}

fn read_throughput(reader: &mut Reader<'_>, obj: &Obj<'_>) -> Option<Throughput> {
    let value = obj.get("ProvisionedThroughput")?;
    let throughput = reader.object(value, &obj.at.key("ProvisionedThroughput"), THROUGHPUT_KEYS)?;
    let read = reader.positive(&throughput, "ReadCapacityUnits", true);
    let write = reader.positive(&throughput, "WriteCapacityUnits", true);
    Some(Throughput {
        read: read?,
        write: write?,
    })
}

fn read_billing(reader: &mut Reader<'_>, obj: &Obj<'_>) -> Option<Billing> {
    let mode = reader.choice(
        obj,
        "BillingMode",
        false,
        &["PAY_PER_REQUEST", "PROVISIONED"],
    );
    if obj.has("BillingMode") && mode.is_none() {
        return None;
    }
    let has_throughput = obj.has("ProvisionedThroughput");
    let throughput = read_throughput(reader, obj);
    if has_throughput && throughput.is_none() {
        return None;
    }
    match (mode.as_deref(), throughput) {
        (Some("PROVISIONED"), None) => {
            reader.problem(
                &obj.at.key("ProvisionedThroughput"),
                "is required when BillingMode is PROVISIONED: add \
                 `{ReadCapacityUnits: N, WriteCapacityUnits: N}` or use PAY_PER_REQUEST",
            );
            None
        }
        (Some("PAY_PER_REQUEST"), Some(_)) => {
            reader.warning(
                &obj.at.key("ProvisionedThroughput"),
                "is ignored because BillingMode is PAY_PER_REQUEST",
            );
            Some(Billing::PayPerRequest)
        }
        // Without a BillingMode, throughput means PROVISIONED (the DynamoDB API's default);
        // with neither, the table is on demand.
        (_, Some(throughput)) => Some(Billing::Provisioned(throughput)),
        (_, None) => Some(Billing::PayPerRequest),
    }
}

fn read_projection(reader: &mut Reader<'_>, index: &Obj<'_>) -> Option<Projection> {
    let at = index.at.key("Projection");
    let Some(value) = index.get("Projection") else {
        reader.problem(
            &at,
            "is required: add `{ProjectionType: ALL}` (or KEYS_ONLY, or INCLUDE with \
             NonKeyAttributes)",
        );
        return None;
    };
    let projection = reader.object(value, &at, PROJECTION_KEYS)?;
    let kind = reader
        .choice(
            &projection,
            "ProjectionType",
            true,
            &["ALL", "KEYS_ONLY", "INCLUDE"],
        )
        .and_then(|k| ProjectionType::from_wire(&k))?;
    let values = reader.list(&projection, "NonKeyAttributes", false)?;
    let mut names = Vec::new();
    for (position, value) in values.iter().enumerate() {
        match value {
            Value::String(name) if names.contains(name) => {
                reader.problem(
                    &at.key("NonKeyAttributes").index(position),
                    format!("`{}` is listed twice: keep one", echo(name)),
                );
                return None;
            }
            Value::String(name) => names.push(name.clone()),
            _ => {
                reader.problem(
                    &at.key("NonKeyAttributes").index(position),
                    "expected an attribute name",
                );
                return None;
            }
        }
    }
    match (kind, names.is_empty()) {
        (ProjectionType::Include, true) => {
            reader.problem(
                &at.key("NonKeyAttributes"),
                "is required when ProjectionType is INCLUDE: list the attributes to copy",
            );
            None
        }
        (ProjectionType::All | ProjectionType::KeysOnly, false) => {
            reader.problem(
                &at.key("NonKeyAttributes"),
                "is only allowed when ProjectionType is INCLUDE: remove it or use INCLUDE",
            );
            None
        }
        _ => {
            names.sort();
            Some(Projection {
                kind,
                non_key_attributes: names,
            })
        }
    }
}

/// `Some(None)` is "streams off"; `None` is "invalid".
fn read_stream(reader: &mut Reader<'_>, obj: &Obj<'_>) -> Option<Option<StreamViewType>> {
    let Some(value) = obj.get("StreamSpecification") else {
        return Some(None);
    };
    let stream = reader.object(value, &obj.at.key("StreamSpecification"), STREAM_KEYS)?;
    let enabled = reader.boolean(&stream, "StreamEnabled", true);
    let view = reader.choice(
        &stream,
        "StreamViewType",
        false,
        &["NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"],
    );
    if stream.has("StreamViewType") && view.is_none() {
        return None;
    }
    match (enabled?, view) {
        (true, Some(view)) => Some(StreamViewType::from_wire(&view)),
        (true, None) => {
            reader.problem(
                &stream.at.key("StreamViewType"),
                "is required when StreamEnabled is true: use NEW_IMAGE, OLD_IMAGE, \
                 NEW_AND_OLD_IMAGES or KEYS_ONLY",
            );
            None
        }
        (false, view) => {
            if view.is_some() {
                reader.warning(
                    &stream.at.key("StreamViewType"),
                    "is ignored because StreamEnabled is false",
                );
            }
            Some(None)
        }
    }
}

/// Names for a message, each bounded.
fn echo_all(names: &[String]) -> String {
    names
        .iter()
        .map(|n| echo(n).to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

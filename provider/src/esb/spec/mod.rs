//! The resources file (`resources.yml`): its typed model and its validation.
//!
//! Two shapes exist and both are accepted: the design document's top-level `DynamoDB:` / `S3:`
//! lists, and what ESB's generator writes, `resources: {dynamodb, s3, layers}`. Validation is
//! exhaustive: [`EsbSpec::parse`] returns every problem at once, each naming the source (file
//! name or `resources_yaml`), the item (`DynamoDB[1] (orders)`) and the field path
//! (`GlobalSecondaryIndexes[0].KeySchema[0].AttributeName`), so a plan fails before any server
//! is contacted. This module does no I/O.

mod bucket;
mod reader;
mod table;

use std::collections::BTreeMap;
use std::fmt;

use galley_oci::echo::echo;
use serde_norway::Value;

use reader::{At, Reader};

/// A validated resources file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EsbSpec {
    /// The file name, or `resources_yaml` for inline text; used in messages.
    pub source: String,
    pub shape: Shape,
    pub tables: Vec<TableSpec>,
    pub buckets: Vec<BucketSpec>,
    /// Things that were accepted but ignored (for example `layers` entries); never fatal.
    pub warnings: Vec<SpecProblem>,
}

/// Which of the two file shapes was used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Top-level `DynamoDB:` and `S3:` lists.
    TopLevel,
    /// `resources: {dynamodb, s3, layers}`.
    Resources,
}

/// A DynamoDB table as the file declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableSpec {
    pub name: String,
    pub key: KeySchema,
    /// Attribute name to type; only key attributes (of the table and its indexes) are allowed.
    pub attributes: BTreeMap<String, AttributeType>,
    pub billing: Billing,
    pub global_indexes: Vec<GlobalIndex>,
    pub local_indexes: Vec<LocalIndex>,
    /// `None` when streams are off.
    pub stream: Option<StreamViewType>,
}

/// A primary key (of a table or an index): one HASH attribute and at most one RANGE attribute.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeySchema {
    pub hash: String,
    pub range: Option<String>,
}

impl KeySchema {
    /// The attribute names in key order (HASH first).
    pub fn attributes(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.hash.as_str()).chain(self.range.as_deref())
    }
}

impl fmt::Display for KeySchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} HASH", self.hash)?;
        if let Some(range) = &self.range {
            write!(f, ", {range} RANGE")?;
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AttributeType {
    S,
    N,
    B,
}

impl AttributeType {
    pub fn as_str(self) -> &'static str {
        match self {
            AttributeType::S => "S",
            AttributeType::N => "N",
            AttributeType::B => "B",
        }
    }

    pub fn from_wire(text: &str) -> Option<AttributeType> {
        match text {
            "S" => Some(AttributeType::S),
            "N" => Some(AttributeType::N),
            "B" => Some(AttributeType::B),
            _ => None,
        }
    }
}

/// Read and write capacity units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Throughput {
    pub read: u64,
    pub write: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Billing {
    PayPerRequest,
    Provisioned(Throughput),
}

impl Billing {
    pub fn mode(&self) -> &'static str {
        match self {
            Billing::PayPerRequest => "PAY_PER_REQUEST",
            Billing::Provisioned(_) => "PROVISIONED",
        }
    }
}

impl fmt::Display for Billing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Billing::PayPerRequest => f.write_str("PAY_PER_REQUEST"),
            Billing::Provisioned(t) => {
                write!(f, "PROVISIONED ({} read, {} write)", t.read, t.write)
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalIndex {
    pub name: String,
    pub key: KeySchema,
    pub projection: Projection,
    /// Set exactly when the table is PROVISIONED (the table's throughput when the file gives none).
    pub throughput: Option<Throughput>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalIndex {
    pub name: String,
    pub key: KeySchema,
    pub projection: Projection,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Projection {
    pub kind: ProjectionType,
    /// Only for `INCLUDE`; sorted, because DynamoDB does not keep the order.
    pub non_key_attributes: Vec<String>,
}

impl fmt::Display for Projection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.as_str())?;
        if !self.non_key_attributes.is_empty() {
            write!(f, " [{}]", self.non_key_attributes.join(", "))?;
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProjectionType {
    All,
    KeysOnly,
    Include,
}

impl ProjectionType {
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectionType::All => "ALL",
            ProjectionType::KeysOnly => "KEYS_ONLY",
            ProjectionType::Include => "INCLUDE",
        }
    }

    pub fn from_wire(text: &str) -> Option<ProjectionType> {
        match text {
            "ALL" => Some(ProjectionType::All),
            "KEYS_ONLY" => Some(ProjectionType::KeysOnly),
            "INCLUDE" => Some(ProjectionType::Include),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamViewType {
    NewImage,
    OldImage,
    NewAndOldImages,
    KeysOnly,
}

impl StreamViewType {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamViewType::NewImage => "NEW_IMAGE",
            StreamViewType::OldImage => "OLD_IMAGE",
            StreamViewType::NewAndOldImages => "NEW_AND_OLD_IMAGES",
            StreamViewType::KeysOnly => "KEYS_ONLY",
        }
    }

    pub fn from_wire(text: &str) -> Option<StreamViewType> {
        match text {
            "NEW_IMAGE" => Some(StreamViewType::NewImage),
            "OLD_IMAGE" => Some(StreamViewType::OldImage),
            "NEW_AND_OLD_IMAGES" => Some(StreamViewType::NewAndOldImages),
            "KEYS_ONLY" => Some(StreamViewType::KeysOnly),
            _ => None,
        }
    }
}

/// An S3 bucket as the file declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketSpec {
    pub name: String,
    /// `None` when the file has no `LifecycleConfiguration`: the bucket's rules are then left as
    /// they are on buckets this resource adopted, and removed on buckets it created.
    /// `Some(vec![])` asks for no rules on any bucket.
    pub lifecycle: Option<Vec<LifecycleRule>>,
}

/// One lifecycle rule, in the flattened form ESB writes (`Id`, `Status`, `Prefix`,
/// `ExpirationInDays`, ...). Expressed on the wire as `Filter.Prefix` and nested actions.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LifecycleRule {
    pub id: Option<String>,
    pub enabled: bool,
    /// Empty means the whole bucket.
    pub prefix: String,
    pub expiration_days: Option<u64>,
    pub noncurrent_expiration_days: Option<u64>,
    pub abort_incomplete_upload_days: Option<u64>,
}

/// One problem (or warning) found in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecProblem {
    /// The file name or `resources_yaml`.
    pub source: String,
    /// The item, e.g. `DynamoDB[1] (orders)` or `resources.s3[0] (uploads)`.
    pub item: Option<String>,
    /// The field path inside the item (or from the top of the file when there is no item).
    pub field: Option<String>,
    /// What is wrong and what to do.
    pub message: String,
    /// 1-based position, known for YAML syntax errors only.
    pub line: Option<usize>,
    pub column: Option<usize>,
}

impl fmt::Display for SpecProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)?;
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(f, ":{line}:{column}")?;
        }
        if let Some(item) = &self.item {
            write!(f, ": {item}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found in one resources file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecError {
    pub source: String,
    pub problems: Vec<SpecProblem>,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.problems.as_slice() {
            [one] => write!(f, "failed to read {}: {one}", self.source),
            many => {
                write!(
                    f,
                    "failed to read {}: {} problems:",
                    self.source,
                    many.len()
                )?;
                for problem in many {
                    write!(f, "\n  - {problem}")?;
                }
                Ok(())
            }
        }
    }
}

// Written by hand: thiserror would read the `source` field as the error's cause.
impl std::error::Error for SpecError {}

const TOP_KEYS: &[&str] = &["DynamoDB", "S3", "resources"];
const RESOURCES_KEYS: &[&str] = &["dynamodb", "s3", "layers"];
const SHAPES_HINT: &str = "use either top-level `DynamoDB:` / `S3:` lists, or `resources:` with \
                           `dynamodb:` / `s3:` lists";

impl EsbSpec {
    /// Parses and validates a resources file. `source` names it in messages: the file name, or
    /// `resources_yaml` for inline text.
    pub fn parse(source: &str, text: &str) -> Result<EsbSpec, SpecError> {
        let value: Value = match serde_norway::from_str(text) {
            Ok(value) => value,
            Err(err) => {
                let location = err.location();
                let mut message = err.to_string();
                // The position is reported in its own fields; drop serde_norway's copy of it.
                if let Some(cut) = message.find(" at line ") {
                    message.truncate(cut);
                }
                return Err(SpecError {
                    source: source.to_owned(),
                    problems: vec![SpecProblem {
                        source: source.to_owned(),
                        item: None,
                        field: None,
                        message: format!("is not valid YAML: {message}"),
                        line: location.as_ref().map(|l| l.line()),
                        column: location.as_ref().map(|l| l.column()),
                    }],
                });
            }
        };

        let mut reader = Reader::new(source);
        let mut tables = Vec::new();
        let mut buckets = Vec::new();
        let shape = read_top(&mut reader, &value, &mut tables, &mut buckets);

        if reader.problems.is_empty() {
            Ok(EsbSpec {
                source: source.to_owned(),
                shape: shape.unwrap_or(Shape::Resources),
                tables,
                buckets,
                warnings: reader.warnings,
            })
        } else {
            Err(SpecError {
                source: source.to_owned(),
                problems: reader.problems,
            })
        }
    }

    /// Reads and parses a file; the path as given is the source named in messages. A file that
    /// cannot be read is one problem saying why.
    pub fn from_file(path: &std::path::Path) -> Result<EsbSpec, SpecError> {
        let source = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => EsbSpec::parse(&source, &text),
            Err(err) => Err(SpecError {
                source: source.clone(),
                problems: vec![SpecProblem {
                    source,
                    item: None,
                    field: None,
                    message: format!("cannot be read: {err}"),
                    line: None,
                    column: None,
                }],
            }),
        }
    }

    pub fn table(&self, name: &str) -> Option<&TableSpec> {
        self.tables.iter().find(|t| t.name == name)
    }

    pub fn bucket(&self, name: &str) -> Option<&BucketSpec> {
        self.buckets.iter().find(|b| b.name == name)
    }
}

/// Reads the top of the file and dispatches the lists; returns the shape when one was found.
fn read_top(
    reader: &mut Reader<'_>,
    value: &Value,
    tables: &mut Vec<TableSpec>,
    buckets: &mut Vec<BucketSpec>,
) -> Option<Shape> {
    let root = At::root("");
    if matches!(value, Value::Null) {
        reader.problem(&root, format!("the file is empty: {SHAPES_HINT}"));
        return None;
    }
    let top = reader.object(value, &root, TOP_KEYS)?;
    let top_level = top.contains("DynamoDB") || top.contains("S3");
    let resources = top.contains("resources");
    let shape = match (top_level, resources) {
        (true, true) => {
            reader.problem(
                &root,
                format!(
                    "the file uses both shapes (top-level `DynamoDB:`/`S3:` and `resources:`): \
                     {SHAPES_HINT}, not both"
                ),
            );
            return None;
        }
        (false, false) => {
            reader.problem(
                &root,
                format!("the file declares no resources: {SHAPES_HINT}"),
            );
            return None;
        }
        (true, false) => Shape::TopLevel,
        (false, true) => Shape::Resources,
    };

    let (table_values, bucket_values, table_label, bucket_label) = match shape {
        Shape::TopLevel => (
            reader.list(&top, "DynamoDB", false),
            reader.list(&top, "S3", false),
            "DynamoDB",
            "S3",
        ),
        Shape::Resources => {
            let Some(section_value) = top.get("resources") else {
                // `resources:` with nothing under it declares nothing, which is allowed.
                return Some(shape);
            };
            let section = reader.object(section_value, &At::root("resources"), RESOURCES_KEYS)?;
            for (index, layer) in reader
                .list(&section, "layers", false)
                .unwrap_or_default()
                .iter()
                .enumerate()
            {
                let name = match layer {
                    Value::Mapping(map) => map.get("Name").and_then(Value::as_str),
                    _ => None,
                };
                let at = At::item(label("resources.layers", index, name));
                reader.warning(
                    &at,
                    "layers are not provisioned by esb_resources; this entry is ignored",
                );
            }
            (
                reader.list(&section, "dynamodb", false),
                reader.list(&section, "s3", false),
                "resources.dynamodb",
                "resources.s3",
            )
        }
    };

    let mut seen_tables: BTreeMap<String, String> = BTreeMap::new();
    for (index, value) in table_values.unwrap_or_default().iter().enumerate() {
        let name = peek_name(value, "TableName");
        let item = label(table_label, index, name);
        if let Some(table) = table::read_table(reader, value, &At::item(item.clone())) {
            if let Some(first) = seen_tables.get(&table.name) {
                reader.problem(
                    &At::item(item).key("TableName"),
                    format!(
                        "table `{}` is already declared by {first}: table names must be unique",
                        echo(&table.name)
                    ),
                );
            } else {
                seen_tables.insert(table.name.clone(), item);
                tables.push(table);
            }
        }
    }

    let mut seen_buckets: BTreeMap<String, String> = BTreeMap::new();
    for (index, value) in bucket_values.unwrap_or_default().iter().enumerate() {
        let name = peek_name(value, "BucketName");
        let item = label(bucket_label, index, name);
        if let Some(bucket) = bucket::read_bucket(reader, value, &At::item(item.clone())) {
            if let Some(first) = seen_buckets.get(&bucket.name) {
                reader.problem(
                    &At::item(item).key("BucketName"),
                    format!(
                        "bucket `{}` is already declared by {first}: bucket names must be unique",
                        echo(&bucket.name)
                    ),
                );
            } else {
                seen_buckets.insert(bucket.name.clone(), item);
                buckets.push(bucket);
            }
        }
    }
    Some(shape)
}

fn peek_name<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    match value {
        Value::Mapping(map) => map.get(key).and_then(Value::as_str),
        _ => None,
    }
}

fn label(list: &str, index: usize, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("{list}[{index}] ({})", echo(name)),
        None => format!("{list}[{index}]"),
    }
}

#[cfg(test)]
mod tests;

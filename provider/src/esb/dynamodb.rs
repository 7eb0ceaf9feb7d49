//! The DynamoDB calls the engine needs (CreateTable, DescribeTable, UpdateTable, DeleteTable)
//! over the JSON 1.0 protocol, plus waits for ACTIVE and for deletion. Translates between the
//! typed spec and the wire shapes; decides nothing about what should exist.

use std::collections::BTreeMap;
use std::time::Duration;

use galley_oci::echo::echo;
use http::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::connection::Connection;
use super::error::{EsbError, Service};
use super::spec::{
    AttributeType, Billing, GlobalIndex, KeySchema, LocalIndex, Projection, ProjectionType,
    StreamViewType, TableSpec, Throughput,
};
use super::transport::{Call, Transport};

/// First poll interval while waiting; dynalite keeps new tables CREATING for about 500 ms, so
/// polling starts fast and slows down for servers that take longer.
const FIRST_POLL: Duration = Duration::from_millis(50);
const MAX_POLL: Duration = Duration::from_secs(2);

/// A DynamoDB client for one endpoint.
pub struct DynamoDb {
    transport: Transport,
    table_wait: Duration,
    stop: tokio_util::sync::CancellationToken,
}

/// Whether a create call made something new.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Created {
    New,
    AlreadyExisted,
}

/// A table as the server describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveTable {
    pub name: String,
    /// CREATING, UPDATING, DELETING, ACTIVE, ...
    pub status: String,
    pub key: KeySchema,
    pub attributes: BTreeMap<String, AttributeType>,
    pub billing: Billing,
    pub global_indexes: Vec<LiveIndex>,
    pub local_indexes: Vec<LiveIndex>,
    pub stream: Option<StreamViewType>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveIndex {
    pub name: String,
    pub key: KeySchema,
    pub projection: Projection,
    /// Global indexes only: CREATING, UPDATING, DELETING, ACTIVE.
    pub status: Option<String>,
    /// Global indexes of PROVISIONED tables only.
    pub throughput: Option<Throughput>,
}

impl LiveTable {
    /// ACTIVE, with every global index ACTIVE too.
    pub fn is_settled(&self) -> bool {
        self.status == "ACTIVE"
            && self
                .global_indexes
                .iter()
                .all(|i| i.status.as_deref().is_none_or(|s| s == "ACTIVE"))
    }

    fn unsettled_status(&self) -> String {
        if self.status != "ACTIVE" {
            return self.status.clone();
        }
        self.global_indexes
            .iter()
            .find(|i| i.status.as_deref().is_some_and(|s| s != "ACTIVE"))
            .map(|i| {
                format!(
                    "ACTIVE with index {} {}",
                    i.name,
                    i.status.as_deref().unwrap_or("")
                )
            })
            .unwrap_or_else(|| self.status.clone())
    }
}

/// One in-place change, sent as one UpdateTable call (DynamoDB allows one index creation or
/// deletion per call).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TableUpdate {
    /// Switches billing mode or table throughput; `index_throughput` sets the throughput of the
    /// global indexes that stay, which DynamoDB requires when switching to PROVISIONED.
    Billing {
        billing: Billing,
        index_throughput: Vec<(String, Throughput)>,
    },
    IndexThroughput {
        index: String,
        throughput: Throughput,
    },
    CreateIndex {
        index: GlobalIndex,
        /// Definitions of the new index's key attributes.
        attributes: BTreeMap<String, AttributeType>,
    },
    DeleteIndex {
        index: String,
    },
    Stream(Option<StreamViewType>),
}

impl DynamoDb {
    pub fn new(conn: &Connection) -> Result<DynamoDb, EsbError> {
        Ok(DynamoDb {
            transport: Transport::new(conn, Service::DynamoDb)?,
            table_wait: conn.timeouts.table_wait,
            stop: conn.stop.clone(),
        })
    }

    pub fn endpoint(&self) -> &str {
        self.transport.endpoint()
    }

    async fn call(&self, operation: &str, action: &str, body: &Value) -> Result<Value, EsbError> {
        let call = Call {
            action,
            method: Method::POST,
            path_and_query: "/".to_owned(),
            headers: vec![
                ("content-type", "application/x-amz-json-1.0".to_owned()),
                ("x-amz-target", format!("DynamoDB_20120810.{operation}")),
            ],
            body: body.to_string().into_bytes(),
        };
        let reply = self.transport.send(&call).await?;
        if reply.body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&reply.body).map_err(|e| self.decode(action, e.to_string()))
    }

    fn decode(&self, action: &str, detail: String) -> EsbError {
        EsbError::Decode {
            service: self.transport.service(),
            endpoint: self.endpoint().to_owned(),
            action: action.to_owned(),
            detail,
        }
    }

    /// CreateTable; an existing table (`ResourceInUseException`) is reported, not an error.
    pub async fn create_table(&self, table: &TableSpec) -> Result<Created, EsbError> {
        let action = format!("create table {}", echo(&table.name));
        match self
            .call("CreateTable", &action, &create_table_body(table))
            .await
        {
            Ok(_) => Ok(Created::New),
            Err(err) if err.code() == Some("ResourceInUseException") => Ok(Created::AlreadyExisted),
            Err(err) => Err(err),
        }
    }

    /// DescribeTable; `None` when the table does not exist.
    pub async fn describe_table(&self, name: &str) -> Result<Option<LiveTable>, EsbError> {
        let action = format!("describe table {}", echo(name));
        let body = match self
            .call("DescribeTable", &action, &json!({ "TableName": name }))
            .await
        {
            Ok(body) => body,
            Err(err) if err.code() == Some("ResourceNotFoundException") => return Ok(None),
            Err(err) => return Err(err),
        };
        let output: DescribeOutput =
            serde_json::from_value(body).map_err(|e| self.decode(&action, e.to_string()))?;
        live_table(output.table)
            .map(Some)
            .map_err(|detail| self.decode(&action, detail))
    }

    /// One UpdateTable call; does not wait.
    pub async fn update_table(&self, name: &str, update: &TableUpdate) -> Result<(), EsbError> {
        let action = format!("update table {} ({})", echo(name), describe_update(update));
        self.call("UpdateTable", &action, &update_table_body(name, update))
            .await
            .map(drop)
    }

    /// DeleteTable; `false` when there was no such table. Does not wait.
    pub async fn delete_table(&self, name: &str) -> Result<bool, EsbError> {
        let action = format!("delete table {}", echo(name));
        match self
            .call("DeleteTable", &action, &json!({ "TableName": name }))
            .await
        {
            Ok(_) => Ok(true),
            Err(err) if err.code() == Some("ResourceNotFoundException") => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Sleeps between polls, unless Terraform asks the provider to stop.
    async fn pause(&self, interval: Duration, table: &str, what: &str) -> Result<(), EsbError> {
        tokio::select! {
            _ = tokio::time::sleep(interval) => Ok(()),
            _ = self.stop.cancelled() => Err(EsbError::Stopped {
                action: format!("wait for table {} to {what}", echo(table)),
            }),
        }
    }

    /// Polls until the table and all its global indexes are ACTIVE.
    pub async fn wait_active(&self, name: &str) -> Result<LiveTable, EsbError> {
        let start = Instant::now();
        let mut interval = FIRST_POLL;
        loop {
            let status = match self.describe_table(name).await? {
                Some(table) if table.is_settled() => return Ok(table),
                Some(table) => table.unsettled_status(),
                None => "missing".to_owned(),
            };
            if start.elapsed() >= self.table_wait {
                return Err(EsbError::WaitTimeout {
                    endpoint: self.endpoint().to_owned(),
                    table: echo(name).to_string(),
                    status,
                    waited: start.elapsed(),
                });
            }
            tracing::debug!(
                table = %echo(name),
                status,
                "waiting for the table to become ACTIVE"
            );
            self.pause(interval, name, "become ACTIVE").await?;
            interval = (interval * 3 / 2).min(MAX_POLL);
        }
    }

    /// Polls until DescribeTable no longer finds the table, so its name can be used again.
    pub async fn wait_gone(&self, name: &str) -> Result<(), EsbError> {
        let start = Instant::now();
        let mut interval = FIRST_POLL;
        loop {
            let Some(table) = self.describe_table(name).await? else {
                return Ok(());
            };
            if start.elapsed() >= self.table_wait {
                return Err(EsbError::WaitTimeout {
                    endpoint: self.endpoint().to_owned(),
                    table: echo(name).to_string(),
                    status: table.status,
                    waited: start.elapsed(),
                });
            }
            self.pause(interval, name, "be deleted").await?;
            interval = (interval * 3 / 2).min(MAX_POLL);
        }
    }
}

fn key_schema_json(key: &KeySchema) -> Value {
    let mut elements = vec![json!({ "AttributeName": key.hash, "KeyType": "HASH" })];
    if let Some(range) = &key.range {
        elements.push(json!({ "AttributeName": range, "KeyType": "RANGE" }));
    }
    Value::Array(elements)
}

fn attributes_json(attributes: &BTreeMap<String, AttributeType>) -> Value {
    Value::Array(
        attributes
            .iter()
            .map(|(name, kind)| json!({ "AttributeName": name, "AttributeType": kind.as_str() }))
            .collect(),
    )
}

fn projection_json(projection: &Projection) -> Value {
    let mut value = json!({ "ProjectionType": projection.kind.as_str() });
    if !projection.non_key_attributes.is_empty() {
        value["NonKeyAttributes"] = json!(projection.non_key_attributes);
    }
    value
}

fn throughput_json(throughput: &Throughput) -> Value {
    json!({ "ReadCapacityUnits": throughput.read, "WriteCapacityUnits": throughput.write })
}

fn stream_json(stream: Option<StreamViewType>) -> Value {
    match stream {
        Some(view) => json!({ "StreamEnabled": true, "StreamViewType": view.as_str() }),
        None => json!({ "StreamEnabled": false }),
    }
}

fn global_index_json(index: &GlobalIndex) -> Value {
    let mut value = json!({
        "IndexName": index.name,
        "KeySchema": key_schema_json(&index.key),
        "Projection": projection_json(&index.projection),
    });
    if let Some(throughput) = &index.throughput {
        value["ProvisionedThroughput"] = throughput_json(throughput);
    }
    value
}

fn local_index_json(index: &LocalIndex) -> Value {
    json!({
        "IndexName": index.name,
        "KeySchema": key_schema_json(&index.key),
        "Projection": projection_json(&index.projection),
    })
}

pub(crate) fn create_table_body(table: &TableSpec) -> Value {
    let mut body = json!({
        "TableName": table.name,
        "KeySchema": key_schema_json(&table.key),
        "AttributeDefinitions": attributes_json(&table.attributes),
        "BillingMode": table.billing.mode(),
    });
    if let Billing::Provisioned(throughput) = &table.billing {
        body["ProvisionedThroughput"] = throughput_json(throughput);
    }
    // DynamoDB rejects empty index lists, so they are left out rather than sent empty.
    if !table.global_indexes.is_empty() {
        body["GlobalSecondaryIndexes"] =
            Value::Array(table.global_indexes.iter().map(global_index_json).collect());
    }
    if !table.local_indexes.is_empty() {
        body["LocalSecondaryIndexes"] =
            Value::Array(table.local_indexes.iter().map(local_index_json).collect());
    }
    if table.stream.is_some() {
        body["StreamSpecification"] = stream_json(table.stream);
    }
    body
}

pub(crate) fn update_table_body(name: &str, update: &TableUpdate) -> Value {
    let mut body = json!({ "TableName": name });
    match update {
        TableUpdate::Billing {
            billing,
            index_throughput,
        } => {
            body["BillingMode"] = json!(billing.mode());
            if let Billing::Provisioned(throughput) = billing {
                body["ProvisionedThroughput"] = throughput_json(throughput);
            }
            if !index_throughput.is_empty() {
                body["GlobalSecondaryIndexUpdates"] = Value::Array(
                    index_throughput
                        .iter()
                        .map(|(index, throughput)| {
                            json!({ "Update": {
                                "IndexName": index,
                                "ProvisionedThroughput": throughput_json(throughput),
                            }})
                        })
                        .collect(),
                );
            }
        }
        TableUpdate::IndexThroughput { index, throughput } => {
            body["GlobalSecondaryIndexUpdates"] = json!([{ "Update": {
                "IndexName": index,
                "ProvisionedThroughput": throughput_json(throughput),
            }}]);
        }
        TableUpdate::CreateIndex { index, attributes } => {
            body["AttributeDefinitions"] = attributes_json(attributes);
            body["GlobalSecondaryIndexUpdates"] = json!([{ "Create": global_index_json(index) }]);
        }
        TableUpdate::DeleteIndex { index } => {
            body["GlobalSecondaryIndexUpdates"] = json!([{ "Delete": { "IndexName": index } }]);
        }
        TableUpdate::Stream(stream) => {
            body["StreamSpecification"] = stream_json(*stream);
        }
    }
    body
}

/// A few words for messages and logs.
pub(crate) fn describe_update(update: &TableUpdate) -> String {
    match update {
        TableUpdate::Billing { billing, .. } => format!("billing to {billing}"),
        TableUpdate::IndexThroughput { index, throughput } => format!(
            "index {index} throughput to {} read, {} write",
            throughput.read, throughput.write
        ),
        TableUpdate::CreateIndex { index, .. } => format!("create index {}", echo(&index.name)),
        TableUpdate::DeleteIndex { index } => format!("delete index {}", echo(index)),
        TableUpdate::Stream(Some(view)) => format!("enable stream {}", view.as_str()),
        TableUpdate::Stream(None) => "disable stream".to_owned(),
    }
}

#[derive(Deserialize)]
struct DescribeOutput {
    #[serde(rename = "Table")]
    table: TableDescription,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TableDescription {
    table_name: String,
    #[serde(default)]
    table_status: Option<String>,
    #[serde(default)]
    key_schema: Vec<KeyElement>,
    #[serde(default)]
    attribute_definitions: Vec<AttributeDefinition>,
    #[serde(default)]
    billing_mode_summary: Option<BillingModeSummary>,
    #[serde(default)]
    provisioned_throughput: Option<ThroughputDescription>,
    #[serde(default)]
    global_secondary_indexes: Vec<IndexDescription>,
    #[serde(default)]
    local_secondary_indexes: Vec<IndexDescription>,
    #[serde(default)]
    stream_specification: Option<StreamDescription>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyElement {
    attribute_name: String,
    key_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AttributeDefinition {
    attribute_name: String,
    attribute_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BillingModeSummary {
    #[serde(default)]
    billing_mode: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ThroughputDescription {
    #[serde(default)]
    read_capacity_units: Option<u64>,
    #[serde(default)]
    write_capacity_units: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IndexDescription {
    index_name: String,
    #[serde(default)]
    key_schema: Vec<KeyElement>,
    #[serde(default)]
    projection: Option<ProjectionDescription>,
    #[serde(default)]
    index_status: Option<String>,
    #[serde(default)]
    provisioned_throughput: Option<ThroughputDescription>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProjectionDescription {
    #[serde(default)]
    projection_type: Option<String>,
    #[serde(default)]
    non_key_attributes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StreamDescription {
    #[serde(default)]
    stream_enabled: Option<bool>,
    #[serde(default)]
    stream_view_type: Option<String>,
}

fn live_key(elements: &[KeyElement], owner: &str) -> Result<KeySchema, String> {
    let find = |kind: &str| {
        elements
            .iter()
            .find(|e| e.key_type == kind)
            .map(|e| e.attribute_name.clone())
    };
    let hash = find("HASH").ok_or_else(|| format!("{owner} has no HASH key"))?;
    Ok(KeySchema {
        hash,
        range: find("RANGE"),
    })
}

fn live_projection(projection: Option<ProjectionDescription>) -> Result<Projection, String> {
    let Some(projection) = projection else {
        return Ok(Projection {
            kind: ProjectionType::All,
            non_key_attributes: Vec::new(),
        });
    };
    let kind = match projection.projection_type.as_deref() {
        None => ProjectionType::All,
        Some(text) => ProjectionType::from_wire(text)
            .ok_or_else(|| format!("unknown ProjectionType {text}"))?,
    };
    let mut non_key_attributes = projection.non_key_attributes;
    non_key_attributes.sort();
    Ok(Projection {
        kind,
        non_key_attributes,
    })
}

fn live_throughput(description: Option<&ThroughputDescription>) -> Option<Throughput> {
    let description = description?;
    Some(Throughput {
        read: description.read_capacity_units.unwrap_or(0),
        write: description.write_capacity_units.unwrap_or(0),
    })
}

fn live_table(table: TableDescription) -> Result<LiveTable, String> {
    let key = live_key(&table.key_schema, &format!("table {}", table.table_name))?;
    let mut attributes = BTreeMap::new();
    for definition in &table.attribute_definitions {
        let kind = AttributeType::from_wire(&definition.attribute_type).ok_or_else(|| {
            format!(
                "attribute {} has unknown type {}",
                definition.attribute_name, definition.attribute_type
            )
        })?;
        attributes.insert(definition.attribute_name.clone(), kind);
    }
    let table_throughput = live_throughput(table.provisioned_throughput.as_ref());
    // Real DynamoDB omits BillingModeSummary for tables that were always PROVISIONED; other
    // servers report zero throughput for on-demand tables.
    let provisioned = match table
        .billing_mode_summary
        .as_ref()
        .and_then(|s| s.billing_mode.as_deref())
    {
        Some("PAY_PER_REQUEST") => false,
        Some(_) => true,
        None => table_throughput.is_some_and(|t| t.read > 0 || t.write > 0),
    };
    let billing = if provisioned {
        Billing::Provisioned(table_throughput.unwrap_or(Throughput { read: 0, write: 0 }))
    } else {
        Billing::PayPerRequest
    };
    let mut global_indexes = Vec::new();
    for index in table.global_secondary_indexes {
        global_indexes.push(LiveIndex {
            key: live_key(&index.key_schema, &format!("index {}", index.index_name))?,
            projection: live_projection(index.projection)?,
            status: index.index_status,
            throughput: if provisioned {
                live_throughput(index.provisioned_throughput.as_ref())
            } else {
                None
            },
            name: index.index_name,
        });
    }
    let mut local_indexes = Vec::new();
    for index in table.local_secondary_indexes {
        local_indexes.push(LiveIndex {
            key: live_key(&index.key_schema, &format!("index {}", index.index_name))?,
            projection: live_projection(index.projection)?,
            status: None,
            throughput: None,
            name: index.index_name,
        });
    }
    let stream = match table.stream_specification {
        Some(StreamDescription {
            stream_enabled: Some(true),
            stream_view_type: Some(view),
        }) => Some(
            StreamViewType::from_wire(&view)
                .ok_or_else(|| format!("unknown StreamViewType {view}"))?,
        ),
        _ => None,
    };
    Ok(LiveTable {
        name: table.table_name,
        status: table.table_status.unwrap_or_else(|| "ACTIVE".to_owned()),
        key,
        attributes,
        billing,
        global_indexes,
        local_indexes,
        stream,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::esb::spec::EsbSpec;

    #[test]
    fn create_body_has_only_what_the_spec_sets() {
        let spec = EsbSpec::parse(
            "t.yml",
            r#"
DynamoDB:
  - TableName: orders
    KeySchema: [{AttributeName: pk, KeyType: HASH}, {AttributeName: sk, KeyType: RANGE}]
    AttributeDefinitions:
      - {AttributeName: pk, AttributeType: S}
      - {AttributeName: sk, AttributeType: N}
      - {AttributeName: g, AttributeType: S}
    BillingMode: PROVISIONED
    ProvisionedThroughput: {ReadCapacityUnits: 2, WriteCapacityUnits: 3}
    GlobalSecondaryIndexes:
      - IndexName: by-g
        KeySchema: [{AttributeName: g, KeyType: HASH}]
        Projection: {ProjectionType: INCLUDE, NonKeyAttributes: [b, a]}
    StreamSpecification: {StreamEnabled: true, StreamViewType: NEW_IMAGE}
"#,
        )
        .unwrap();
        let body = create_table_body(&spec.tables[0]);
        assert_eq!(body["BillingMode"], "PROVISIONED");
        assert_eq!(body["ProvisionedThroughput"]["WriteCapacityUnits"], 3);
        assert_eq!(body["KeySchema"][1]["KeyType"], "RANGE");
        let gsi = &body["GlobalSecondaryIndexes"][0];
        assert_eq!(
            gsi["ProvisionedThroughput"]["ReadCapacityUnits"], 2,
            "table's throughput"
        );
        assert_eq!(gsi["Projection"]["NonKeyAttributes"], json!(["a", "b"]));
        assert!(body.get("LocalSecondaryIndexes").is_none());
        assert_eq!(body["StreamSpecification"]["StreamViewType"], "NEW_IMAGE");
    }

    #[test]
    fn describe_output_is_read_including_defaults() {
        let raw = json!({"Table": {
            "TableName": "t", "TableStatus": "ACTIVE",
            "KeySchema": [{"AttributeName": "sk", "KeyType": "RANGE"}, {"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
            "ProvisionedThroughput": {"ReadCapacityUnits": 0, "WriteCapacityUnits": 0},
            "GlobalSecondaryIndexes": [{"IndexName": "g", "KeySchema": [{"AttributeName": "sk", "KeyType": "HASH"}],
              "Projection": {"ProjectionType": "KEYS_ONLY"}, "IndexStatus": "CREATING"}]
        }});
        let output: DescribeOutput = serde_json::from_value(raw).unwrap();
        let table = live_table(output.table).unwrap();
        assert_eq!(table.key.hash, "pk");
        assert_eq!(table.key.range.as_deref(), Some("sk"));
        assert_eq!(table.billing, Billing::PayPerRequest);
        assert!(!table.is_settled(), "an index is still CREATING");
        assert_eq!(table.stream, None);
    }
}

//! Pure comparisons between the file and what the servers report: which differences can be
//! applied in place (and as which calls), and which would need a table re-created (reported,
//! never done). No I/O, so plan-time code and tests can use it directly.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use galley_oci::echo::echo;

use crate::esb::dynamodb::{LiveIndex, LiveTable, TableUpdate};
use crate::esb::s3::LiveRule;
use crate::esb::spec::{
    AttributeType, Billing, BucketSpec, EsbSpec, GlobalIndex, KeySchema, LifecycleRule, TableSpec,
};

use super::Observed;

/// A difference on an existing table that DynamoDB cannot apply in place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeProblem {
    pub table: String,
    /// What differs: `KeySchema`, `AttributeDefinitions (pk)`, `LocalSecondaryIndexes (by-date)`.
    pub field: String,
    /// The value on the server.
    pub live: String,
    /// The value in the file.
    pub file: String,
}

impl ChangeProblem {
    /// What to do about it.
    pub fn hint(&self) -> &'static str {
        "changing this needs the table deleted and created again, which loses its items, so it \
         is never done automatically: delete the table yourself if that is intended (the next \
         apply creates it), or put the server's value back in the file"
    }

    pub fn describe_all(problems: &[ChangeProblem]) -> String {
        problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl fmt::Display for ChangeProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "table {}: {} cannot change in place (on the server: {}; in the file: {}): {}",
            self.table,
            self.field,
            self.live,
            self.file,
            self.hint()
        )
    }
}

/// Differences on existing tables that would need them re-created.
pub fn check_changes(spec: &EsbSpec, observed: &Observed) -> Vec<ChangeProblem> {
    let mut problems = Vec::new();
    for table in &spec.tables {
        if let Some(Some(live)) = observed.tables.get(&table.name) {
            problems.extend(table_problems(table, live));
        }
    }
    problems
}

fn key_types(key: &KeySchema, attributes: &BTreeMap<String, AttributeType>) -> String {
    key.attributes()
        .map(|a| match attributes.get(a) {
            Some(t) => format!("{a} {}", t.as_str()),
            None => format!("{a} ?"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn table_problems(spec: &TableSpec, live: &LiveTable) -> Vec<ChangeProblem> {
    let mut problems = Vec::new();
    let problem = |field: String, live: String, file: String| ChangeProblem {
        table: spec.name.clone(),
        field,
        live,
        file,
    };
    if spec.key != live.key {
        problems.push(problem(
            "KeySchema".to_owned(),
            live.key.to_string(),
            spec.key.to_string(),
        ));
    }
    // Types of the key attributes, including local index keys (which are fixed with the table).
    let mut fixed: BTreeSet<&str> = spec.key.attributes().collect();
    for index in &spec.local_indexes {
        fixed.extend(index.key.attributes());
    }
    for name in fixed {
        if let (Some(want), Some(have)) = (spec.attributes.get(name), live.attributes.get(name)) {
            if want != have {
                problems.push(problem(
                    format!("AttributeDefinitions ({})", echo(name)),
                    format!("type {}", have.as_str()),
                    format!("type {}", want.as_str()),
                ));
            }
        }
    }
    let live_lsis: BTreeMap<&str, &LiveIndex> = live
        .local_indexes
        .iter()
        .map(|i| (i.name.as_str(), i))
        .collect();
    let spec_lsis: BTreeMap<&str, _> = spec
        .local_indexes
        .iter()
        .map(|i| (i.name.as_str(), i))
        .collect();
    for (name, index) in &spec_lsis {
        let field = format!("LocalSecondaryIndexes ({})", echo(name));
        let file = format!("{}; projection {}", index.key, index.projection);
        match live_lsis.get(name) {
            None => problems.push(problem(field, "no such index".to_owned(), file)),
            Some(have) if have.key != index.key || have.projection != index.projection => problems
                .push(problem(
                    field,
                    format!("{}; projection {}", have.key, have.projection),
                    file,
                )),
            Some(_) => {}
        }
    }
    for (name, have) in &live_lsis {
        if !spec_lsis.contains_key(name) {
            problems.push(problem(
                format!("LocalSecondaryIndexes ({})", echo(name)),
                format!("{}; projection {}", have.key, have.projection),
                "no such index".to_owned(),
            ));
        }
    }
    problems
}

/// Whether a live global index matches the file's: same key (names and types) and projection.
fn same_index(
    spec: &GlobalIndex,
    spec_attributes: &BTreeMap<String, AttributeType>,
    live: &LiveIndex,
    live_attributes: &BTreeMap<String, AttributeType>,
) -> bool {
    spec.key == live.key
        && spec.projection == live.projection
        && key_types(&spec.key, spec_attributes) == key_types(&live.key, live_attributes)
}

/// The UpdateTable calls, in order, that make an existing table match the file, leaving out
/// what [`check_changes`] reports. Index deletions come first (so billing switches need not
/// mention doomed indexes), then billing and throughput, then index creations, then streams.
pub fn table_updates(spec: &TableSpec, live: &LiveTable) -> Vec<TableUpdate> {
    let mut updates = Vec::new();
    let spec_gsis: BTreeMap<&str, &GlobalIndex> = spec
        .global_indexes
        .iter()
        .map(|i| (i.name.as_str(), i))
        .collect();

    let mut kept: Vec<&GlobalIndex> = Vec::new();
    let mut to_create: Vec<&GlobalIndex> = Vec::new();
    for have in &live.global_indexes {
        match spec_gsis.get(have.name.as_str()) {
            Some(want) if same_index(want, &spec.attributes, have, &live.attributes) => {
                kept.push(want)
            }
            Some(want) => {
                updates.push(TableUpdate::DeleteIndex {
                    index: have.name.clone(),
                });
                to_create.push(want);
            }
            None => updates.push(TableUpdate::DeleteIndex {
                index: have.name.clone(),
            }),
        }
    }
    for want in &spec.global_indexes {
        if !live.global_indexes.iter().any(|i| i.name == want.name) {
            to_create.push(want);
        }
    }

    let mode_changes = spec.billing.mode() != live.billing.mode();
    if mode_changes || spec.billing != live.billing {
        let index_throughput = if mode_changes {
            kept.iter()
                .filter_map(|i| i.throughput.map(|t| (i.name.clone(), t)))
                .collect()
        } else {
            Vec::new()
        };
        updates.push(TableUpdate::Billing {
            billing: spec.billing,
            index_throughput,
        });
    }
    if !mode_changes && matches!(spec.billing, Billing::Provisioned(_)) {
        for want in &kept {
            let have = live.global_indexes.iter().find(|i| i.name == want.name);
            if let (Some(throughput), Some(have)) = (want.throughput, have) {
                if have.throughput != Some(throughput) {
                    updates.push(TableUpdate::IndexThroughput {
                        index: want.name.clone(),
                        throughput,
                    });
                }
            }
        }
    }

    // Some servers replace the table's attribute definitions with the ones sent, so each
    // creation sends every key attribute that exists once the index is there.
    let mut in_use: BTreeSet<&str> = spec.key.attributes().collect();
    for index in &spec.local_indexes {
        in_use.extend(index.key.attributes());
    }
    for index in &kept {
        in_use.extend(index.key.attributes());
    }
    for want in to_create {
        in_use.extend(want.key.attributes());
        let attributes = in_use
            .iter()
            .filter_map(|a| spec.attributes.get(*a).map(|t| ((*a).to_owned(), *t)))
            .collect();
        updates.push(TableUpdate::CreateIndex {
            index: want.clone(),
            attributes,
        });
    }

    if spec.stream != live.stream {
        if spec.stream.is_some() && live.stream.is_some() {
            // A stream's view type cannot change while it is on.
            updates.push(TableUpdate::Stream(None));
        }
        updates.push(TableUpdate::Stream(spec.stream));
    }
    updates
}

/// What to do with a bucket's lifecycle rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LifecycleChange {
    Put(Vec<LifecycleRule>),
    Remove,
}

/// Whether the server's rules are the file's rules. A rule without `Id` in the file matches
/// whatever id the server gave it; order does not matter.
pub fn rules_match(want: &[LifecycleRule], have: &[LiveRule]) -> bool {
    if want.len() != have.len() {
        return false;
    }
    let mut used = vec![false; have.len()];
    want.iter().all(|rule| {
        let found = have.iter().enumerate().position(|(i, live)| {
            !used[i]
                && !live.unmodeled
                && (rule.id.is_none() || rule.id == live.rule.id)
                && LifecycleRule {
                    id: None,
                    ..rule.clone()
                } == LifecycleRule {
                    id: None,
                    ..live.rule.clone()
                }
        });
        match found {
            Some(i) => {
                used[i] = true;
                true
            }
            None => false,
        }
    })
}

/// The lifecycle change a bucket needs. `live` is `None` when the rules could not be read (the
/// server does not implement them). Rules on an adopted bucket whose file entry has no
/// `LifecycleConfiguration` are left alone; on a bucket this resource created they are removed.
pub fn lifecycle_change(
    spec: &BucketSpec,
    live: Option<&[LiveRule]>,
    owned: bool,
) -> Option<LifecycleChange> {
    match (&spec.lifecycle, live) {
        (Some(want), live) if !want.is_empty() => match live {
            Some(have) if rules_match(want, have) => None,
            _ => Some(LifecycleChange::Put(want.clone())),
        },
        (Some(_), Some(have)) if !have.is_empty() => Some(LifecycleChange::Remove),
        (None, Some(have)) if owned && !have.is_empty() => Some(LifecycleChange::Remove),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::esb::dynamodb::LiveIndex;
    use crate::esb::spec::{Projection, ProjectionType, StreamViewType, Throughput};

    fn spec_table(yaml: &str) -> TableSpec {
        EsbSpec::parse("t.yml", yaml).unwrap().tables.remove(0)
    }

    fn live_from(spec: &TableSpec) -> LiveTable {
        let index =
            |name: &str, key: &KeySchema, projection: &Projection, t: Option<Throughput>| {
                LiveIndex {
                    name: name.to_owned(),
                    key: key.clone(),
                    projection: projection.clone(),
                    status: Some("ACTIVE".to_owned()),
                    throughput: t,
                }
            };
        LiveTable {
            name: spec.name.clone(),
            status: "ACTIVE".to_owned(),
            key: spec.key.clone(),
            attributes: spec.attributes.clone(),
            billing: spec.billing,
            global_indexes: spec
                .global_indexes
                .iter()
                .map(|i| index(&i.name, &i.key, &i.projection, i.throughput))
                .collect(),
            local_indexes: spec
                .local_indexes
                .iter()
                .map(|i| LiveIndex {
                    status: None,
                    ..index(&i.name, &i.key, &i.projection, None)
                })
                .collect(),
            stream: spec.stream,
        }
    }

    const BASE: &str = r#"
DynamoDB:
  - TableName: orders
    KeySchema: [{AttributeName: pk, KeyType: HASH}, {AttributeName: sk, KeyType: RANGE}]
    AttributeDefinitions:
      - {AttributeName: pk, AttributeType: S}
      - {AttributeName: sk, AttributeType: S}
      - {AttributeName: g, AttributeType: S}
      - {AttributeName: d, AttributeType: N}
    GlobalSecondaryIndexes:
      - IndexName: by-g
        KeySchema: [{AttributeName: g, KeyType: HASH}]
        Projection: {ProjectionType: ALL}
    LocalSecondaryIndexes:
      - IndexName: by-d
        KeySchema: [{AttributeName: pk, KeyType: HASH}, {AttributeName: d, KeyType: RANGE}]
        Projection: {ProjectionType: KEYS_ONLY}
"#;

    #[test]
    fn an_identical_table_needs_nothing() {
        let spec = spec_table(BASE);
        let live = live_from(&spec);
        assert!(table_updates(&spec, &live).is_empty());
        assert!(table_problems(&spec, &live).is_empty());
    }

    #[test]
    fn key_schema_and_key_types_and_lsis_are_problems() {
        let spec = spec_table(BASE);
        let mut live = live_from(&spec);
        live.key.range = None;
        live.attributes.insert("pk".into(), AttributeType::N);
        live.local_indexes[0].projection.kind = ProjectionType::All;
        let problems = table_problems(&spec, &live);
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "KeySchema",
                "AttributeDefinitions (pk)",
                "LocalSecondaryIndexes (by-d)"
            ]
        );
        assert_eq!(problems[0].live, "pk HASH");
        assert_eq!(problems[0].file, "pk HASH, sk RANGE");
        let text = problems[1].to_string();
        assert!(
            text.contains("table orders") && text.contains("delete the table yourself"),
            "{text}"
        );

        let mut live = live_from(&spec);
        live.local_indexes.clear();
        assert_eq!(table_problems(&spec, &live)[0].live, "no such index");
    }

    #[test]
    fn index_changes_are_deletes_then_creates_with_all_key_attributes() {
        let spec = spec_table(BASE);
        let mut live = live_from(&spec);
        live.global_indexes[0].projection = Projection {
            kind: ProjectionType::KeysOnly,
            non_key_attributes: vec![],
        };
        live.global_indexes.push(LiveIndex {
            name: "old".into(),
            ..live.global_indexes[0].clone()
        });
        let updates = table_updates(&spec, &live);
        assert_eq!(updates.len(), 3, "{updates:?}");
        assert_eq!(
            updates[0],
            TableUpdate::DeleteIndex {
                index: "by-g".into()
            }
        );
        assert_eq!(
            updates[1],
            TableUpdate::DeleteIndex {
                index: "old".into()
            }
        );
        let TableUpdate::CreateIndex { index, attributes } = &updates[2] else {
            panic!("{updates:?}")
        };
        assert_eq!(index.name, "by-g");
        let names: Vec<&str> = attributes.keys().map(String::as_str).collect();
        assert_eq!(names, ["d", "g", "pk", "sk"]);
    }

    #[test]
    fn billing_switch_carries_index_throughput_and_streams_restart() {
        let mut spec = spec_table(BASE);
        let live = live_from(&spec);
        let t = Throughput { read: 3, write: 4 };
        spec.billing = Billing::Provisioned(t);
        spec.global_indexes[0].throughput = Some(t);
        spec.stream = Some(StreamViewType::NewImage);
        let mut live = live;
        live.stream = Some(StreamViewType::KeysOnly);
        let updates = table_updates(&spec, &live);
        assert_eq!(
            updates,
            vec![
                TableUpdate::Billing {
                    billing: Billing::Provisioned(t),
                    index_throughput: vec![("by-g".into(), t)],
                },
                TableUpdate::Stream(None),
                TableUpdate::Stream(Some(StreamViewType::NewImage)),
            ]
        );

        // Same mode, new index throughput: one index update and nothing else.
        let mut live = live_from(&spec);
        live.global_indexes[0].throughput = Some(Throughput { read: 1, write: 1 });
        assert_eq!(
            table_updates(&spec, &live),
            vec![TableUpdate::IndexThroughput {
                index: "by-g".into(),
                throughput: t
            }]
        );
    }

    fn rule(id: Option<&str>, days: u64) -> LifecycleRule {
        LifecycleRule {
            id: id.map(str::to_owned),
            enabled: true,
            prefix: "tmp/".into(),
            expiration_days: Some(days),
            noncurrent_expiration_days: None,
            abort_incomplete_upload_days: None,
        }
    }

    fn live(rule: LifecycleRule) -> LiveRule {
        LiveRule {
            rule,
            unmodeled: false,
        }
    }

    #[test]
    fn lifecycle_rules_compare_without_order_and_generated_ids() {
        let want = vec![rule(None, 7), rule(Some("b"), 3)];
        let have = vec![live(rule(Some("b"), 3)), live(rule(Some("generated"), 7))];
        assert!(rules_match(&want, &have));
        let have = vec![live(rule(Some("b"), 3)), live(rule(Some("x"), 8))];
        assert!(!rules_match(&want, &have));
        let mut odd = live(rule(Some("b"), 3));
        odd.unmodeled = true;
        assert!(!rules_match(&[rule(Some("b"), 3)], &[odd]));
    }

    #[test]
    fn lifecycle_change_follows_ownership_when_the_file_is_silent() {
        let with = BucketSpec {
            name: "b".into(),
            lifecycle: Some(vec![rule(Some("a"), 7)]),
        };
        let silent = BucketSpec {
            name: "b".into(),
            lifecycle: None,
        };
        let empty = BucketSpec {
            name: "b".into(),
            lifecycle: Some(vec![]),
        };
        let some = vec![live(rule(Some("a"), 7))];
        assert_eq!(lifecycle_change(&with, Some(&some), false), None);
        assert_eq!(
            lifecycle_change(&with, Some(&[]), false),
            Some(LifecycleChange::Put(vec![rule(Some("a"), 7)]))
        );
        assert_eq!(
            lifecycle_change(&with, None, false),
            Some(LifecycleChange::Put(vec![rule(Some("a"), 7)]))
        );
        assert_eq!(lifecycle_change(&silent, Some(&some), false), None);
        assert_eq!(
            lifecycle_change(&silent, Some(&some), true),
            Some(LifecycleChange::Remove)
        );
        assert_eq!(
            lifecycle_change(&empty, Some(&some), false),
            Some(LifecycleChange::Remove)
        );
        assert_eq!(lifecycle_change(&empty, None, true), None);
    }
}

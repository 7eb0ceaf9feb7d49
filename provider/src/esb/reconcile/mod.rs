//! The idempotent engine: makes the servers match the file.
//!
//! Ownership is the rule that keeps it safe: [`Owned`] lists what this resource created.
//! Something that already existed is adopted (managed, never an error) but never owned, so it is
//! never deleted. Owned things that leave the file, or all of them on destroy, are deleted; a
//! non-empty bucket only with `force_destroy`. On any error the caller gets what is owned at that
//! moment ([`ApplyFailure::owned`]), so partial state can be saved and nothing is orphaned.
//!
//! - [`observe`] reads what exists (refresh, plan); [`existing`] only which names exist
//!   (refresh and import of names, without a file).
//! - [`plan_names`] (no I/O) and [`plan`] (from an observation) say what apply would do.
//! - [`check_changes`] lists differences that would need a table re-created; [`apply`] refuses
//!   them, so nothing is ever re-created silently.
//! - [`apply`] and [`destroy`] make the changes.

mod diff;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::connection::Connection;
use super::dynamodb::{Created, DynamoDb, LiveTable, describe_update};
use super::error::EsbError;
use super::s3::{LiveRule, S3};
use super::spec::{EsbSpec, Shape};

pub use diff::{
    ChangeProblem, LifecycleChange, check_changes, lifecycle_change, rules_match, table_updates,
};

/// What this resource created, by name. Adopted tables and buckets are not in it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owned {
    pub tables: BTreeSet<String>,
    pub buckets: BTreeSet<String>,
}

impl Owned {
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty() && self.buckets.is_empty()
    }
}

/// A bucket as observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveBucket {
    /// The lifecycle rules; `None` when they were not read (the file does not manage them) or
    /// the server does not implement them.
    pub lifecycle: Option<Vec<LiveRule>>,
}

/// What exists now, for every table and bucket named in the file or owned. `None` = absent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    pub tables: BTreeMap<String, Option<LiveTable>>,
    pub buckets: BTreeMap<String, Option<LiveBucket>>,
}

impl Observed {
    /// Unknown names count as existing: only an observed absence changes anything.
    pub fn table_exists(&self, name: &str) -> bool {
        !matches!(self.tables.get(name), Some(None))
    }

    pub fn bucket_exists(&self, name: &str) -> bool {
        !matches!(self.buckets.get(name), Some(None))
    }

    /// The owned things that still exist. Refresh keeps this as the new owned set, so a table or
    /// bucket deleted out of band leaves the state and the next apply creates it again.
    pub fn still_owned(&self, owned: &Owned) -> Owned {
        Owned {
            tables: owned
                .tables
                .iter()
                .filter(|t| self.table_exists(t))
                .cloned()
                .collect(),
            buckets: owned
                .buckets
                .iter()
                .filter(|b| self.bucket_exists(b))
                .cloned()
                .collect(),
        }
    }
}

/// Reads the current state of every table and bucket in the file or in `owned`. Needs only the
/// endpoints that are used: a file without buckets never contacts S3.
pub async fn observe(
    conn: &Connection,
    spec: &EsbSpec,
    owned: &Owned,
) -> Result<Observed, EsbError> {
    let mut observed = Observed::default();

    let table_names: BTreeSet<&str> = spec
        .tables
        .iter()
        .map(|t| t.name.as_str())
        .chain(owned.tables.iter().map(String::as_str))
        .collect();
    if !table_names.is_empty() {
        let db = DynamoDb::new(conn)?;
        for name in table_names {
            let live = db.describe_table(name).await?;
            observed.tables.insert(name.to_owned(), live);
        }
    }

    let bucket_names: BTreeSet<&str> = spec
        .buckets
        .iter()
        .map(|b| b.name.as_str())
        .chain(owned.buckets.iter().map(String::as_str))
        .collect();
    if !bucket_names.is_empty() {
        let s3 = S3::new(conn)?;
        for name in bucket_names {
            if !s3.bucket_exists(name).await? {
                observed.buckets.insert(name.to_owned(), None);
                continue;
            }
            // Rules are read only when they matter, so servers without lifecycle support work
            // for files that do not use it.
            let manages_rules = match spec.bucket(name) {
                Some(bucket) => bucket.lifecycle.is_some() || owned.buckets.contains(name),
                None => false,
            };
            let lifecycle = if manages_rules {
                s3.lifecycle(name).await?
            } else {
                None
            };
            observed
                .buckets
                .insert(name.to_owned(), Some(LiveBucket { lifecycle }));
        }
    }
    Ok(observed)
}

/// Which of `names` exist now. Refresh and import need names only: no lifecycle rules are read,
/// and a service is contacted only when `names` has something of its kind.
pub async fn existing(conn: &Connection, names: &Owned) -> Result<Owned, EsbError> {
    let no_spec = EsbSpec {
        source: String::new(),
        shape: Shape::Resources,
        tables: Vec::new(),
        buckets: Vec::new(),
        warnings: Vec::new(),
    };
    let observed = observe(conn, &no_spec, names).await?;
    Ok(observed.still_owned(names))
}

/// Names for the plan, computed without contacting any server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlannedNames {
    /// Every table and bucket in the file: all of them exist after a successful apply.
    pub tables: Vec<String>,
    pub buckets: Vec<String>,
    /// In the file but not owned: apply creates them, or adopts them if they already exist.
    pub tables_to_create: Vec<String>,
    pub buckets_to_create: Vec<String>,
    /// Owned but no longer in the file: apply deletes them.
    pub tables_to_delete: Vec<String>,
    pub buckets_to_delete: Vec<String>,
}

/// The plan's names from the file and the owned set alone.
pub fn plan_names(spec: &EsbSpec, owned: &Owned) -> PlannedNames {
    let tables: Vec<String> = spec.tables.iter().map(|t| t.name.clone()).collect();
    let buckets: Vec<String> = spec.buckets.iter().map(|b| b.name.clone()).collect();
    PlannedNames {
        tables_to_create: tables
            .iter()
            .filter(|t| !owned.tables.contains(*t))
            .cloned()
            .collect(),
        buckets_to_create: buckets
            .iter()
            .filter(|b| !owned.buckets.contains(*b))
            .cloned()
            .collect(),
        tables_to_delete: owned
            .tables
            .iter()
            .filter(|t| spec.table(t).is_none())
            .cloned()
            .collect(),
        buckets_to_delete: owned
            .buckets
            .iter()
            .filter(|b| spec.bucket(b).is_none())
            .cloned()
            .collect(),
        tables,
        buckets,
    }
}

/// What apply would do, worked out from an observation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub create_tables: Vec<String>,
    /// Exist already and are not owned: apply manages them but never deletes them.
    pub adopt_tables: Vec<String>,
    /// Table name and the in-place changes it needs, in words.
    pub update_tables: Vec<(String, Vec<String>)>,
    pub delete_tables: Vec<String>,
    pub create_buckets: Vec<String>,
    pub adopt_buckets: Vec<String>,
    /// Bucket name and its lifecycle change, in words.
    pub update_buckets: Vec<(String, String)>,
    pub delete_buckets: Vec<String>,
    /// Differences apply would refuse (see [`check_changes`]).
    pub problems: Vec<ChangeProblem>,
}

impl Plan {
    /// True when apply would change nothing on the servers. Adoption is not a change: an
    /// adopted table stays adopted on every apply.
    pub fn is_empty(&self) -> bool {
        self.create_tables.is_empty()
            && self.update_tables.is_empty()
            && self.delete_tables.is_empty()
            && self.create_buckets.is_empty()
            && self.update_buckets.is_empty()
            && self.delete_buckets.is_empty()
    }
}

/// What [`apply`] would do given `observed` (from [`observe`] with the same file and owned set).
pub fn plan(spec: &EsbSpec, owned: &Owned, observed: &Observed) -> Plan {
    let mut plan = Plan {
        problems: check_changes(spec, observed),
        ..Plan::default()
    };
    for table in &spec.tables {
        match observed.tables.get(&table.name) {
            Some(None) => plan.create_tables.push(table.name.clone()),
            Some(Some(live)) => {
                if !owned.tables.contains(&table.name) {
                    plan.adopt_tables.push(table.name.clone());
                }
                let updates = table_updates(table, live);
                if !updates.is_empty() {
                    plan.update_tables.push((
                        table.name.clone(),
                        updates.iter().map(describe_update).collect(),
                    ));
                }
            }
            None => {}
        }
    }
    for name in &owned.tables {
        if spec.table(name).is_none() && observed.table_exists(name) {
            plan.delete_tables.push(name.clone());
        }
    }
    for bucket in &spec.buckets {
        match observed.buckets.get(&bucket.name) {
            Some(None) => {
                plan.create_buckets.push(bucket.name.clone());
                if bucket.lifecycle.as_ref().is_some_and(|r| !r.is_empty()) {
                    plan.update_buckets
                        .push((bucket.name.clone(), "set lifecycle rules".to_owned()));
                }
            }
            Some(Some(live)) => {
                let is_owned = owned.buckets.contains(&bucket.name);
                if !is_owned {
                    plan.adopt_buckets.push(bucket.name.clone());
                }
                match lifecycle_change(bucket, live.lifecycle.as_deref(), is_owned) {
                    Some(LifecycleChange::Put(_)) => plan
                        .update_buckets
                        .push((bucket.name.clone(), "set lifecycle rules".to_owned())),
                    Some(LifecycleChange::Remove) => plan
                        .update_buckets
                        .push((bucket.name.clone(), "remove lifecycle rules".to_owned())),
                    None => {}
                }
            }
            None => {}
        }
    }
    for name in &owned.buckets {
        if spec.bucket(name).is_none() && observed.bucket_exists(name) {
            plan.delete_buckets.push(name.clone());
        }
    }
    plan
}

/// One thing apply or destroy did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    CreatedTable(String),
    AdoptedTable(String),
    UpdatedTable { table: String, change: String },
    DeletedTable(String),
    CreatedBucket(String),
    AdoptedBucket(String),
    SetLifecycle(String),
    RemovedLifecycle(String),
    EmptiedBucket { bucket: String, objects: usize },
    DeletedBucket(String),
}

impl Action {
    /// False for adoption, which is reported on every apply but changes nothing.
    pub fn is_change(&self) -> bool {
        !matches!(self, Action::AdoptedTable(_) | Action::AdoptedBucket(_))
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::CreatedTable(t) => write!(f, "created table {t}"),
            Action::AdoptedTable(t) => write!(f, "adopted existing table {t}"),
            Action::UpdatedTable { table, change } => write!(f, "updated table {table}: {change}"),
            Action::DeletedTable(t) => write!(f, "deleted table {t}"),
            Action::CreatedBucket(b) => write!(f, "created bucket {b}"),
            Action::AdoptedBucket(b) => write!(f, "adopted existing bucket {b}"),
            Action::SetLifecycle(b) => write!(f, "set the lifecycle rules of bucket {b}"),
            Action::RemovedLifecycle(b) => write!(f, "removed the lifecycle rules of bucket {b}"),
            Action::EmptiedBucket { bucket, objects } => {
                write!(f, "deleted {objects} objects from bucket {bucket}")
            }
            Action::DeletedBucket(b) => write!(f, "deleted bucket {b}"),
        }
    }
}

/// A successful apply or destroy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplyOutcome {
    /// The new owned set, to be saved.
    pub owned: Owned,
    pub actions: Vec<Action>,
}

/// A failed apply or destroy, with what is owned at the moment it stopped.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct ApplyFailure {
    /// Save this: it includes whatever was created before the error.
    pub owned: Owned,
    pub actions: Vec<Action>,
    #[source]
    pub error: EsbError,
}

/// Progress that survives an error.
struct Run {
    owned: Owned,
    actions: Vec<Action>,
}

impl Run {
    fn did(&mut self, action: Action) {
        tracing::info!(%action, "esb_resources");
        self.actions.push(action);
    }

    // Failures are rare and callers destructure them; boxing would only add noise.
    #[allow(clippy::result_large_err)]
    fn finish(self, result: Result<(), EsbError>) -> Result<ApplyOutcome, ApplyFailure> {
        match result {
            Ok(()) => Ok(ApplyOutcome {
                owned: self.owned,
                actions: self.actions,
            }),
            Err(error) => Err(ApplyFailure {
                owned: self.owned,
                actions: self.actions,
                error,
            }),
        }
    }
}

/// Makes the servers match the file: creates what is missing (waiting for tables and their
/// indexes to become ACTIVE), adopts what exists, updates in place what can change (billing,
/// throughput, global indexes, streams, lifecycle rules), and deletes owned things that left the
/// file. Refuses, before changing anything, differences that need a table re-created.
pub async fn apply(
    conn: &Connection,
    spec: &EsbSpec,
    owned: &Owned,
    force_destroy: bool,
) -> Result<ApplyOutcome, ApplyFailure> {
    let mut run = Run {
        owned: owned.clone(),
        actions: Vec::new(),
    };
    let result = apply_inner(conn, spec, force_destroy, &mut run).await;
    run.finish(result)
}

async fn apply_inner(
    conn: &Connection,
    spec: &EsbSpec,
    force_destroy: bool,
    run: &mut Run,
) -> Result<(), EsbError> {
    let observed = observe(conn, spec, &run.owned).await?;
    let problems = check_changes(spec, &observed);
    if !problems.is_empty() {
        return Err(EsbError::NeedsReplacement(problems));
    }

    if !spec.tables.is_empty() || !run.owned.tables.is_empty() {
        let db = DynamoDb::new(conn)?;
        apply_tables(&db, spec, &observed, run).await?;
    }
    if !spec.buckets.is_empty() || !run.owned.buckets.is_empty() {
        let s3 = S3::new(conn)?;
        apply_buckets(&s3, spec, &observed, force_destroy, run).await?;
    }
    Ok(())
}

async fn apply_tables(
    db: &DynamoDb,
    spec: &EsbSpec,
    observed: &Observed,
    run: &mut Run,
) -> Result<(), EsbError> {
    // Create every missing table first and wait afterwards, so servers work on them together.
    let mut created = BTreeSet::new();
    for table in &spec.tables {
        if observed.table_exists(&table.name) {
            if !run.owned.tables.contains(&table.name) {
                run.did(Action::AdoptedTable(table.name.clone()));
            }
            continue;
        }
        match db.create_table(table).await? {
            Created::New => {
                run.owned.tables.insert(table.name.clone());
                created.insert(table.name.as_str());
                run.did(Action::CreatedTable(table.name.clone()));
            }
            // Created by someone else since it was observed: adopt it. (Also what a retried
            // CreateTable whose first answer was lost looks like; adopting is the safe reading,
            // because an adopted table is never deleted.)
            Created::AlreadyExisted => run.did(Action::AdoptedTable(table.name.clone())),
        }
    }
    for table in &spec.tables {
        let live = db.wait_active(&table.name).await?;
        if created.contains(table.name.as_str()) {
            continue;
        }
        for update in table_updates(table, &live) {
            db.update_table(&table.name, &update).await?;
            db.wait_active(&table.name).await?;
            run.did(Action::UpdatedTable {
                table: table.name.clone(),
                change: describe_update(&update),
            });
        }
    }
    let leaving: Vec<String> = run
        .owned
        .tables
        .iter()
        .filter(|t| spec.table(t).is_none())
        .cloned()
        .collect();
    for name in leaving {
        delete_owned_table(db, &name, run).await?;
    }
    Ok(())
}

async fn delete_owned_table(db: &DynamoDb, name: &str, run: &mut Run) -> Result<(), EsbError> {
    if db.delete_table(name).await? {
        // Wait until the name is free, so a later create of the same name is not mistaken for
        // an existing table and adopted instead of owned.
        db.wait_gone(name).await?;
        run.did(Action::DeletedTable(name.to_owned()));
    }
    run.owned.tables.remove(name);
    Ok(())
}

async fn apply_buckets(
    s3: &S3,
    spec: &EsbSpec,
    observed: &Observed,
    force_destroy: bool,
    run: &mut Run,
) -> Result<(), EsbError> {
    for bucket in &spec.buckets {
        let live_rules: Option<Vec<LiveRule>> = if observed.bucket_exists(&bucket.name) {
            if !run.owned.buckets.contains(&bucket.name) {
                run.did(Action::AdoptedBucket(bucket.name.clone()));
            }
            observed
                .buckets
                .get(&bucket.name)
                .and_then(|b| b.as_ref())
                .and_then(|b| b.lifecycle.clone())
        } else {
            match s3.create_bucket(&bucket.name).await? {
                Created::New => {
                    run.owned.buckets.insert(bucket.name.clone());
                    run.did(Action::CreatedBucket(bucket.name.clone()));
                    Some(Vec::new())
                }
                Created::AlreadyExisted => {
                    run.did(Action::AdoptedBucket(bucket.name.clone()));
                    s3.lifecycle(&bucket.name).await?
                }
            }
        };
        let is_owned = run.owned.buckets.contains(&bucket.name);
        match lifecycle_change(bucket, live_rules.as_deref(), is_owned) {
            Some(LifecycleChange::Put(rules)) => {
                s3.put_lifecycle(&bucket.name, &rules).await?;
                run.did(Action::SetLifecycle(bucket.name.clone()));
            }
            Some(LifecycleChange::Remove) => {
                s3.delete_lifecycle(&bucket.name).await?;
                run.did(Action::RemovedLifecycle(bucket.name.clone()));
            }
            None => {}
        }
    }
    let leaving: Vec<String> = run
        .owned
        .buckets
        .iter()
        .filter(|b| spec.bucket(b).is_none())
        .cloned()
        .collect();
    for name in leaving {
        delete_owned_bucket(s3, &name, force_destroy, run).await?;
    }
    Ok(())
}

async fn delete_owned_bucket(
    s3: &S3,
    name: &str,
    force_destroy: bool,
    run: &mut Run,
) -> Result<(), EsbError> {
    if !s3.bucket_exists(name).await? {
        run.owned.buckets.remove(name);
        return Ok(());
    }
    // Checked here rather than left to DeleteBucket, because some servers (SeaweedFS by
    // default) delete a non-empty bucket with everything in it.
    if !s3.is_empty(name).await? {
        if !force_destroy {
            return Err(EsbError::BucketNotEmpty {
                endpoint: s3.endpoint().to_owned(),
                bucket: name.to_owned(),
            });
        }
        let objects = s3.empty_bucket(name).await?;
        run.did(Action::EmptiedBucket {
            bucket: name.to_owned(),
            objects,
        });
    }
    if s3.delete_bucket(name).await? {
        run.did(Action::DeletedBucket(name.to_owned()));
    }
    run.owned.buckets.remove(name);
    Ok(())
}

/// Deletes everything in `owned` (tables first, then buckets) and nothing else.
pub async fn destroy(
    conn: &Connection,
    owned: &Owned,
    force_destroy: bool,
) -> Result<ApplyOutcome, ApplyFailure> {
    let mut run = Run {
        owned: owned.clone(),
        actions: Vec::new(),
    };
    let result = destroy_inner(conn, force_destroy, &mut run).await;
    run.finish(result)
}

async fn destroy_inner(
    conn: &Connection,
    force_destroy: bool,
    run: &mut Run,
) -> Result<(), EsbError> {
    if !run.owned.tables.is_empty() {
        let db = DynamoDb::new(conn)?;
        for name in run.owned.tables.clone() {
            delete_owned_table(&db, &name, run).await?;
        }
    }
    if !run.owned.buckets.is_empty() {
        let s3 = S3::new(conn)?;
        for name in run.owned.buckets.clone() {
            delete_owned_bucket(&s3, &name, force_destroy, run).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
resources:
  dynamodb:
    - TableName: aaa
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
    - TableName: bbb
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
  s3:
    - BucketName: one
"#;

    #[test]
    fn plan_names_needs_no_server() {
        let spec = EsbSpec::parse("r.yml", FILE).unwrap();
        let owned = Owned {
            tables: ["aaa".to_owned(), "gone".to_owned()].into(),
            buckets: ["old".to_owned()].into(),
        };
        let names = plan_names(&spec, &owned);
        assert_eq!(names.tables, ["aaa", "bbb"]);
        assert_eq!(names.tables_to_create, ["bbb"]);
        assert_eq!(names.tables_to_delete, ["gone"]);
        assert_eq!(names.buckets, ["one"]);
        assert_eq!(names.buckets_to_create, ["one"]);
        assert_eq!(names.buckets_to_delete, ["old"]);
    }

    #[test]
    fn refresh_drops_owned_things_deleted_out_of_band() {
        let owned = Owned {
            tables: ["aaa".to_owned(), "bbb".to_owned()].into(),
            buckets: ["one".to_owned()].into(),
        };
        let mut observed = Observed::default();
        observed.tables.insert("aaa".into(), None);
        observed.buckets.insert("one".into(), None);
        let kept = observed.still_owned(&owned);
        assert_eq!(
            kept.tables,
            ["bbb".to_owned()].into(),
            "unobserved counts as existing"
        );
        assert!(kept.buckets.is_empty());

        let spec = EsbSpec::parse("r.yml", FILE).unwrap();
        let planned = plan(&spec, &kept, &observed);
        assert_eq!(planned.create_tables, ["aaa"]);
        assert_eq!(planned.create_buckets, ["one"]);
        assert!(!planned.is_empty());
    }
}

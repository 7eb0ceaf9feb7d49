//! The hearing: the requirements interview that comes before a design. Owns the question-set
//! format (YAML shipped in `hearing/questions.yml`, or a file that replaces it), its checks at
//! start-up, the checking of answers against the questions, and the hearing result: the answers
//! with the design settings, config defaults and starting design they imply. It never touches a
//! session; the tools in `server::hearing` do.

mod starter;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalog;
use crate::echo;
use crate::model::Architecture;

/// The question set shipped with the sidecar.
const SHIPPED: &str = include_str!("../../hearing/questions.yml");
const SHIPPED_NAME: &str = "hearing/questions.yml (shipped)";
/// Longest text answer kept.
const MAX_TEXT_CHARS: usize = 2000;

#[derive(Debug, thiserror::Error)]
pub enum HearingError {
    #[error("failed to read the hearing questions {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to parse the hearing questions {file}: {source}")]
    Parse {
        file: String,
        #[source]
        source: serde_norway::Error,
    },
    #[error("the hearing questions {file} are invalid at {field}: {reason}")]
    Invalid {
        file: String,
        field: String,
        reason: String,
    },
}

/// How a question is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuestionType {
    /// One of the `choices`, by its `value`.
    Choice,
    /// Free text.
    Text,
    /// A number, within `min` and `max` when given.
    Number,
}

/// What an answer feeds into the design.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Implies {
    /// Design settings reported in the result (`region`, `high_availability`, `instances`...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub settings: BTreeMap<String, Value>,
    /// Config defaults per service type, for new components.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, BTreeMap<String, Value>>,
    /// Service types the suggested starting design includes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
}

impl Implies {
    fn is_empty(&self) -> bool {
        self.settings.is_empty() && self.config.is_empty() && self.components.is_empty()
    }
}

/// One possible answer of a `choice` question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    /// What save_answer takes.
    pub value: String,
    /// What it means, for people.
    pub label: String,
    #[serde(default, skip_serializing_if = "Implies::is_empty")]
    pub implies: Implies,
}

/// One question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// The key its answer is saved under.
    pub id: String,
    pub text: String,
    #[serde(rename = "type")]
    pub kind: QuestionType,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<Choice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

/// A group of questions asked together, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub questions: Vec<Question>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    phases: Vec<Phase>,
}

/// A loaded, checked question set.
#[derive(Debug, Clone)]
pub struct QuestionSet {
    /// Where it came from, as clients are told: the shipped file, or `GALLEY_HEARING_FILE` with
    /// the file's name (never the server path).
    pub source: String,
    pub phases: Vec<Phase>,
}

/// One answered question in a hearing result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AnsweredQuestion {
    pub question_id: String,
    pub question: String,
    pub answer: Value,
    /// The chosen choice's label (choice questions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// What a completed hearing says: the answers and the design defaults they imply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HearingResult {
    pub completed_at: u64,
    /// In question order.
    pub answers: Vec<AnsweredQuestion>,
    /// Design settings: `region`, `high_availability`, `expected_load`, `public_entry`,
    /// `instances`... as the question set defines them.
    pub settings: BTreeMap<String, Value>,
    /// Config defaults per service type: add_component and save_architecture apply them with
    /// `apply_hearing_defaults: true`.
    pub config_defaults: BTreeMap<String, BTreeMap<String, Value>>,
    /// A starting design built from the answers: pass it to save_architecture (or call
    /// save_architecture with `use_suggested_architecture: true`), then refine it.
    pub suggested_architecture: Architecture,
    pub next_step: String,
}

/// Where a question set stands for one session's answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
pub struct Progress {
    pub answered: Vec<String>,
    /// Required questions without a (valid) answer, as `id: text`.
    pub missing_required: Vec<String>,
    /// Answers that no longer fit their question (the question set changed), with what to do.
    pub invalid: Vec<String>,
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    id.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl QuestionSet {
    /// The question set shipped in the binary (checked by a unit test, so this cannot fail in a
    /// released build).
    pub fn shipped() -> Self {
        static SET: std::sync::LazyLock<QuestionSet> = std::sync::LazyLock::new(|| {
            QuestionSet::parse(SHIPPED_NAME, SHIPPED).expect("the shipped hearing questions load")
        });
        SET.clone()
    }

    /// Reads and checks a question set that replaces the shipped one.
    pub fn from_file(path: &Path) -> Result<Self, HearingError> {
        let text = std::fs::read_to_string(path).map_err(|source| HearingError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut set = Self::parse(&path.display().to_string(), &text)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        set.source = format!("GALLEY_HEARING_FILE ({name})");
        Ok(set)
    }

    /// Parses and checks `text`; errors name `file` and the field (`phases[1].questions[0]...`).
    pub fn parse(file: &str, text: &str) -> Result<Self, HearingError> {
        let parsed: File = serde_norway::from_str(text).map_err(|source| HearingError::Parse {
            file: file.to_string(),
            source,
        })?;
        let invalid = |field: String, reason: String| HearingError::Invalid {
            file: file.to_string(),
            field,
            reason,
        };
        if parsed.phases.is_empty() {
            return Err(invalid(
                "phases".into(),
                "there must be at least one phase".into(),
            ));
        }
        let mut ids = BTreeSet::new();
        let mut phase_ids = BTreeSet::new();
        for (pi, phase) in parsed.phases.iter().enumerate() {
            let at = format!("phases[{pi}]");
            if !phase_ids.insert(phase.id.as_str()) {
                return Err(invalid(
                    format!("{at}.id"),
                    format!("phase id {:?} is used twice", phase.id),
                ));
            }
            if phase.questions.is_empty() {
                return Err(invalid(
                    format!("{at}.questions"),
                    "a phase needs at least one question".into(),
                ));
            }
            for (qi, q) in phase.questions.iter().enumerate() {
                let at = format!("{at}.questions[{qi}]");
                if !valid_id(&q.id) {
                    return Err(invalid(
                        format!("{at}.id"),
                        format!(
                            "{:?} is not a valid question id: use lower-case letters, digits and `_`, starting with a letter (at most 64)",
                            q.id
                        ),
                    ));
                }
                if !ids.insert(q.id.clone()) {
                    return Err(invalid(
                        format!("{at}.id"),
                        format!("question id {:?} is used twice", q.id),
                    ));
                }
                if q.text.trim().is_empty() {
                    return Err(invalid(
                        format!("{at}.text"),
                        "the question text is empty".into(),
                    ));
                }
                check_question(q, &at).map_err(|(field, reason)| invalid(field, reason))?;
            }
        }
        Ok(QuestionSet {
            source: file.to_string(),
            phases: parsed.phases,
        })
    }

    pub fn questions(&self) -> impl Iterator<Item = &Question> {
        self.phases.iter().flat_map(|p| p.questions.iter())
    }

    pub fn question(&self, id: &str) -> Option<&Question> {
        self.questions().find(|q| q.id == id)
    }

    fn unknown_question(&self, id: &str) -> String {
        let ids: Vec<&str> = self.questions().map(|q| q.id.as_str()).collect();
        format!(
            "there is no hearing question {}; the questions are: {}",
            echo::quoted(id),
            ids.join(", ")
        )
    }

    /// Checks `answer` for question `id`; returns the answer as stored (trimmed text, a number
    /// for a numeric string) or a message naming the question and what it accepts.
    pub fn check_answer(&self, id: &str, answer: &Value) -> Result<Value, String> {
        let q = self.question(id).ok_or_else(|| self.unknown_question(id))?;
        q.check(answer)
    }

    /// Which questions `answers` answer, and which required ones are missing or invalid.
    pub fn progress(&self, answers: &serde_json::Map<String, Value>) -> Progress {
        let mut p = Progress::default();
        for q in self.questions() {
            match answers.get(&q.id) {
                Some(a) => match q.check(a) {
                    Ok(_) => p.answered.push(q.id.clone()),
                    Err(e) => {
                        p.invalid.push(e);
                        if q.required {
                            p.missing_required.push(format!("{}: {}", q.id, q.text));
                        }
                    }
                },
                None if q.required => p.missing_required.push(format!("{}: {}", q.id, q.text)),
                None => {}
            }
        }
        p
    }

    /// The result of a hearing whose required questions are all answered; otherwise a message
    /// naming the missing questions.
    pub fn result(
        &self,
        answers: &serde_json::Map<String, Value>,
        completed_at: u64,
    ) -> Result<HearingResult, String> {
        let progress = self.progress(answers);
        if !progress.missing_required.is_empty() {
            let mut msg = format!(
                "the hearing is not complete: {} required question(s) have no valid answer; save them with save_answer or save_answers_batch, then call complete_hearing again:\n- {}",
                progress.missing_required.len(),
                progress.missing_required.join("\n- ")
            );
            if !progress.invalid.is_empty() {
                msg.push_str("\nInvalid answers:\n- ");
                msg.push_str(&progress.invalid.join("\n- "));
            }
            return Err(msg);
        }
        let mut settings = BTreeMap::new();
        let mut config: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
        let mut types: Vec<String> = Vec::new();
        let mut answered = Vec::new();
        for q in self.questions() {
            let Some(a) = answers.get(&q.id) else {
                continue;
            };
            let Ok(a) = q.check(a) else { continue };
            let choice = a
                .as_str()
                .and_then(|v| q.choices.iter().find(|c| c.value == v));
            if let Some(c) = choice {
                for (k, v) in &c.implies.settings {
                    settings.insert(k.clone(), v.clone());
                }
                for (t, keys) in &c.implies.config {
                    let entry = config.entry(t.clone()).or_default();
                    for (k, v) in keys {
                        entry.insert(k.clone(), v.clone());
                    }
                }
                for t in &c.implies.components {
                    if !types.contains(t) {
                        types.push(t.clone());
                    }
                }
            }
            answered.push(AnsweredQuestion {
                question_id: q.id.clone(),
                question: q.text.clone(),
                answer: a,
                label: choice.map(|c| c.label.clone()),
            });
        }
        let suggested = starter::suggest(&types, &settings, &config);
        Ok(HearingResult {
            completed_at,
            answers: answered,
            settings,
            config_defaults: config,
            suggested_architecture: suggested,
            next_step: "Show the suggested architecture to the user; save it with save_architecture (use_suggested_architecture: true) or build your own with add_component (apply_hearing_defaults: true), then validate_architecture and export_diagram.".into(),
        })
    }
}

/// Checks one question's own fields; errors are (field, reason).
fn check_question(q: &Question, at: &str) -> Result<(), (String, String)> {
    match q.kind {
        QuestionType::Choice => {
            if q.choices.is_empty() {
                return Err((
                    format!("{at}.choices"),
                    "a choice question needs choices".into(),
                ));
            }
            let mut values = BTreeSet::new();
            for (ci, c) in q.choices.iter().enumerate() {
                let at = format!("{at}.choices[{ci}]");
                if c.value.trim().is_empty() || !values.insert(c.value.as_str()) {
                    return Err((
                        format!("{at}.value"),
                        format!("choice value {:?} is empty or used twice", c.value),
                    ));
                }
                check_implies(&c.implies, &format!("{at}.implies"))?;
            }
        }
        QuestionType::Text | QuestionType::Number => {
            if !q.choices.is_empty() {
                return Err((
                    format!("{at}.choices"),
                    "only choice questions have choices".into(),
                ));
            }
        }
    }
    if q.kind != QuestionType::Number && (q.min.is_some() || q.max.is_some()) {
        return Err((
            format!("{at}.min"),
            "only number questions have min and max".into(),
        ));
    }
    if let (Some(min), Some(max)) = (q.min, q.max)
        && min > max
    {
        return Err((format!("{at}.max"), format!("max {max} is below min {min}")));
    }
    Ok(())
}

fn check_implies(i: &Implies, at: &str) -> Result<(), (String, String)> {
    for t in &i.components {
        if catalog::find(t).is_none() {
            return Err((format!("{at}.components"), catalog::unknown_type_message(t)));
        }
    }
    for (t, keys) in &i.config {
        let Some(st) = catalog::find(t) else {
            return Err((format!("{at}.config.{t}"), catalog::unknown_type_message(t)));
        };
        for (k, v) in keys {
            let Some(key) = st.config.iter().find(|c| c.name == k) else {
                let known: Vec<&str> = st.config.iter().map(|c| c.name).collect();
                return Err((
                    format!("{at}.config.{t}.{k}"),
                    format!(
                        "{t} has no config key {k:?}; its keys are: {}",
                        known.join(", ")
                    ),
                ));
            };
            if json_kind(v) != json_kind(&key.default) {
                return Err((
                    format!("{at}.config.{t}.{k}"),
                    format!(
                        "{t}.{k} takes a {} (like its default {}), not a {}",
                        json_kind(&key.default),
                        key.default,
                        json_kind(v)
                    ),
                ));
            }
        }
    }
    if let Some(n) = i.settings.get("instances")
        && !n.as_u64().is_some_and(|n| (1..=8).contains(&n))
    {
        return Err((
            format!("{at}.settings.instances"),
            "instances is a whole number from 1 to 8".into(),
        ));
    }
    Ok(())
}

impl Question {
    /// Checks an answer; returns it as stored.
    pub fn check(&self, answer: &Value) -> Result<Value, String> {
        match self.kind {
            QuestionType::Choice => {
                let valid = || {
                    self.choices
                        .iter()
                        .map(|c| format!("{} ({})", c.value, c.label))
                        .collect::<Vec<_>>()
                        .join("; ")
                };
                let given = answer.as_str().map(str::trim);
                match given.and_then(|g| self.choices.iter().find(|c| c.value == g)) {
                    Some(c) => Ok(Value::String(c.value.clone())),
                    None => Err(format!(
                        "answer {} is not a valid choice for question {} ({}); answer with one of these values: {}",
                        echo::quoted(&answer_text(answer)),
                        self.id,
                        self.text,
                        valid()
                    )),
                }
            }
            QuestionType::Text => match answer.as_str().map(str::trim) {
                Some(t) if !t.is_empty() && t.chars().count() <= MAX_TEXT_CHARS => {
                    Ok(Value::String(t.to_string()))
                }
                Some(t) if !t.is_empty() => Err(format!(
                    "the answer to question {} is {} characters; at most {MAX_TEXT_CHARS} are kept: shorten it",
                    self.id,
                    t.chars().count()
                )),
                _ => Err(format!(
                    "question {} ({}) takes a non-empty text answer, not {}",
                    self.id,
                    self.text,
                    echo::quoted(&answer_text(answer))
                )),
            },
            QuestionType::Number => {
                let n = match answer {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => s.trim().parse::<f64>().ok(),
                    _ => None,
                }
                .filter(|n| n.is_finite());
                let range = match (self.min, self.max) {
                    (Some(a), Some(b)) => format!(" from {a} to {b}"),
                    (Some(a), None) => format!(" of at least {a}"),
                    (None, Some(b)) => format!(" of at most {b}"),
                    (None, None) => String::new(),
                };
                match n {
                    Some(n)
                        if self.min.is_none_or(|m| n >= m) && self.max.is_none_or(|m| n <= m) =>
                    {
                        Ok(serde_json::Number::from_f64(n)
                            .map(|x| {
                                if n.fract() == 0.0 && n.abs() < 9.0e15 {
                                    Value::from(n as i64)
                                } else {
                                    Value::Number(x)
                                }
                            })
                            .unwrap_or(Value::Null))
                    }
                    _ => Err(format!(
                        "question {} ({}) takes a number{range}, not {}",
                        self.id,
                        self.text,
                        echo::quoted(&answer_text(answer))
                    )),
                }
            }
        }
    }
}

fn answer_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;

//! Hearing tools: the questions, saving answers (checked against the question set), completing
//! the hearing and its result. Answers live in the session's `answers`, the result in its
//! `hearing_result`; changing an answer after completion reopens the hearing.

use std::collections::BTreeMap;

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Sidecar, fail};
use crate::hearing::{HearingResult, Phase, Progress};
use crate::model::{Session, now_secs};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct QuestionsArgs {
    /// A session id: the result then also says which questions it has answered and which
    /// required ones are missing.
    #[serde(default)]
    pub session_id: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct QuestionsResult {
    /// The phases in the order to ask them, each with its questions (id, text, type, required,
    /// choices with value and label, min/max of numbers).
    pub phases: Vec<Phase>,
    /// Where the questions come from (the shipped file, or GALLEY_HEARING_FILE).
    pub source: String,
    /// The session's answers so far (with session_id).
    pub answers: Option<serde_json::Map<String, Value>>,
    pub progress: Option<Progress>,
    pub next_step: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SaveAnswerArgs {
    pub session_id: String,
    /// The question's id from get_hearing_questions, for example `expected_load`.
    pub question_id: String,
    /// For a choice question its `value` (for example `medium`), for text a string, for a
    /// number a number.
    pub answer: Value,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SaveAnswersArgs {
    pub session_id: String,
    /// Question id to answer, for several questions at once. All are checked before any is
    /// saved: one bad answer saves none.
    pub answers: BTreeMap<String, Value>,
}

/// Where the hearing stands after saving.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SavedAnswers {
    pub session_id: String,
    /// The answers saved by this call, as stored.
    pub saved: BTreeMap<String, Value>,
    pub progress: Progress,
    /// True when the hearing had been completed and this call changed an answer: call
    /// complete_hearing again for a new result.
    pub hearing_reopened: bool,
    pub next_step: String,
}

fn next_step(p: &Progress) -> String {
    if p.missing_required.is_empty() {
        "Every required question is answered: call complete_hearing.".into()
    } else {
        format!(
            "Ask the user the next question: {} required question(s) remain, starting with {}.",
            p.missing_required.len(),
            p.missing_required[0]
        )
    }
}

impl Sidecar {
    /// Checks `answers` against the question set, saves them all or none, and reopens a
    /// completed hearing when one changes.
    async fn save_answers(
        &self,
        session_id: &str,
        answers: BTreeMap<String, Value>,
    ) -> Result<SavedAnswers, String> {
        if answers.is_empty() {
            return Err("answers is empty: give at least one question id and its answer".into());
        }
        let questions = &self.inner.hearing;
        let mut checked = BTreeMap::new();
        let mut problems = Vec::new();
        for (id, a) in answers {
            match questions.check_answer(&id, &a) {
                Ok(v) => {
                    checked.insert(id, v);
                }
                Err(e) => problems.push(e),
            }
        }
        if !problems.is_empty() {
            return Err(format!(
                "{} answer(s) were refused and nothing was saved; fix them and save again:\n- {}",
                problems.len(),
                problems.join("\n- ")
            ));
        }
        let saved = checked.clone();
        let ((progress, reopened), _) = self
            .update_session(session_id, |s| {
                let mut changed = false;
                for (k, v) in checked {
                    if s.answers.get(&k) != Some(&v) {
                        changed = true;
                        s.answers.insert(k, v);
                    }
                }
                let reopened = changed && s.hearing_result.take().is_some();
                Ok((questions.progress(&s.answers), reopened))
            })
            .await?;
        Ok(SavedAnswers {
            session_id: session_id.to_string(),
            saved,
            next_step: next_step(&progress),
            progress,
            hearing_reopened: reopened,
        })
    }

    /// The hearing result stored in a session.
    pub(crate) fn hearing_result_of(&self, s: &Session) -> Result<HearingResult, String> {
        let Some(v) = &s.hearing_result else {
            let p = self.inner.hearing.progress(&s.answers);
            let missing = if p.missing_required.is_empty() {
                "every required question is answered".to_string()
            } else {
                format!("still missing: {}", p.missing_required.join("; "))
            };
            return Err(format!(
                "the hearing of session {} is not complete ({missing}); answer the questions of get_hearing_questions with save_answer, then call complete_hearing",
                s.id
            ));
        };
        serde_json::from_value(v.clone()).map_err(|e| {
            format!(
                "the hearing result of session {} cannot be read ({e}); call complete_hearing again",
                s.id
            )
        })
    }
}

#[tool_router(router = hearing_tools, vis = "pub(super)")]
impl Sidecar {
    #[tool(
        description = "Return the hearing (requirements interview) questions in phases, each with its id, text, type (choice, text or number), whether it is required and, for choices, the values to answer with and what each means. With session_id, also the answers so far and the required questions still missing. Ask the user the questions in order, in conversation.",
        annotations(
            title = "Get hearing questions",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn get_hearing_questions(
        &self,
        Parameters(args): Parameters<QuestionsArgs>,
    ) -> Result<Json<QuestionsResult>, String> {
        let q = &self.inner.hearing;
        let (answers, progress) = match &args.session_id {
            Some(id) => {
                let s = self.load_session(id).await?;
                let p = q.progress(&s.answers);
                (Some(s.answers), Some(p))
            }
            None => (None, None),
        };
        let next = match &progress {
            Some(p) => next_step(p),
            None => "Create a session (create_session), then ask the questions and save each answer with save_answer.".into(),
        };
        Ok(Json(QuestionsResult {
            phases: q.phases.clone(),
            source: q.source.clone(),
            answers,
            progress,
            next_step: next,
        }))
    }

    #[tool(
        description = "Save the user's answer to one hearing question. A choice question takes one of its choice values; a refused answer is an error naming the question and listing the valid values. Changing an answer of a completed hearing reopens it.",
        annotations(
            title = "Save answer",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn save_answer(
        &self,
        Parameters(args): Parameters<SaveAnswerArgs>,
    ) -> Result<Json<SavedAnswers>, String> {
        let answers = BTreeMap::from([(args.question_id, args.answer)]);
        Ok(Json(self.save_answers(&args.session_id, answers).await?))
    }

    #[tool(
        description = "Save answers to several hearing questions at once (question id to answer). Every answer is checked first; if any is refused nothing is saved and the error lists each refused answer with the valid values.",
        annotations(
            title = "Save answers",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn save_answers_batch(
        &self,
        Parameters(args): Parameters<SaveAnswersArgs>,
    ) -> Result<Json<SavedAnswers>, String> {
        Ok(Json(
            self.save_answers(&args.session_id, args.answers).await?,
        ))
    }

    #[tool(
        description = "Complete the session's hearing: refuses, naming them, while required questions have no valid answer; otherwise stores and returns the result (as get_hearing_result).",
        annotations(
            title = "Complete hearing",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn complete_hearing(
        &self,
        Parameters(args): Parameters<super::sessions::SessionIdArgs>,
    ) -> Result<Json<HearingResult>, String> {
        let questions = &self.inner.hearing;
        let (result, _) = self
            .update_session(&args.session_id, |s| {
                let r = questions.result(&s.answers, now_secs())?;
                s.hearing_result = Some(serde_json::to_value(&r).map_err(fail)?);
                Ok(r)
            })
            .await?;
        tracing::info!(session = %args.session_id, "hearing completed");
        Ok(Json(result))
    }

    #[tool(
        description = "Return the completed hearing's result: the answers with their labels, the design settings they imply (region, high availability, expected load, public entry...), config defaults per service type, and a suggested starting architecture. save_architecture with use_suggested_architecture: true saves that architecture; add_component and save_architecture with apply_hearing_defaults: true apply the config defaults.",
        annotations(
            title = "Get hearing result",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn get_hearing_result(
        &self,
        Parameters(args): Parameters<super::sessions::SessionIdArgs>,
    ) -> Result<Json<HearingResult>, String> {
        let s = self.load_session(&args.session_id).await?;
        Ok(Json(self.hearing_result_of(&s)?))
    }
}

//! MCP prompts for the usual journeys: build infrastructure (hearing to apply), build a full
//! stack with an application, and clean up a session's infrastructure. Each is one user message
//! that walks the model through the tools, with the arguments filled in.

use rmcp::ErrorData;
use rmcp::model::{GetPromptResult, Prompt, PromptArgument, PromptMessage, Role};
use serde_json::Value;

/// (name, title, description, arguments as (name, description, required)).
type PromptDef = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str, bool)],
);

const PROMPTS: &[PromptDef] = &[
    (
        "build_infrastructure",
        "Build OCI infrastructure",
        "From a requirements interview to applied infrastructure: hearing, design from the hearing, diagram and summary, Terraform, plan, apply after the user approves.",
        &[
            (
                "goal",
                "What the user wants to build, in their words (optional).",
                false,
            ),
            (
                "session_id",
                "An existing session to continue (optional; a new one is created otherwise).",
                false,
            ),
        ],
    ),
    (
        "build_full_stack",
        "Build infrastructure and deploy an application",
        "The infrastructure journey plus the application that runs on it.",
        &[
            (
                "app_description",
                "What the application does and how it is built (language, container image...).",
                true,
            ),
            (
                "session_id",
                "An existing session to continue (optional).",
                false,
            ),
        ],
    ),
    (
        "clean_up",
        "Destroy a session's infrastructure",
        "Preview destroying everything a session created, then destroy it once the user agrees.",
        &[(
            "session_id",
            "The session whose infrastructure to destroy.",
            true,
        )],
    ),
];

pub fn list() -> Vec<Prompt> {
    PROMPTS
        .iter()
        .map(|(name, title, description, args)| {
            let mut p = Prompt::new(
                *name,
                Some(*description),
                Some(
                    args.iter()
                        .map(|(n, d, r)| {
                            PromptArgument::new(*n)
                                .with_description(*d)
                                .with_required(*r)
                        })
                        .collect(),
                ),
            );
            p.title = Some(title.to_string());
            p
        })
        .collect()
}

fn arg(args: &serde_json::Map<String, Value>, name: &str) -> Option<String> {
    args.get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn start(session: Option<&str>) -> String {
    match session {
        Some(id) => format!(
            "Work in session {id}: call get_session and get_hearing_questions with session_id {id} to see where it stands, and continue from there."
        ),
        None => "Call create_session and tell the user the session id: every later step needs it."
            .into(),
    }
}

const HEARING: &str = "\
## 1. Hearing
- Call get_hearing_questions. Ask the user the questions phase by phase, in the conversation (no forms), offering the choices' labels.
- Save each answer with save_answer (or several with save_answers_batch). If an answer is refused, the error lists the valid values: ask again.
- When every required question is answered, call complete_hearing and summarise the settings it returns.

## 2. Design
- Save the hearing's starting design with save_architecture (use_suggested_architecture: true), or build your own with add_component (apply_hearing_defaults: true).
- Call validate_architecture and fix every error (warnings are advice).
- Show the design: export_diagram (show the SVG or the Mermaid text) and export_summary (placement and the estimated monthly cost; prices marked unknown are not in the figure). Adjust with configure_component until the user agrees.
";

const APP: &str = "\
## Application image
- Call list_app_templates; start the application with scaffold_app_from_template when one fits (rest-api-python, rest-api-node) and adapt it with write_app_file, or write its files yourself with write_app_file (a Dockerfile at the top).
- Call build_app_image. It builds and pushes the image on the build instance and returns image_reference (uri@digest), exit_code and output_tail. If it fails, read output_tail and errors, fix the files and build again. If it names a missing GALLEY_BUILD_* setting, tell the user: the sidecar's operator must set it.
- Set the image of the container_instance to \"app\" (configure_component) so export_iac writes the built image by its digest. Build before export_iac, and export again after every build.
";

const TERRAFORM: &str = "\
## 3. Terraform
- Call export_iac, then run_terraform_plan. If it fails, read errors (file and line), fix with update_terraform_file or change the design and export again, then plan again.
- Show the user plan_summary (what is added, changed, destroyed) and the cost estimate. Only when they agree, call run_terraform_apply with the plan_token the plan returned. Never apply without their consent.
- Report the outputs and the job id (get_rm_job_status follows a job).
";

pub fn get(
    name: &str,
    args: &serde_json::Map<String, Value>,
) -> Result<GetPromptResult, ErrorData> {
    let Some((_, _, description, defs)) = PROMPTS.iter().find(|p| p.0 == name) else {
        let names: Vec<&str> = PROMPTS.iter().map(|p| p.0).collect();
        return Err(ErrorData::invalid_params(
            format!(
                "there is no prompt {}; the prompts are: {}",
                crate::echo::quoted(name),
                names.join(", ")
            ),
            None,
        ));
    };
    for (arg_name, arg_description, required) in defs.iter() {
        if *required && arg(args, arg_name).is_none() {
            return Err(ErrorData::invalid_params(
                format!("prompt {name} needs the argument {arg_name}: {arg_description}"),
                None,
            ));
        }
    }
    let session = arg(args, "session_id");
    let text = match name {
        "build_infrastructure" => {
            let goal = arg(args, "goal")
                .map(|g| format!("The user wants: {g}\n\n"))
                .unwrap_or_default();
            format!(
                "# Build OCI infrastructure with Galley\n\n{goal}{}\n\n{HEARING}\n{TERRAFORM}",
                start(session.as_deref())
            )
        }
        "build_full_stack" => {
            let app = arg(args, "app_description").unwrap_or_default();
            format!(
                "# Build the infrastructure and deploy an application with Galley\n\nThe application: {app}\n\n{}\n\n{HEARING}\nMake sure the design has what the application runs on: for a containerised application a container_instance (config image \"app\") in a subnet, otherwise compute instances or an OKE cluster; a load balancer or API gateway in front; the data store it uses.\n\n{APP}\n{TERRAFORM}\n## 4. Application check\n- After the apply, report the outputs (the container instance's or load balancer's address) and check that the application answers through its entry point (GET /health for the templates).\n- A change to the application later: write_app_file, build_app_image, export_iac, then plan and apply again.\n",
                start(session.as_deref())
            )
        }
        _ => {
            let id = session.unwrap_or_default();
            format!(
                "# Clean up session {id}\n\n- Call get_session with session_id {id} and tell the user what the session deployed (status, stack id).\n- Call run_terraform_plan with session_id {id} and destroy: true. Show the user the resources it would destroy.\n- Only when the user agrees, call run_terraform_destroy with the plan_token of that preview. If the user declines, stop.\n- Check the result: success, and get_rm_job_status for its job_id. If it failed, show the errors and what to do next; the session keeps the stack so a new preview and destroy can be tried.\n- Confirm with get_session that the status is destroyed.\n"
            )
        }
    };
    let mut result = GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)]);
    result.description = Some(description.to_string());
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_full_stack_prompt_builds_the_image_before_the_export() {
        let mut args = serde_json::Map::new();
        args.insert("app_description".into(), "a todo API".into());
        let r = get("build_full_stack", &args).unwrap();
        let text = serde_json::to_value(&r.messages[0]).unwrap()["content"]["text"]
            .as_str()
            .unwrap()
            .to_string();
        let build = text.find("Call build_app_image").expect("build step");
        let export = text.find("Call export_iac").expect("export step");
        assert!(build < export, "{text}");
        assert!(text.contains("scaffold_app_from_template") && text.contains("a todo API"));
    }
}

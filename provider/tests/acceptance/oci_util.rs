//! Helpers for the OCI-backed suites: a signed galley-oci client of the local engine (an
//! independent view of what the provider did) and the provider configuration pointing at it.

use std::collections::HashMap;
use std::future::Future;

use galley_oci::instance_agent::InstanceAgentClient;
use galley_oci::object_storage::ObjectStorageClient;
use galley_oci::resource_manager::{
    JobSummary, ListJobsRequest, ListStacksRequest, ResourceManagerClient, StackSummary,
};
use galley_oci::setup::{self, SetupInputs};
use galley_tests::local::{COMPARTMENT, LocalOci};
use galley_tests::terraform::{Install, TfVersion, Workdir};

use crate::util::provider_bin;

/// Blocking access to the engine's APIs.
pub struct Oci {
    rt: tokio::runtime::Runtime,
    pub rm: ResourceManagerClient,
    pub os: ObjectStorageClient,
    pub ia: InstanceAgentClient,
}

impl Oci {
    pub fn new(local: &LocalOci) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // The OCI set-up the provider runs, from the environment Terraform gets.
        let env: HashMap<String, String> = local.env().into_iter().collect();
        let lookup = move |k: &str| env.get(k).cloned();
        let clients = rt
            .block_on(setup::build_clients(
                &SetupInputs::from_env(&lookup),
                &lookup,
                "galley-acceptance",
            ))
            .unwrap();
        Oci {
            rm: clients.resource_manager,
            os: clients.object_storage,
            ia: clients.instance_agent,
            rt,
        }
    }

    pub fn block<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// The stacks of the test compartment that are not deleted.
    pub fn stacks(&self) -> Vec<StackSummary> {
        self.block(self.rm.list_all_stacks(&ListStacksRequest {
            compartment_id: Some(COMPARTMENT.into()),
            ..Default::default()
        }))
        .unwrap()
    }

    /// The jobs of a stack, newest first.
    pub fn jobs(&self, stack_id: &str) -> Vec<JobSummary> {
        self.block(self.rm.list_all_jobs(&ListJobsRequest {
            stack_id: Some(stack_id.into()),
            ..Default::default()
        }))
        .unwrap()
    }
}

/// A working directory on `version` reaching `local` through the provider's environment.
pub fn workdir(local: &LocalOci, version: TfVersion, install: Install) -> Workdir {
    let mut wd = Workdir::new(version, provider_bin(), install);
    local.configure(&mut wd);
    wd
}

/// The `terraform` block and the provider block, which needs no settings: the environment
/// points it at the engine.
pub const PROVIDER: &str = r#"terraform {
  required_providers {
    galley = { source = "galley-dev/galley" }
  }
}

provider "galley" {}
"#;

/// A string attribute of resource `address` in state.
pub fn attr(wd: &Workdir, address: &str, name: &str) -> String {
    let values = wd
        .resource_values(address)
        .unwrap_or_else(|| panic!("{address} is not in state"));
    values[name]
        .as_str()
        .unwrap_or_else(|| panic!("{address}.{name} is not a string: {}", values[name]))
        .to_owned()
}

/// Copies a fixture directory (`tests/fixtures/<rel>`) to `dest`, replacing `@KEY@` markers.
pub fn copy_fixture_dir(rel: &str, dest: &std::path::Path, replace: &[(&str, &str)]) {
    let src = galley_tests::tools::workspace_root()
        .join("tests")
        .join("fixtures")
        .join(rel);
    copy_dir(&src, dest, replace);
}

fn copy_dir(src: &std::path::Path, dest: &std::path::Path, replace: &[(&str, &str)]) {
    std::fs::create_dir_all(dest).unwrap();
    for entry in std::fs::read_dir(src).unwrap_or_else(|e| panic!("{}: {e}", src.display())) {
        let entry = entry.unwrap();
        let to = dest.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to, replace);
        } else {
            let mut text = std::fs::read_to_string(entry.path()).unwrap();
            for (k, v) in replace {
                text = text.replace(&format!("@{k}@"), v);
            }
            std::fs::write(&to, text).unwrap();
        }
    }
}

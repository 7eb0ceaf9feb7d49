resource "galley_session" "app" {
  provider = galley

  compartment_id    = "ocid1.compartment.oc1..aaaaaaaaexample" # default: GALLEY_WORK_COMPARTMENT_ID
  display_name      = "app"
  terraform_dir     = "${path.module}/stack"
  working_directory = "envs/prod" # the root module's folder inside terraform_dir
  terraform_version = "1.5.x"
  variables = {
    instance_count = "2"
  }

  # Providers the jobs may use from a bucket of your own (optional).
  custom_terraform_provider {
    region      = "us-ashburn-1"
    namespace   = "mytenancy"
    bucket_name = "terraform-providers"
  }

  # Report drift on every refresh; a drifted stack plans an update that re-converges it.
  detect_drift = true

  # Review first: apply with operation = "plan", read plan_summary and log_tail, then set
  # plan_job_id to that last_job_id (and remove operation) to apply exactly that plan.
  # operation   = "plan"
  # plan_job_id = "ocid1.ormjob.oc1.iad.aaaaaaaaexample"

  timeouts {
    plan    = "10m"
    apply   = "1h"
    destroy = "1h"
    drift   = "10m"
  }
}

output "app_url" {
  value = galley_session.app.outputs["url"]
}

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

  timeouts {
    plan    = "10m"
    apply   = "1h"
    destroy = "1h"
  }
}

output "app_url" {
  value = galley_session.app.outputs["url"]
}

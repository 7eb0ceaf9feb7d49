terraform {
  required_providers {
    galley = {
      source = "galley-dev/galley"
    }
  }
}

# Credentials, endpoints and the compartment come from the environment: run.sh points
# OCI_CONFIG_FILE, GALLEY_*_ENDPOINT and GALLEY_WORK_COMPARTMENT_ID at a local engine. Against
# OCI, set region and a config file profile here instead (see examples/provider).
provider "galley" {}

variable "greeting" {
  type    = string
  default = "hello from Resource Manager"
}

# "plan" runs the Resource Manager PLAN job only (review plan_summary), "apply" applies it.
variable "operation" {
  type    = string
  default = "apply"
}

resource "galley_session" "demo" {
  provider = galley

  display_name  = "galley-session-example"
  description   = "terraform_data resources deployed through Resource Manager"
  terraform_dir = "${path.module}/stack"
  operation     = var.operation
  variables = {
    greeting = var.greeting
    replicas = "3"
  }

  timeouts {
    plan  = "5m"
    apply = "15m"
  }
}

output "stack_id" {
  value = galley_session.demo.id
}

output "plan_summary" {
  value = galley_session.demo.plan_summary
}

output "stack_outputs" {
  value = galley_session.demo.outputs
}

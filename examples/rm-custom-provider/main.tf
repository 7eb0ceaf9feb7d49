# Deploys ./stack as a Resource Manager stack whose own configuration uses the Galley provider,
# installed by Resource Manager from a custom provider bucket. run.sh does it all on this
# machine: galley-local plays Resource Manager and Object Storage, moto plays DynamoDB and S3.
terraform {
  required_providers {
    galley = {
      source = "galley-dev/galley"
    }
  }
}

# Credentials, endpoints and the compartment come from the environment (see run.sh).
provider "galley" {}

variable "providers_bucket" {
  type        = string
  description = "The bucket holding linux_amd64/terraform-provider-galley_v<version> (galley-upload-providers uploads it)."
}

variable "namespace" {
  type        = string
  description = "Object Storage namespace of the bucket."
}

variable "bucket_region" {
  type        = string
  description = "Region of the bucket."
  default     = "us-ashburn-1"
}

variable "dynamodb_endpoint" {
  type = string
}

variable "s3_endpoint" {
  type = string
}

variable "aws_access_key" {
  type      = string
  sensitive = true
}

variable "aws_secret_key" {
  type      = string
  sensitive = true
}

resource "galley_session" "esb" {
  provider = galley

  display_name  = "galley-rm-custom-provider"
  description   = "esb_resources run by Resource Manager through the Galley custom provider"
  terraform_dir = "${path.module}/stack"
  # terraform_version is left at its default, 1.5.x: the line Resource Manager runs.
  variables = {
    dynamodb_endpoint = var.dynamodb_endpoint
    s3_endpoint       = var.s3_endpoint
    access_key        = var.aws_access_key
    secret_key        = var.aws_secret_key
  }

  custom_terraform_provider {
    region      = var.bucket_region
    namespace   = var.namespace
    bucket_name = var.providers_bucket
  }
}

output "stack_id" {
  value = galley_session.esb.id
}

output "stack_outputs" {
  value = galley_session.esb.outputs
}

# The configuration Resource Manager runs as the stack. It uses the Galley provider itself:
# Resource Manager installs it from the stack's custom provider bucket (customTerraformProvider)
# before terraform init, and the resource below creates DynamoDB tables and S3 buckets.
terraform {
  required_providers {
    # Copy this block into stacks that use the Galley provider from a bucket. Resource Manager
    # serves the bucket's linux_amd64/terraform-provider-galley_v0.1.0 as hashicorp/galley
    # (a file name carries no namespace; see ../README.md for the evidence). Pin the exact
    # version of the binary you uploaded.
    galley = {
      source  = "hashicorp/galley"
      version = "0.1.0"
    }
  }
}

provider "galley" {}

variable "dynamodb_endpoint" {
  type = string
}

variable "s3_endpoint" {
  type = string
}

variable "access_key" {
  type      = string
  sensitive = true
}

variable "secret_key" {
  type      = string
  sensitive = true
}

resource "esb_resources" "app" {
  provider = galley

  resources_file    = "${path.module}/resources.yml"
  dynamodb_endpoint = var.dynamodb_endpoint
  s3_endpoint       = var.s3_endpoint
  access_key        = var.access_key
  secret_key        = var.secret_key
}

output "tables" {
  value = esb_resources.app.table_names
}

output "buckets" {
  value = esb_resources.app.bucket_names
}

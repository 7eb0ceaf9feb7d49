# Provisions the tables and buckets of resources.yml on local DynamoDB- and S3-compatible
# servers (ESB's ScyllaDB Alternator and RustFS, or moto for a quick try).
terraform {
  required_providers {
    galley = {
      source = "galley-dev/galley"
    }
  }
}

provider "galley" {}

variable "dynamodb_endpoint" {
  type    = string
  default = null # falls back to DYNAMODB_ENDPOINT
}

variable "s3_endpoint" {
  type    = string
  default = null # falls back to S3_ENDPOINT
}

resource "esb_resources" "app" {
  provider = galley

  resources_file    = "${path.module}/resources.yml"
  dynamodb_endpoint = var.dynamodb_endpoint
  s3_endpoint       = var.s3_endpoint
}

output "tables" {
  value = esb_resources.app.table_names
}

output "buckets" {
  value = esb_resources.app.bucket_names
}

output "created_by_terraform" {
  value = {
    tables  = esb_resources.app.created_table_names
    buckets = esb_resources.app.created_bucket_names
  }
}

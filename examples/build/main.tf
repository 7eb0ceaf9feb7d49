terraform {
  required_providers {
    galley = {
      source = "galley-dev/galley"
    }
  }
}

# Credentials, endpoints and the compartment come from the environment (run.sh points them at
# a local engine). Against OCI, set region and a config file profile here instead.
provider "galley" {}

variable "instance_id" {
  description = "The build instance: Oracle Cloud Agent with Run Command, docker and curl."
  type        = string
  default     = "ocid1.instance.oc1..aaaaaaaabuildhost"
}

variable "bucket_name" {
  description = "An existing bucket for the build context."
  type        = string
  default     = "build-contexts"
}

variable "image_uri" {
  type    = string
  default = "iad.ocir.io/galleylocal/hello:v1"
}

variable "registry_username" {
  type    = string
  default = "galleylocal/ci"
}

variable "registry_auth_token" {
  type      = string
  sensitive = true
  default   = "example-token"
}

resource "galley_build" "hello" {
  provider = galley

  instance_id         = var.instance_id
  app_dir             = "${path.module}/app"
  bucket_name         = var.bucket_name
  image_uri           = var.image_uri
  build_args          = { GREETING = "hello" }
  registry_username   = var.registry_username
  registry_auth_token = var.registry_auth_token
}

output "image" {
  value = "${galley_build.hello.image_uri}@${galley_build.hello.image_digest}"
}

output "build_output" {
  value = galley_build.hello.output_tail
}

resource "galley_build" "app" {
  provider = galley

  compartment_id = "ocid1.compartment.oc1..aaaaaaaaexample" # default: GALLEY_WORK_COMPARTMENT_ID
  instance_id    = "ocid1.instance.oc1.iad.aaaaaaaaexample"
  app_dir        = "${path.module}/app"
  bucket_name    = "build-contexts"
  image_uri      = "iad.ocir.io/mytenancy/app:v1"
  dockerfile     = "Dockerfile"
  build_args = {
    VERSION = "1.0"
  }
  registry_username = "mytenancy/ci-user"
  # Never stored (Terraform 1.11 or later); older Terraform: registry_auth_token = var.ocir_auth_token
  registry_auth_token_wo         = var.ocir_auth_token
  registry_auth_token_wo_version = 1 # increment to rebuild with a new token

  timeouts {
    start = "5m"
    build = "45m"
  }
}

variable "ocir_auth_token" {
  type      = string
  sensitive = true
  ephemeral = true # kept out of saved plans too (Terraform 1.10 or later)
}

output "image" {
  value = "${galley_build.app.image_uri}@${galley_build.app.image_digest}"
}

# Runs galley-sidecar on OCI: an API Gateway with a token check in front of a Container Instance,
# two buckets, a build instance for galley_build, and the IAM that lets them work.
#
# The variables Resource Manager fills in itself (tenancy_ocid, compartment_ocid, region) keep
# their usual names, so this directory can also be applied as a Resource Manager stack.

terraform {
  required_version = ">= 1.5.0"

  required_providers {
    oci = {
      source = "oracle/oci"
      # Checked against the arguments of oracle/oci 7.19.0.
      version = ">= 7.19.0, < 8.0.0"
    }
  }
}

provider "oci" {
  region = var.region
}

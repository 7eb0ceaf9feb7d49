# Two private buckets in the tenancy's namespace.

# Galley provider binaries for Resource Manager's custom providers. A stack that names this
# bucket gets the provider from `linux_amd64/terraform-provider-galley_v<version>` (and
# `linux_arm64/...` for Arm runners) at the bucket root. Binary names carry their version, so
# releases never overwrite each other and the bucket needs no versioning.
resource "oci_objectstorage_bucket" "providers" {
  compartment_id = var.compartment_ocid
  namespace      = var.namespace
  name           = format("%s-providers", var.name_prefix)
  access_type    = "NoPublicAccess"
}

# Source tarballs galley_build uploads for the build instance, and the output of its commands.
resource "oci_objectstorage_bucket" "builds" {
  compartment_id = var.compartment_ocid
  namespace      = var.namespace
  name           = format("%s-builds", var.name_prefix)
  access_type    = "NoPublicAccess"
}

# Three private buckets in the tenancy's namespace.

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

# Everything the deployed sidecar must keep: sessions, their stack files, plan tokens, leases and
# the runner's Terraform state (GALLEY_STATE_BUCKET in container.tf). The container's own disk is
# only a cache, so this bucket is what survives a new container instance. Versioning keeps every
# overwritten or deleted object as a previous version, so a bad write can be undone; the store's
# statement in iam.tf does not let the sidecar delete versions (but see `object-family` there).
resource "oci_objectstorage_bucket" "sessions" {
  compartment_id = var.compartment_ocid
  namespace      = var.namespace
  name           = format("%s-sessions", var.name_prefix)
  access_type    = "NoPublicAccess"
  versioning     = "Enabled"
}

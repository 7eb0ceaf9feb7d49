# The Galley provider for Resource Manager stacks that use it themselves: the bucket layout
# deploy/package-provider.sh writes (dist/rm-bucket: linux_amd64/ and linux_arm64/
# terraform-provider-galley_v<version>), uploaded to the providers bucket. Nothing is uploaded
# when the directory does not exist (for example when this directory runs as a Resource
# Manager stack); galley-upload-providers does the same upload from a shell.
resource "oci_objectstorage_object" "provider_binaries" {
  for_each = fileset(var.provider_dist_dir, "linux_*/terraform-provider-galley_v*")

  namespace    = var.namespace
  bucket       = oci_objectstorage_bucket.providers.name
  object       = each.value
  source       = abspath(format("%s/%s", var.provider_dist_dir, each.value))
  content_type = "application/octet-stream"
  # Binary names carry their version; the digest makes a rebuilt binary of the same version a
  # visible change rather than a silent no-op.
  metadata = {
    sha256 = filesha256(format("%s/%s", var.provider_dist_dir, each.value))
  }
}

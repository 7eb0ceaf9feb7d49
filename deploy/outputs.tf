output "mcp_url" {
  description = "MCP endpoint for Claude and other clients. Append ?token=<galley_url_token>; the token is not repeated here."
  value       = format("%s/mcp", oci_apigateway_deployment.galley.endpoint)
}

output "health_url" {
  description = "Health check through the gateway (no token needed)."
  value       = format("%s/health", oci_apigateway_deployment.galley.endpoint)
}

output "gateway_hostname" {
  description = "Hostname of the API Gateway."
  value       = oci_apigateway_gateway.galley.hostname
}

output "container_instance_id" {
  description = "OCID of the sidecar's container instance."
  value       = oci_container_instances_container_instance.sidecar.id
}

output "build_instance_id" {
  description = "OCID of the build instance, for galley_build's instance_id."
  value       = oci_core_instance.build.id
}

output "providers_bucket" {
  description = "Bucket holding linux_amd64/terraform-provider-galley_v<version> for Resource Manager custom providers."
  value       = oci_objectstorage_bucket.providers.name
}

output "builds_bucket" {
  description = "Bucket for galley_build's source tarballs and command output."
  value       = oci_objectstorage_bucket.builds.name
}

output "sessions_bucket" {
  description = "Versioned bucket holding the sidecar's sessions, stack files, plan tokens and Terraform state."
  value       = oci_objectstorage_bucket.sessions.name
}

output "custom_terraform_provider" {
  description = "The customTerraformProvider block of a Resource Manager stack that uses the Galley provider."
  value = {
    region      = var.region
    namespace   = var.namespace
    bucket_name = oci_objectstorage_bucket.providers.name
  }
}

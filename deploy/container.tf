# The sidecar: one container from deploy/Dockerfile's image, on a fixed private IP the gateway
# forwards to. It authenticates to OCI as the container instance itself (resource principal):
# Container Instances inject OCI_RESOURCE_PRINCIPAL_* into the container, and OCI_AUTH tells the
# Galley provider, started by Terraform inside the container, to use them.

resource "oci_container_instances_container_instance" "sidecar" {
  availability_domain      = var.availability_domain
  compartment_id           = var.compartment_ocid
  display_name             = format("%s-sidecar", var.name_prefix)
  shape                    = var.container_shape
  container_restart_policy = "ALWAYS"

  shape_config {
    ocpus         = var.container_ocpus
    memory_in_gbs = var.container_memory_gbs
  }

  # Tagging the instance with the policy it relies on also makes Terraform create the policy
  # first, so the first image pull already has `read repos`.
  freeform_tags = {
    "galley-policy" = oci_identity_policy.sidecar.id
  }

  containers {
    display_name = "galley-sidecar"
    image_url    = var.sidecar_image
    # The resource principal is how the provider and the sidecar reach Resource Manager, the
    # instance agent and Object Storage; no API key is stored anywhere.
    is_resource_principal_disabled = false

    environment_variables = {
      GALLEY_URL_TOKEN = var.galley_url_token
      # Sessions, stack files, plan tokens, leases and the runner's Terraform state live in the
      # sessions bucket; GALLEY_DATA_DIR is only the local working copy and cache.
      GALLEY_STATE_BUCKET    = oci_objectstorage_bucket.sessions.name
      GALLEY_STATE_NAMESPACE = var.namespace
      GALLEY_DATA_DIR        = "/var/lib/galley"
      GALLEY_ALLOWED_HOSTS   = join(",", [var.sidecar_private_ip, oci_apigateway_gateway.galley.hostname])
      GALLEY_ALLOWED_ORIGINS = join(",", var.allowed_origins)
      GALLEY_READ_ONLY       = var.read_only ? "1" : "0"
      # Stacks are created here unless a plan names another compartment.
      GALLEY_COMPARTMENT_OCID = var.compartment_ocid
      OCI_AUTH                = "ResourcePrincipal"
      RUST_LOG                = "info"
    }

    volume_mounts {
      volume_name = "galley-data"
      mount_path  = "/var/lib/galley"
    }

    health_checks {
      name                = "health"
      health_check_type   = "HTTP"
      port                = 8000
      path                = "/health"
      interval_in_seconds = 30
      timeout_in_seconds  = 5
      failure_threshold   = 3
      failure_action      = "KILL"
    }

    security_context {
      security_context_type          = "LINUX"
      is_non_root_user_check_enabled = true

      capabilities {
        drop_capabilities = ["ALL"]
      }
    }
  }

  # A cache only: the working copy of sessions and their Terraform while the sidecar runs them.
  # Nothing that matters is kept here alone (it is in the sessions bucket, and the stacks are in
  # Resource Manager), so losing it with a new container instance loses nothing.
  volumes {
    name          = "galley-data"
    volume_type   = "EMPTYDIR"
    backing_store = "EPHEMERAL_STORAGE"
  }

  vnics {
    subnet_id             = oci_core_subnet.private.id
    private_ip            = var.sidecar_private_ip
    is_public_ip_assigned = false
    hostname_label        = "sidecar"
  }
}

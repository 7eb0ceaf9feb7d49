# The build instance galley_build drives through the Compute Instance Agent's run-command API:
# it fetches a source tarball from the builds bucket, runs `docker build` and pushes the image to
# OCIR. No public IP and no SSH: commands reach it through the agent, outbound only.

resource "oci_core_instance" "build" {
  availability_domain = var.availability_domain
  compartment_id      = var.compartment_ocid
  display_name        = format("%s-build", var.name_prefix)
  shape               = var.build_instance_shape

  shape_config {
    ocpus         = var.build_instance_ocpus
    memory_in_gbs = var.build_instance_memory_gbs
  }

  source_details {
    source_type             = "image"
    source_id               = var.build_instance_image_id
    boot_volume_size_in_gbs = var.build_boot_volume_gbs
  }

  create_vnic_details {
    subnet_id        = oci_core_subnet.private.id
    assign_public_ip = false
    hostname_label   = "build"
  }

  agent_config {
    # Run Command is a management plugin: management must stay enabled for it to run.
    is_management_disabled = false
    is_monitoring_disabled = false

    plugins_config {
      name          = "Compute Instance Run Command"
      desired_state = "ENABLED"
    }
  }

  instance_options {
    # Only the v2 metadata endpoint (it needs the Authorization header), as SSRF hardening.
    are_legacy_imds_endpoints_disabled = true
  }

  metadata = {
    user_data = filebase64(format("%s/cloud-init.yaml", path.module))
  }
}

# Who may do what. Two dynamic groups (they always live at the tenancy root) and one policy per
# group, attached to the compartment so every statement stays inside it.

resource "oci_identity_dynamic_group" "sidecar" {
  compartment_id = var.tenancy_ocid
  name           = format("%s-sidecar", var.name_prefix)
  description    = "Container instances of the Galley compartment (the MCP sidecar)."
  matching_rule  = format("ALL {resource.type = 'computecontainerinstance', resource.compartment.id = '%s'}", var.compartment_ocid)
}

resource "oci_identity_dynamic_group" "build" {
  compartment_id = var.tenancy_ocid
  name           = format("%s-build", var.name_prefix)
  description    = "The Galley build instance, and nothing else."
  matching_rule  = format("ANY {instance.id = '%s'}", oci_core_instance.build.id)
}

resource "oci_identity_policy" "sidecar" {
  compartment_id = var.compartment_ocid
  name           = format("%s-sidecar", var.name_prefix)
  description    = "What the Galley MCP sidecar may do in its compartment."
  statements = concat([
    # Pull the sidecar's own image: with no pull secret, a container instance pulls from OCIR
    # as its resource principal.
    format("Allow dynamic-group %s to read repos in compartment id %s", oci_identity_dynamic_group.sidecar.name, var.compartment_ocid),
    # galley_session: create, update and delete the Resource Manager stack of each session.
    format("Allow dynamic-group %s to manage orm-stacks in compartment id %s", oci_identity_dynamic_group.sidecar.name, var.compartment_ocid),
    # galley_session: start plan/apply/destroy jobs, read their state and logs, cancel them.
    format("Allow dynamic-group %s to manage orm-jobs in compartment id %s", oci_identity_dynamic_group.sidecar.name, var.compartment_ocid),
    # Upload build tarballs and provider binaries, read command output: these two buckets only.
    format("Allow dynamic-group %s to manage objects in compartment id %s where any {target.bucket.name = '%s', target.bucket.name = '%s'}", oci_identity_dynamic_group.sidecar.name, var.compartment_ocid, oci_objectstorage_bucket.providers.name, oci_objectstorage_bucket.builds.name),
    # Look the two buckets up (a stack naming the providers bucket as its custom provider source
    # fails with CUSTOM_TERRAFORM_PROVIDER_BUCKET_NOT_FOUND when it cannot be seen).
    format("Allow dynamic-group %s to read buckets in compartment id %s where any {target.bucket.name = '%s', target.bucket.name = '%s'}", oci_identity_dynamic_group.sidecar.name, var.compartment_ocid, oci_objectstorage_bucket.providers.name, oci_objectstorage_bucket.builds.name),
    # The sidecar's durable store in the sessions bucket, and no other: list (OBJECT_INSPECT),
    # read (OBJECT_READ), create and overwrite with conditional writes (OBJECT_CREATE,
    # OBJECT_OVERWRITE), delete a released lease or a removed session (OBJECT_DELETE, which in a
    # versioned bucket only adds a delete marker). Not OBJECT_VERSION_DELETE or the other
    # permissions `manage` adds: this statement cannot erase the previous versions versioning
    # keeps. (`object-family` in stack_resource_families grants more, on every bucket here.)
    format("Allow dynamic-group %s to manage objects in compartment id %s where all {target.bucket.name = '%s', any {request.permission = 'OBJECT_INSPECT', request.permission = 'OBJECT_READ', request.permission = 'OBJECT_CREATE', request.permission = 'OBJECT_OVERWRITE', request.permission = 'OBJECT_DELETE'}}", oci_identity_dynamic_group.sidecar.name, var.compartment_ocid, oci_objectstorage_bucket.sessions.name),
    # galley_build: create run commands on the build instance and cancel them. Creating a
    # command needs INSTANCE_AGENT_COMMAND_CREATE, which only `manage` grants (`use` does not).
    format("Allow dynamic-group %s to manage instance-agent-command-family in compartment id %s", oci_identity_dynamic_group.sidecar.name, var.compartment_ocid),
    # galley_build: read each command's execution: state, exit code, output.
    format("Allow dynamic-group %s to read instance-agent-command-execution-family in compartment id %s", oci_identity_dynamic_group.sidecar.name, var.compartment_ocid),
    # galley_build: check that the build instance is running before sending it work.
    format("Allow dynamic-group %s to read instances in compartment id %s", oci_identity_dynamic_group.sidecar.name, var.compartment_ocid),
    ],
    # The stacks themselves: a Resource Manager job acts with the permissions of the principal
    # that starts it, so what the exported stacks create must be allowed here, and only here.
    [for family in var.stack_resource_families : format("Allow dynamic-group %s to manage %s in compartment id %s", oci_identity_dynamic_group.sidecar.name, family, var.compartment_ocid)],
  )
}

resource "oci_identity_policy" "build" {
  compartment_id = var.compartment_ocid
  name           = format("%s-build", var.name_prefix)
  description    = "What the Galley build instance may do in its compartment."
  statements = [
    # The agent's Run Command plugin fetches the commands addressed to this instance and reports
    # their results; the condition keeps it from seeing other instances' commands.
    format("Allow dynamic-group %s to use instance-agent-command-execution-family in compartment id %s where request.instance.id = target.instance.id", oci_identity_dynamic_group.build.name, var.compartment_ocid),
    # Download source tarballs and write command output: the builds bucket only.
    format("Allow dynamic-group %s to manage objects in compartment id %s where target.bucket.name = '%s'", oci_identity_dynamic_group.build.name, var.compartment_ocid, oci_objectstorage_bucket.builds.name),
    # Push built images to repositories of the compartment.
    format("Allow dynamic-group %s to use repos in compartment id %s", oci_identity_dynamic_group.build.name, var.compartment_ocid),
    # Create a missing repository in the compartment before the first push (a push alone would
    # create it at the tenancy root, outside this policy); nothing else that `manage` adds.
    format("Allow dynamic-group %s to manage repos in compartment id %s where request.permission = 'REPOSITORY_CREATE'", oci_identity_dynamic_group.build.name, var.compartment_ocid),
  ]
}

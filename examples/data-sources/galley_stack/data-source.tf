# A stack deployed by another configuration (or by hand), read by its OCID.
data "galley_stack" "shared" {
  provider = galley
  stack_id = "ocid1.ormstack.oc1.iad.aaaaaaaaexample" # or galley_session.NAME.id
}

output "shared_vcn_id" {
  value = data.galley_stack.shared.outputs["vcn_id"]
}

output "shared_last_job" {
  value = "${data.galley_stack.shared.last_job_id} (${data.galley_stack.shared.last_job_state})"
}

# terraform query -generate-config-out=stacks.tf  (Terraform 1.14 or later)
list "galley_session" "all" {
  provider = galley

  config {
    compartment_id = "ocid1.compartment.oc1..aaaaaaaaexample" # default: GALLEY_WORK_COMPARTMENT_ID
  }
}

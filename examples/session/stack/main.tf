# The configuration the session deploys as a Resource Manager stack. It uses terraform_data
# only, so the jobs need no provider download. Resource Manager sets compartment_ocid itself.

variable "greeting" {
  type = string
}

variable "replicas" {
  type = number
}

variable "compartment_ocid" {
  type = string
}

resource "terraform_data" "greeting" {
  input = var.greeting
}

resource "terraform_data" "replica" {
  count = var.replicas
  input = "replica-${count.index}"
}

output "greeting" {
  value = terraform_data.greeting.output
}

output "replicas" {
  value = terraform_data.replica[*].output
}

output "compartment" {
  value = var.compartment_ocid
}

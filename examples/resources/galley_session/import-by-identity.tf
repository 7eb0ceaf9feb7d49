# Terraform 1.12 or later; `terraform_dir` may be left out to keep the stack's configuration.
import {
  to = galley_session.app
  identity = {
    id = "ocid1.ormstack.oc1.iad.aaaaaaaaexample"
  }
}

# The id is the stack's OCID. Set terraform_dir to the stack's configuration afterwards: an
# unchanged configuration (the same digest) runs no job.
terraform import galley_session.app ocid1.ormstack.oc1.iad.aaaaaaaaexample

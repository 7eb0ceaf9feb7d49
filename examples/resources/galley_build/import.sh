# The id is the OCID of the build's instance agent command (the resource's id). Its settings
# are read back from the command's script; set app_dir afterwards.
terraform import galley_build.app ocid1.instanceagentcommand.oc1.iad.aaaaaaaaexample

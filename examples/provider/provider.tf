terraform {
  required_providers {
    galley = {
      source = "galley-dev/galley"
    }
  }
}

# esb_resources needs no OCI settings at all. galley_session and galley_build authenticate to
# OCI the way the oracle/oci provider does (here: the DEFAULT profile of ~/.oci/config).
provider "galley" {
  region              = "us-ashburn-1"
  config_file_profile = "DEFAULT"
}

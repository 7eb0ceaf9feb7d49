# One VCN, two subnets. The public subnet holds only the API Gateway; the container instance and
# the build instance sit in the private subnet with no public addresses and reach OCI services,
# OCIR and package mirrors through the NAT gateway.

resource "oci_core_vcn" "galley" {
  compartment_id = var.compartment_ocid
  cidr_blocks    = [var.vcn_cidr]
  display_name   = format("%s-vcn", var.name_prefix)
  dns_label      = "galley"
}

resource "oci_core_internet_gateway" "galley" {
  compartment_id = var.compartment_ocid
  vcn_id         = oci_core_vcn.galley.id
  display_name   = format("%s-igw", var.name_prefix)
  enabled        = true
}

resource "oci_core_nat_gateway" "galley" {
  compartment_id = var.compartment_ocid
  vcn_id         = oci_core_vcn.galley.id
  display_name   = format("%s-nat", var.name_prefix)
}

resource "oci_core_route_table" "public" {
  compartment_id = var.compartment_ocid
  vcn_id         = oci_core_vcn.galley.id
  display_name   = format("%s-public-rt", var.name_prefix)

  route_rules {
    description       = "Internet, both ways, for the public API Gateway."
    destination       = "0.0.0.0/0"
    destination_type  = "CIDR_BLOCK"
    network_entity_id = oci_core_internet_gateway.galley.id
  }
}

resource "oci_core_route_table" "private" {
  compartment_id = var.compartment_ocid
  vcn_id         = oci_core_vcn.galley.id
  display_name   = format("%s-private-rt", var.name_prefix)

  route_rules {
    description       = "Outbound only: OCI APIs, OCIR, package mirrors."
    destination       = "0.0.0.0/0"
    destination_type  = "CIDR_BLOCK"
    network_entity_id = oci_core_nat_gateway.galley.id
  }
}

resource "oci_core_security_list" "public" {
  compartment_id = var.compartment_ocid
  vcn_id         = oci_core_vcn.galley.id
  display_name   = format("%s-public-sl", var.name_prefix)

  ingress_security_rules {
    description = "HTTPS to the API Gateway."
    protocol    = "6"
    source      = var.client_cidr
    source_type = "CIDR_BLOCK"

    tcp_options {
      min = 443
      max = 443
    }
  }

  ingress_security_rules {
    description = "Path MTU discovery (ICMP fragmentation needed)."
    protocol    = "1"
    source      = "0.0.0.0/0"
    source_type = "CIDR_BLOCK"

    icmp_options {
      type = 3
      code = 4
    }
  }

  egress_security_rules {
    description      = "The gateway reaches the sidecar and OCI services."
    protocol         = "all"
    destination      = "0.0.0.0/0"
    destination_type = "CIDR_BLOCK"
  }
}

resource "oci_core_security_list" "private" {
  compartment_id = var.compartment_ocid
  vcn_id         = oci_core_vcn.galley.id
  display_name   = format("%s-private-sl", var.name_prefix)

  ingress_security_rules {
    description = "The sidecar's HTTP port, from the API Gateway's subnet only."
    protocol    = "6"
    source      = var.public_subnet_cidr
    source_type = "CIDR_BLOCK"

    tcp_options {
      min = 8000
      max = 8000
    }
  }

  ingress_security_rules {
    description = "Path MTU discovery inside the VCN."
    protocol    = "1"
    source      = var.vcn_cidr
    source_type = "CIDR_BLOCK"

    icmp_options {
      type = 3
      code = 4
    }
  }

  egress_security_rules {
    description      = "Outbound through the NAT gateway: OCI APIs, OCIR, package mirrors."
    protocol         = "all"
    destination      = "0.0.0.0/0"
    destination_type = "CIDR_BLOCK"
  }
}

resource "oci_core_subnet" "public" {
  compartment_id    = var.compartment_ocid
  vcn_id            = oci_core_vcn.galley.id
  cidr_block        = var.public_subnet_cidr
  display_name      = format("%s-public", var.name_prefix)
  dns_label         = "pub"
  route_table_id    = oci_core_route_table.public.id
  security_list_ids = [oci_core_security_list.public.id]
}

resource "oci_core_subnet" "private" {
  compartment_id             = var.compartment_ocid
  vcn_id                     = oci_core_vcn.galley.id
  cidr_block                 = var.private_subnet_cidr
  display_name               = format("%s-private", var.name_prefix)
  dns_label                  = "priv"
  route_table_id             = oci_core_route_table.private.id
  security_list_ids          = [oci_core_security_list.private.id]
  prohibit_public_ip_on_vnic = true
}

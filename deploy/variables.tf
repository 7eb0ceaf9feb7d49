# --- Filled in by Resource Manager; set them in terraform.tfvars when applying from a shell ---

variable "tenancy_ocid" {
  description = "OCID of the tenancy. Dynamic groups live at the tenancy root."
  type        = string
}

variable "compartment_ocid" {
  description = "OCID of the compartment that receives every resource, and where the sidecar's Resource Manager stacks are created."
  type        = string
}

variable "region" {
  description = "Region to deploy to, for example eu-frankfurt-1. IAM resources are created through the home region: apply from the home region, or create iam.tf's resources there first."
  type        = string
}

# --- Where things go ---

variable "availability_domain" {
  description = "Availability domain of the container instance and the build instance, for example \"Uocm:EU-FRANKFURT-1-AD-1\" (see `oci iam availability-domain list`)."
  type        = string
}

variable "namespace" {
  description = "Object Storage namespace of the tenancy (`oci os ns get`)."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of every display name, bucket name, dynamic group and policy. Bucket names must be unique in the namespace."
  type        = string
  default     = "galley"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name_prefix))
    error_message = "name_prefix must be 2 to 31 lowercase letters, digits or hyphens, starting with a letter."
  }
}

# --- Network ---

variable "vcn_cidr" {
  description = "CIDR block of the VCN."
  type        = string
  default     = "10.20.0.0/16"
}

variable "public_subnet_cidr" {
  description = "CIDR block of the public subnet (API Gateway only). The private subnet accepts port 8000 from this range alone."
  type        = string
  default     = "10.20.0.0/24"
}

variable "private_subnet_cidr" {
  description = "CIDR block of the private subnet (container instance and build instance)."
  type        = string
  default     = "10.20.1.0/24"
}

variable "sidecar_private_ip" {
  description = "Fixed private IP of the container instance, inside private_subnet_cidr. Fixed because the API Gateway's backend URL needs it and no attribute of the container instance exposes its address."
  type        = string
  default     = "10.20.1.10"
}

variable "client_cidr" {
  description = "Addresses allowed to reach the API Gateway on 443. Keep 0.0.0.0/0 for hosted assistants whose egress addresses you do not control; the URL token still guards every MCP request."
  type        = string
  default     = "0.0.0.0/0"
}

# --- The sidecar ---

variable "sidecar_image" {
  description = "OCIR URI of the sidecar image built from deploy/Dockerfile, for example \"fra.ocir.io/<namespace>/galley/sidecar:0.1.0\". The repository must be in compartment_ocid: the container instance pulls with its resource principal."
  type        = string
}

variable "galley_url_token" {
  description = "Secret every MCP request must carry as ?token=. The gateway refuses requests without the parameter; the sidecar compares the value in constant time. Generate it with `openssl rand -hex 32`."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.galley_url_token) >= 32
    error_message = "galley_url_token must be at least 32 characters (openssl rand -hex 32 gives 64)."
  }
}

variable "allowed_origins" {
  description = "Browser origins (scheme://host[:port]) allowed to call the sidecar, for browser-based MCP clients. Hosted and desktop clients send no Origin header and need none. Empty: every request that carries an Origin is refused."
  type        = list(string)
  default     = []
}

variable "read_only" {
  description = "When true the sidecar does not offer run_terraform_apply and run_terraform_destroy."
  type        = bool
  default     = false
}

variable "container_shape" {
  description = "Container Instance shape (a flex shape)."
  type        = string
  default     = "CI.Standard.E4.Flex"
}

variable "container_ocpus" {
  description = "OCPUs of the container instance."
  type        = number
  default     = 1
}

variable "container_memory_gbs" {
  description = "Memory of the container instance in GB. Terraform itself runs in the container; the stacks run in Resource Manager."
  type        = number
  default     = 4
}

variable "gateway_rate_limit" {
  description = "Requests per second the API Gateway accepts from one client IP, a brake on token guessing."
  type        = number
  default     = 20
}

variable "stack_resource_families" {
  description = "Resource types the sidecar may manage in the compartment. Resource Manager jobs act with the permissions of the principal that starts them, so the stacks the sidecar applies can create only these. The default covers the service types the sidecar exports."
  type        = list(string)
  default = [
    "virtual-network-family",
    "instance-family",
    "volume-family",
    "object-family",
    "load-balancers",
    "api-gateway-family",
    "functions-family",
    "cluster-family",
    "autonomous-database-family",
    "stream-family",
    "nosql-family",
  ]

  validation {
    condition     = length(var.stack_resource_families) > 0
    error_message = "List at least one resource family, or the sidecar's stacks cannot create anything."
  }
}

# --- The build instance ---

variable "build_instance_image_id" {
  description = "OCID of an Oracle Linux 9 platform image for the build instance (the Oracle Cloud Agent and its Run Command plugin come with it; cloud-init.yaml installs Docker with dnf)."
  type        = string
}

variable "build_instance_shape" {
  description = "Shape of the build instance (a flex shape)."
  type        = string
  default     = "VM.Standard.E4.Flex"
}

variable "build_instance_ocpus" {
  description = "OCPUs of the build instance."
  type        = number
  default     = 2
}

variable "build_instance_memory_gbs" {
  description = "Memory of the build instance in GB."
  type        = number
  default     = 16
}

variable "build_boot_volume_gbs" {
  description = "Boot volume size of the build instance in GB: images and Docker's build cache live there."
  type        = number
  default     = 100
}

# --- The Galley provider for Resource Manager ---

variable "provider_dist_dir" {
  description = "Directory in Resource Manager's custom provider layout (linux_amd64/terraform-provider-galley_v<version>, linux_arm64/...) uploaded to the providers bucket: what deploy/package-provider.sh writes to dist/rm-bucket. Relative to where Terraform runs; nothing is uploaded when it does not exist."
  type        = string
  default     = "../dist/rm-bucket"
}

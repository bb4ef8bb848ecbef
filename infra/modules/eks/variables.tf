variable "name" {
  description = "Cluster name."
  type        = string
}

variable "kubernetes_version" {
  description = "EKS Kubernetes minor version."
  type        = string
  default     = "1.32"
}

variable "vpc_id" {
  description = "VPC the cluster runs in."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the control-plane ENIs and the nodes."
  type        = list(string)
}

variable "endpoint_public_access" {
  description = "Expose the API endpoint publicly (restricted to public_access_cidrs). Off: reach it through the VPC."
  type        = bool
  default     = false
}

variable "public_access_cidrs" {
  description = "CIDRs allowed to reach a public API endpoint; never 0.0.0.0/0."
  type        = list(string)
  default     = []

  validation {
    condition     = !contains(var.public_access_cidrs, "0.0.0.0/0")
    error_message = "Do not open the API endpoint to the whole internet."
  }
}

variable "kms_key_arn" {
  description = "KMS key for Kubernetes Secrets envelope encryption, node volumes and the control-plane log group."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of control-plane logs."
  type        = number
  default     = 365
}

variable "node_groups" {
  description = "Managed node groups by name."
  type = map(object({
    instance_types = list(string)
    capacity_type  = optional(string, "ON_DEMAND")
    min_size       = number
    max_size       = number
    desired_size   = number
    disk_size_gib  = optional(number, 50)
    labels         = optional(map(string), {})
  }))
  default = {
    general = {
      instance_types = ["m6i.large"]
      min_size       = 2
      max_size       = 6
      desired_size   = 3
    }
  }
}

variable "tags" {
  description = "Tags for every resource; must include the cost tags cost-center and team."
  type        = map(string)

  validation {
    condition     = alltrue([for key in ["cost-center", "team"] : contains(keys(var.tags), key)])
    error_message = "tags must include cost-center and team."
  }
}

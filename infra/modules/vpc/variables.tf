variable "name" {
  description = "Name prefix for every resource."
  type        = string
}

variable "cidr_block" {
  description = "IPv4 CIDR of the VPC."
  type        = string
  default     = "10.0.0.0/16"
}

variable "azs" {
  description = "Availability zones to spread subnets over (two or three)."
  type        = list(string)

  validation {
    condition     = length(var.azs) >= 2 && length(var.azs) <= 3
    error_message = "Use two or three availability zones."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper, not zone-redundant) instead of one per zone."
  type        = bool
  default     = false
}

variable "flow_log_retention_days" {
  description = "How long VPC flow logs are kept."
  type        = number
  default     = 365
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the flow-log group."
  type        = string
}

variable "cluster_name" {
  description = "EKS cluster name, for the subnet discovery tags the load balancer controller reads."
  type        = string
}

variable "tags" {
  description = "Tags for every resource; must include the cost tags cost-center and team."
  type        = map(string)

  validation {
    condition     = alltrue([for key in ["cost-center", "team"] : contains(keys(var.tags), key)])
    error_message = "tags must include cost-center and team."
  }
}

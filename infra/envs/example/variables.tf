variable "region" {
  description = "AWS region."
  type        = string
  default     = "eu-west-1"
}

variable "name" {
  description = "Environment name; prefixes every resource."
  type        = string
  default     = "platform-example"
}

variable "azs" {
  description = "Availability zones."
  type        = list(string)
  default     = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
}

variable "vpc_cidr" {
  description = "VPC CIDR."
  type        = string
  default     = "10.20.0.0/16"
}

variable "cost_center" {
  description = "Cost center charged for this environment (tag cost-center)."
  type        = string
}

variable "team" {
  description = "Owning team (tag team)."
  type        = string
}

variable "extra_tags" {
  description = "More tags for every resource."
  type        = map(string)
  default     = {}
}

variable "kubernetes_version" {
  description = "EKS Kubernetes version."
  type        = string
  default     = "1.32"
}

variable "cluster_public_access_cidrs" {
  description = "Office/VPN CIDRs allowed to the EKS API; empty keeps the endpoint private."
  type        = list(string)
  default     = []
}

variable "runbooks_bucket_name" {
  description = "Globally unique name of the runbooks bucket."
  type        = string
}

variable "idp_namespace" {
  description = "Namespace of idp-agent (gitops/overlays/prod)."
  type        = string
  default     = "idp"
}

variable "idp_service_account" {
  description = "ServiceAccount of idp-agent."
  type        = string
  default     = "idp-agent"
}

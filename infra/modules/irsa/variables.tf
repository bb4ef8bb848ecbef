variable "name" {
  description = "IAM role name."
  type        = string
}

variable "oidc_provider_arn" {
  description = "ARN of the cluster's IAM OIDC provider (eks module output)."
  type        = string
}

variable "oidc_issuer" {
  description = "OIDC issuer without scheme (eks module output oidc_issuer)."
  type        = string
}

variable "namespace" {
  description = "Namespace of the Kubernetes ServiceAccount allowed to assume the role."
  type        = string
}

variable "service_account" {
  description = "Name of the Kubernetes ServiceAccount allowed to assume the role."
  type        = string
}

variable "policy_json" {
  description = "IAM policy document (JSON) with exactly what the workload needs."
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

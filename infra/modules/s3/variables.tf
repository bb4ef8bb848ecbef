variable "bucket_name" {
  description = "Globally unique bucket name."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for default encryption of the bucket."
  type        = string
}

variable "noncurrent_version_expiration_days" {
  description = "How long replaced object versions are kept."
  type        = number
  default     = 90
}

variable "access_log_retention_days" {
  description = "How long server access logs are kept."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags for every resource; must include the cost tags cost-center and team."
  type        = map(string)

  validation {
    condition     = alltrue([for key in ["cost-center", "team"] : contains(keys(var.tags), key)])
    error_message = "tags must include cost-center and team."
  }
}

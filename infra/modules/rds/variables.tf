variable "name" {
  description = "Instance identifier and name prefix."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the database subnets."
  type        = string
}

variable "subnet_ids" {
  description = "Database subnets (no internet route)."
  type        = list(string)
}

variable "allowed_security_group_ids" {
  description = "Security groups allowed to connect on 5432 (the EKS cluster security group)."
  type        = list(string)
}

variable "engine_version" {
  description = "PostgreSQL major.minor."
  type        = string
  default     = "16.8"
}

variable "parameter_group_family" {
  description = "Parameter group family matching engine_version."
  type        = string
  default     = "postgres16"
}

variable "instance_class" {
  description = "Instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "allocated_storage_gib" {
  description = "Initial storage."
  type        = number
  default     = 50
}

variable "max_allocated_storage_gib" {
  description = "Storage autoscaling ceiling."
  type        = number
  default     = 200
}

variable "initial_database" {
  description = "Database created with the instance (Backstage's); the threads database is created next to it (see infra/README.md)."
  type        = string
  default     = "backstage"
}

variable "master_username" {
  description = "Administrator user; its password is generated and kept in Secrets Manager by RDS."
  type        = string
  default     = "platform_admin"
}

variable "backup_retention_days" {
  description = "Automated backup retention."
  type        = number
  default     = 14
}

variable "kms_key_arn" {
  description = "KMS key for storage, Performance Insights and the master-password secret."
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

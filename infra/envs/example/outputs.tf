output "cluster_name" {
  description = "EKS cluster name (aws eks update-kubeconfig --name ...)."
  value       = module.eks.cluster_name
}

output "idp_agent_role_arn" {
  description = "Put on the idp-agent ServiceAccount: eks.amazonaws.com/role-arn (gitops overlay patch)."
  value       = module.idp_agent_irsa.role_arn
}

output "external_secrets_role_arn" {
  description = "Put on the External Secrets Operator's ServiceAccount."
  value       = module.external_secrets_irsa.role_arn
}

output "postgres_endpoint" {
  description = "host:port of PostgreSQL, for DATABASE_URL (stored in idp-agent/database-url)."
  value       = module.rds.endpoint
}

output "postgres_master_secret_arn" {
  description = "Secrets Manager secret with the generated administrator password."
  value       = module.rds.master_user_secret_arn
}

output "runbooks_bucket" {
  description = "Bucket for runbooks and snapshots."
  value       = module.runbooks_bucket.bucket_name
}

output "network_policy_cidrs" {
  description = "CIDRs for gitops/overlays/prod's NetworkPolicy patch: API server (VPC) and PostgreSQL (database subnets)."
  value = {
    api_server = module.vpc.vpc_cidr_block
    postgres   = module.vpc.database_subnet_cidrs
  }
}

output "secret_names" {
  description = "Secrets Manager names the ExternalSecret reads; set their values out of band."
  value       = sort([for secret in aws_secretsmanager_secret.idp : secret.name])
}

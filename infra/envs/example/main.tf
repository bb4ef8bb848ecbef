# Example environment: network, EKS, PostgreSQL, the runbooks bucket, the secrets idp-agent
# reads through External Secrets, and the two IRSA roles (idp-agent, External Secrets Operator).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  tags = merge(var.extra_tags, {
    "cost-center" = var.cost_center
    "team"        = var.team
    "environment" = var.name
    "managed-by"  = "terraform"
  })
  account_id = data.aws_caller_identity.current.account_id
  # Secrets Manager names idp-agent's ExternalSecret reads (gitops/base/externalsecret.yaml).
  secret_names = toset([
    "idp-agent/google-api-key",
    "idp-agent/api-keys",
    "idp-agent/database-url",
    "idp-agent/weaviate-api-key",
  ])
}

# --- encryption key shared by logs, EKS secrets, volumes, RDS, S3 and Secrets Manager ---

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_109:A key policy's resource is always "*" (the key itself); access is limited by principal
  #checkov:skip=CKV_AWS_111:A key policy's resource is always "*" (the key itself); access is limited by principal
  #checkov:skip=CKV_AWS_356:A key policy's resource is always "*" (the key itself); access is limited by principal
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${local.account_id}:root"]
    }
  }

  # CloudWatch Logs encrypts the VPC flow-log and EKS control-plane log groups with this key.
  statement {
    sid = "CloudWatchLogs"
    actions = [
      "kms:Encrypt*",
      "kms:Decrypt*",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:Describe*",
    ]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${data.aws_partition.current.partition}:logs:${var.region}:${local.account_id}:log-group:*"]
    }
  }
}

resource "aws_kms_key" "platform" {
  description             = "${var.name}: logs, EKS secrets, volumes, RDS, S3, Secrets Manager"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json

  tags = local.tags
}

resource "aws_kms_alias" "platform" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.platform.key_id
}

# --- network, cluster, database, bucket ---

module "vpc" {
  source = "../../modules/vpc"

  name         = var.name
  cidr_block   = var.vpc_cidr
  azs          = var.azs
  cluster_name = var.name
  kms_key_arn  = aws_kms_key.platform.arn
  tags         = local.tags
}

module "eks" {
  source = "../../modules/eks"

  name                   = var.name
  kubernetes_version     = var.kubernetes_version
  vpc_id                 = module.vpc.vpc_id
  subnet_ids             = module.vpc.private_subnet_ids
  endpoint_public_access = length(var.cluster_public_access_cidrs) > 0
  public_access_cidrs    = var.cluster_public_access_cidrs
  kms_key_arn            = aws_kms_key.platform.arn
  tags                   = local.tags
}

module "rds" {
  source = "../../modules/rds"

  name                       = "${var.name}-postgres"
  vpc_id                     = module.vpc.vpc_id
  subnet_ids                 = module.vpc.database_subnet_ids
  allowed_security_group_ids = [module.eks.cluster_security_group_id]
  kms_key_arn                = aws_kms_key.platform.arn
  tags                       = local.tags
}

module "runbooks_bucket" {
  source = "../../modules/s3"

  bucket_name = var.runbooks_bucket_name
  kms_key_arn = aws_kms_key.platform.arn
  tags        = local.tags
}

# --- secrets idp-agent needs (values are set out of band; see docs/SECRETS.md) ---

resource "aws_secretsmanager_secret" "idp" {
  #checkov:skip=CKV2_AWS_57:Third-party API keys cannot be rotated by a Lambda; rotation is a runbook (docs/SECRETS.md)
  for_each = local.secret_names

  name                    = each.value
  description             = "idp-agent: ${each.value}"
  kms_key_id              = aws_kms_key.platform.arn
  recovery_window_in_days = 7

  tags = local.tags
}

# --- IRSA: idp-agent reads the runbooks bucket, nothing else ---

data "aws_iam_policy_document" "idp_agent" {
  statement {
    sid       = "ListRunbooks"
    actions   = ["s3:ListBucket"]
    resources = [module.runbooks_bucket.bucket_arn]
  }

  statement {
    sid       = "ReadRunbooks"
    actions   = ["s3:GetObject"]
    resources = ["${module.runbooks_bucket.bucket_arn}/*"]
  }

  statement {
    sid       = "DecryptRunbooks"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.platform.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${var.region}.amazonaws.com"]
    }
  }
}

module "idp_agent_irsa" {
  source = "../../modules/irsa"

  name              = "${var.name}-idp-agent"
  oidc_provider_arn = module.eks.oidc_provider_arn
  oidc_issuer       = module.eks.oidc_issuer
  namespace         = var.idp_namespace
  service_account   = var.idp_service_account
  policy_json       = data.aws_iam_policy_document.idp_agent.json
  tags              = local.tags
}

# --- IRSA: External Secrets Operator reads idp-agent's secrets only ---

data "aws_iam_policy_document" "external_secrets" {
  statement {
    sid = "ReadIdpAgentSecrets"
    actions = [
      "secretsmanager:GetSecretValue",
      "secretsmanager:DescribeSecret",
    ]
    resources = [for secret in aws_secretsmanager_secret.idp : secret.arn]
  }

  statement {
    sid       = "DecryptIdpAgentSecrets"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.platform.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${var.region}.amazonaws.com"]
    }
  }
}

module "external_secrets_irsa" {
  source = "../../modules/irsa"

  name              = "${var.name}-external-secrets"
  oidc_provider_arn = module.eks.oidc_provider_arn
  oidc_issuer       = module.eks.oidc_issuer
  namespace         = "external-secrets"
  service_account   = "external-secrets"
  policy_json       = data.aws_iam_policy_document.external_secrets.json
  tags              = local.tags
}

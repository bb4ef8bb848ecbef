terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # Keep state remote and locked. Fill in and run `terraform init -backend-config=...`:
  # backend "s3" {
  #   bucket         = "example-org-terraform-state"
  #   key            = "idp-agent/example.tfstate"
  #   region         = "eu-west-1"
  #   dynamodb_table = "terraform-locks"
  #   encrypt        = true
  # }
}

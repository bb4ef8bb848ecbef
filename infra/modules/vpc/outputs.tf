output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "CIDR of the VPC (the NetworkPolicy's API-server egress rule)."
  value       = aws_vpc.this.cidr_block
}

output "public_subnet_ids" {
  description = "Public subnets (load balancers)."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "Private subnets (EKS nodes and pods)."
  value       = aws_subnet.private[*].id
}

output "database_subnet_ids" {
  description = "Database subnets (RDS)."
  value       = aws_subnet.database[*].id
}

output "database_subnet_cidrs" {
  description = "CIDRs of the database subnets (the NetworkPolicy's PostgreSQL egress rule)."
  value       = aws_subnet.database[*].cidr_block
}

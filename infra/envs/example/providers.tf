provider "aws" {
  region = var.region

  # Cost tags on everything this provider creates, including resources a module forgets.
  # Modules also set them explicitly, because default_tags do not reach every child object
  # (launch-template instances and volumes, for one).
  default_tags {
    tags = local.tags
  }
}

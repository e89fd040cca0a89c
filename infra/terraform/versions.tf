terraform {
  # 1.9 is the first release whose variable validations may refer to other
  # variables (archive lifecycle days, VPC subnet/security-group pairing).
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}

# This directory is the deployable root (the brief's interface has `aws_region`),
# so it configures its own provider. default_tags keeps every taggable resource
# traceable to the stack without repeating `tags = ...` everywhere.
provider "aws" {
  region = var.aws_region

  default_tags {
    tags = local.tags
  }
}

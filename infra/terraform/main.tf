data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  # One name stem for every resource, so a stack is found by prefix in any console.
  name_prefix = "${var.project_name}-${var.environment}"

  # The logical application: the alerter's EMF `Application` dimension and the
  # alarms on it must agree, so both read this one value.
  application_name = local.name_prefix

  flink_application_name = "${local.name_prefix}-detector"
  alerter_function_name  = "${local.name_prefix}-alerter"
  dashboard_name         = local.name_prefix

  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = var.aws_region

  vpc_enabled = length(var.vpc_subnet_ids) > 0

  tags = merge(var.tags, {
    Project     = var.project_name
    Environment = var.environment
    ManagedBy   = "terraform"
    Component   = "anomaly-detection"
  })

  # The console host differs per partition; the alerter links to the dashboard.
  console_hosts = {
    "aws"        = "console.aws.amazon.com"
    "aws-cn"     = "console.amazonaws.cn"
    "aws-us-gov" = "console.amazonaws-us-gov.com"
  }
  dashboard_url = format(
    "https://%s.%s/cloudwatch/home?region=%s#dashboards/dashboard/%s",
    local.region,
    lookup(local.console_hosts, local.partition, "console.aws.amazon.com"),
    local.region,
    local.dashboard_name,
  )

  # Log group names are fixed by convention (Managed Flink, Lambda and Firehose
  # consoles look there) and are needed by the KMS key policy before the groups exist.
  flink_log_group_name      = "/aws/kinesis-analytics/${local.flink_application_name}"
  alerter_log_group_name    = "/aws/lambda/${local.alerter_function_name}"
  firehose_log_group_prefix = "/aws/kinesisfirehose/${local.name_prefix}"
}

locals {
  # Variable defaults cannot use path.module, so the packager's output paths are resolved here.
  flink_jar_path   = coalesce(var.flink_jar_path, "${path.module}/../../target/packager/anomaly-detector.jar")
  alerter_zip_path = coalesce(var.alerter_zip_path, "${path.module}/../../target/packager/alerter.zip")
}

# The alerter turns anomaly records into SNS alerts and EMF metrics. Nothing it
# cannot handle is lost, and every record that is not alerted on is kept with its
# payload in the archive bucket:
# - a record that can never become an alert (not a verdict, unknown schemaVersion,
#   a message SNS refuses) is written by the alerter itself under unalertable/,
#   counted in InvalidAnomalyRecords, which has an alarm;
# - a batch that keeps failing (SNS down, throttled, a KMS or permission fault) is
#   bisected and retried a bounded number of times, then Lambda writes it, the
#   records included, under aws/lambda/ (the on-failure destination; an SQS
#   destination would receive only shard and sequence numbers, pointing into a
#   stream that forgets them after kinesis_retention_hours).

# Asynchronous invocations only (a manual `aws lambda invoke --invocation-type
# Event`): Lambda's dead-letter queue, which receives the event itself.
resource "aws_sqs_queue" "alerter_failures" {
  name              = "${local.name_prefix}-alerter-failures"
  kms_master_key_id = aws_kms_key.this.arn
  # A data key is reused for 5 minutes: fewer KMS calls, same key.
  kms_data_key_reuse_period_seconds = 300
  # The maximum: parked events must outlive a long weekend.
  message_retention_seconds = 1209600
}

data "aws_iam_policy_document" "alerter_failures_queue" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.alerter_failures.arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "alerter_failures" {
  queue_url = aws_sqs_queue.alerter_failures.id
  policy    = data.aws_iam_policy_document.alerter_failures_queue.json
}

resource "aws_cloudwatch_log_group" "alerter" {
  #checkov:skip=CKV_AWS_338:Retention is the cloudwatch_log_retention_days input (default 14 days); AnomalyCount and friends are extracted from these logs as metrics when written (EMF), so the metrics outlive the logs.
  name              = local.alerter_log_group_name
  retention_in_days = var.cloudwatch_log_retention_days
  kms_key_id        = aws_kms_key.this.arn
}

resource "aws_lambda_function" "alerter" {
  #checkov:skip=CKV_AWS_117:VPC placement is optional (vpc_subnet_ids); the function only calls regional AWS APIs (Kinesis, SNS, SQS) and needs no private network access by default.
  #checkov:skip=CKV_AWS_272:Integrity is pinned by source_code_hash of the zip `packager build` writes; AWS Signer is not part of the build pipeline.
  count = var.enable_alerter ? 1 : 0

  function_name = local.alerter_function_name
  description   = "Publishes anomalies from ${aws_kinesis_stream.this["anomalies"].name} to SNS and as EMF metrics"
  role          = aws_iam_role.alerter.arn

  runtime       = "provided.al2023"
  architectures = ["arm64"]
  handler       = "bootstrap"

  filename         = local.alerter_zip_path
  source_code_hash = local.alerter_zip_hash

  memory_size                    = var.alerter_memory_mb
  timeout                        = var.alerter_timeout_seconds
  reserved_concurrent_executions = var.alerter_reserved_concurrency
  kms_key_arn                    = aws_kms_key.this.arn

  environment {
    variables = {
      SNS_TOPIC_ARN      = aws_sns_topic.alerts.arn
      APPLICATION_NAME   = local.application_name
      DASHBOARD_URL      = local.dashboard_url
      UNALERTABLE_BUCKET = aws_s3_bucket.archive.id
      UNALERTABLE_PREFIX = "${local.kept.unalertable}/"
      RUST_LOG           = var.alerter_log_level
    }
  }

  tracing_config {
    mode = "Active"
  }

  # Asynchronous invocations (e.g. a manual `aws lambda invoke --invocation-type Event`)
  # that keep failing are parked in the same queue as failed stream batches.
  dead_letter_config {
    target_arn = aws_sqs_queue.alerter_failures.arn
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.alerter.name
  }

  dynamic "vpc_config" {
    for_each = local.vpc_enabled ? [1] : []
    content {
      subnet_ids         = var.vpc_subnet_ids
      security_group_ids = var.vpc_security_group_ids
    }
  }

  lifecycle {
    precondition {
      condition     = fileexists(local.alerter_zip_path)
      error_message = "The alerter zip ${local.alerter_zip_path} does not exist: run `packager build` first, or set alerter_zip_path."
    }
  }

  depends_on = [aws_iam_role_policy.alerter]
}

locals {
  # try(): a missing zip is reported by the precondition above with a useful message.
  alerter_zip_hash = try(filebase64sha256(local.alerter_zip_path), "missing")
}

resource "aws_lambda_event_source_mapping" "alerter" {
  count = var.enable_alerter ? 1 : 0

  function_name    = aws_lambda_function.alerter[0].arn
  event_source_arn = aws_kinesis_stream.this["anomalies"].arn
  # From the oldest retained record: an anomaly written before the mapping
  # existed (first deploy, re-creation) is still alerted on.
  starting_position = "TRIM_HORIZON"
  batch_size        = var.alerter_batch_size

  # The alerter reports which records failed; only those (and later ones) are retried.
  function_response_types        = ["ReportBatchItemFailures"]
  bisect_batch_on_function_error = true
  maximum_retry_attempts         = var.alerter_maximum_retry_attempts
  maximum_record_age_in_seconds  = var.alerter_maximum_record_age_seconds

  # S3, not SQS: Lambda writes the whole invocation record, payload included.
  destination_config {
    on_failure {
      destination_arn = aws_s3_bucket.archive.arn
    }
  }

  depends_on = [aws_iam_role_policy.alerter]
}

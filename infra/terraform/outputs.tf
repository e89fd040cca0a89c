output "flink_application_name" {
  description = "Name of the Managed Flink application (`packager deploy` updates and starts it)."
  value       = local.flink_application_name
  # The name is fixed by naming rules; depending on the resource keeps the output
  # from being read before the application exists.
  depends_on = [aws_kinesisanalyticsv2_application.detector]
}

output "kinesis_stream_name" {
  description = "Name of the input (transactions) stream producers write to, e.g. `packager send events.jsonl --stream <this>`."
  value       = aws_kinesis_stream.this["input"].name
}

output "cloudwatch_log_group_name" {
  description = "CloudWatch log group of the Flink application."
  value       = aws_cloudwatch_log_group.flink.name
}

output "flink_log_stream_arn" {
  description = "ARN of the log stream the Flink application writes to (for `packager deploy` creating or updating the application)."
  value       = aws_cloudwatch_log_stream.flink.arn
}

output "flink_service_role_arn" {
  description = "ARN of the Flink application's service execution role (read the streams, the jar, write logs and metrics)."
  value       = aws_iam_role.flink.arn
}

output "sns_topic_arn" {
  description = "ARN of the KMS-encrypted SNS topic that receives anomaly alerts (one message per anomaly, from the alerter)."
  value       = aws_sns_topic.alerts.arn
}

output "operations_topic_arn" {
  description = "ARN of the KMS-encrypted SNS topic every CloudWatch alarm of the stack notifies."
  value       = aws_sns_topic.operations.arn
}

output "aws_region" {
  description = "Region the stack is deployed in."
  value       = local.region
}

output "application_name" {
  description = "Value of the `Application` dimension of the AnomalyDetection metrics (project_name-environment)."
  value       = local.application_name
}

output "flink_application_arn" {
  description = "ARN of the Managed Flink application, or null when enable_flink_application is false."
  value       = try(aws_kinesisanalyticsv2_application.detector[0].arn, null)
}

output "kinesis_stream_arn" {
  description = "ARN of the input (transactions) stream."
  value       = aws_kinesis_stream.this["input"].arn
}

output "anomalies_stream_arn" {
  description = "ARN of the anomalies stream (the job's `anomalies` sink, the alerter's source)."
  value       = aws_kinesis_stream.this["anomalies"].arn
}

output "dead_letters_stream_arn" {
  description = "ARN of the dead-letter stream (the job's `dead_letters` sink)."
  value       = aws_kinesis_stream.this["dead_letters"].arn
}

output "anomalies_stream_name" {
  description = "Name of the stream the job writes anomalies to (read by the alerter)."
  value       = aws_kinesis_stream.this["anomalies"].name
}

output "dead_letters_stream_name" {
  description = "Name of the stream the job writes records it could not parse or score to."
  value       = aws_kinesis_stream.this["dead_letters"].name
}

output "artifacts_bucket_name" {
  description = "S3 bucket holding the Flink job jar; `packager deploy` uploads new jars under flink_code_prefix."
  value       = aws_s3_bucket.artifacts.id
}

output "flink_code_prefix" {
  description = "Key prefix for job jars in the artifacts bucket (content-addressed: flink/anomaly-detector-<sha256>.jar)."
  value       = "flink/"
}

output "flink_initial_code_key" {
  description = "Key of the jar Terraform uploaded on first apply, or null when enable_flink_application is false."
  value       = try(aws_s3_object.flink_jar[0].key, null)
}

output "archive_bucket_name" {
  description = "S3 bucket with the Firehose archives under raw/, anomalies/ and dead-letters/ (errors under errors/)."
  value       = aws_s3_bucket.archive.id
}

output "kms_key_arn" {
  description = "ARN of the customer-managed KMS key encrypting every store of the stack."
  value       = aws_kms_key.this.arn
}

output "alerter_function_name" {
  description = "Name of the alerter Lambda, or null when enable_alerter is false."
  value       = try(aws_lambda_function.alerter[0].function_name, null)
}

output "alerter_failures_queue_url" {
  description = "URL of the SQS queue holding asynchronous alerter invocations that kept failing (stream batches are kept in the archive bucket, see kept_prefixes)."
  value       = aws_sqs_queue.alerter_failures.url
}

output "kept_prefixes" {
  description = "Prefixes in the archive bucket where what was not alerted on is kept with its payload: unalertable (records the alerter can never alert on, with the reason) and alerter_failures (batches that kept failing, written by Lambda)."
  value       = { for name, prefix in local.kept : name => "${prefix}/" }
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.main.dashboard_name
}

output "dashboard_url" {
  description = "Console URL of the CloudWatch dashboard (also given to the alerter as DASHBOARD_URL)."
  value       = local.dashboard_url
}

output "flink_deploy_defaults" {
  description = "What `packager deploy --terraform-outputs` writes unless told otherwise (it owns these after creation): parallelism, parallelism_per_kpu, auto_scaling, checkpoint_interval_ms, and the runtime property groups (group id => key => value) as this stack's variables make them."
  value = {
    parallelism            = var.flink_parallelism
    parallelism_per_kpu    = var.flink_parallelism_per_kpu
    auto_scaling           = var.flink_autoscaling_enabled
    checkpoint_interval_ms = var.flink_checkpoint_interval_ms
    property_groups        = local.flink_property_groups
  }
}

output "flink_property_groups" {
  description = "Runtime property groups as deployed (group id => key => value). `packager run` can write them to a local application_properties.json."
  value = var.enable_flink_application ? {
    for g in aws_kinesisanalyticsv2_application.detector[0].application_configuration[0].environment_properties[0].property_group :
    g.property_group_id => g.property_map
  } : local.flink_property_groups
}

# Each stream is archived as delivered, partitioned by arrival date, so raw input,
# anomalies and dead letters can be replayed or queried (Athena) later.

resource "aws_cloudwatch_log_group" "firehose" {
  #checkov:skip=CKV_AWS_338:Retention is the cloudwatch_log_retention_days input (default 14 days): delivery-error logs are operational, not an audit trail.
  for_each = local.archives

  name              = "${local.firehose_log_group_prefix}-${replace(each.key, "_", "-")}"
  retention_in_days = var.cloudwatch_log_retention_days
  kms_key_id        = aws_kms_key.this.arn
}

resource "aws_cloudwatch_log_stream" "firehose" {
  for_each = local.archives

  name           = "DestinationDelivery"
  log_group_name = aws_cloudwatch_log_group.firehose[each.key].name
}

resource "aws_kinesis_firehose_delivery_stream" "archive" {
  # With a Kinesis stream as source, Firehose keeps no data at rest of its own (the
  # KMS-encrypted stream is the buffer) and the API rejects server-side encryption
  # for that source type; what lands in S3 is SSE-KMS with our key (kms_key_arn below).
  #checkov:skip=CKV_AWS_240:Delivery stream SSE is not supported for KinesisStreamAsSource; the source stream and the S3 objects are both encrypted with the stack's CMK.
  #checkov:skip=CKV_AWS_241:Same as CKV_AWS_240: there is no delivery-stream SSE to point at a CMK for this source type.
  for_each = local.archives

  name        = "${local.name_prefix}-${replace(each.key, "_", "-")}-archive"
  destination = "extended_s3"

  kinesis_source_configuration {
    kinesis_stream_arn = aws_kinesis_stream.this[each.value.stream].arn
    role_arn           = aws_iam_role.firehose[each.key].arn
  }

  extended_s3_configuration {
    role_arn            = aws_iam_role.firehose[each.key].arn
    bucket_arn          = aws_s3_bucket.archive.arn
    kms_key_arn         = aws_kms_key.this.arn
    prefix              = "${each.value.prefix}/!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/"
    error_output_prefix = "errors/${each.value.prefix}/!{firehose:error-output-type}/!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/"
    buffering_interval  = var.firehose_buffering_interval_seconds
    buffering_size      = var.firehose_buffering_size_mb
    compression_format  = "GZIP"

    cloudwatch_logging_options {
      enabled         = true
      log_group_name  = aws_cloudwatch_log_group.firehose[each.key].name
      log_stream_name = aws_cloudwatch_log_stream.firehose[each.key].name
    }
  }

  # Firehose checks the role's access when the stream is created.
  depends_on = [aws_iam_role_policy.firehose]
}

locals {
  on_demand = var.kinesis_stream_mode == "ON_DEMAND"

  # The job reads `transactions` and writes the other two; the Firehose archives
  # and the alerter hang off them (see ARCHITECTURE.md).
  streams = {
    input = {
      name        = "${local.name_prefix}-transactions"
      shard_count = var.kinesis_stream_shard_count
    }
    anomalies = {
      name        = "${local.name_prefix}-anomalies"
      shard_count = var.kinesis_output_shard_count
    }
    dead_letters = {
      name        = "${local.name_prefix}-dead-letters"
      shard_count = var.kinesis_output_shard_count
    }
  }
}

resource "aws_kinesis_stream" "this" {
  for_each = local.streams

  name             = each.value.name
  shard_count      = local.on_demand ? null : each.value.shard_count
  retention_period = var.kinesis_retention_hours

  encryption_type = "KMS"
  kms_key_id      = aws_kms_key.this.arn

  stream_mode_details {
    stream_mode = var.kinesis_stream_mode
  }
}

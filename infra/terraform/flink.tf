locals {
  flink_log_stream_name = "kinesis-analytics-log-stream"

  # The job reads these exact group ids and keys (values are strings); see the
  # Runtime properties table in README.md. Connector keys follow the Flink
  # Kinesis SQL connector (flink-sql-connector-aws-kinesis-streams 5.x).
  # Written when the application is created; `packager deploy` owns them after
  # that (see the lifecycle block below and output flink_deploy_defaults).
  flink_property_groups = {
    source = {
      "connector"            = "kinesis"
      "stream.arn"           = aws_kinesis_stream.this["input"].arn
      "aws.region"           = local.region
      "source.init.position" = var.flink_source_init_position
      "format"               = "raw"
    }
    anomalies = {
      "connector"  = "kinesis"
      "stream.arn" = aws_kinesis_stream.this["anomalies"].arn
      "aws.region" = local.region
      "format"     = "raw"
    }
    dead_letters = {
      "connector"  = "kinesis"
      "stream.arn" = aws_kinesis_stream.this["dead_letters"].arn
      "aws.region" = local.region
      "format"     = "raw"
    }
    # The dedicated variables win over detector_properties (and validation forbids the overlap).
    detector = merge(var.detector_properties, {
      "threshold_multiplier" = tostring(var.anomaly_threshold_multiplier)
      "detector"             = var.detector
      "min_events"           = tostring(var.min_events)
    })
    job = {
      "state_ttl_hours" = tostring(var.state_ttl_hours)
    }
  }
}

resource "aws_cloudwatch_log_group" "flink" {
  #checkov:skip=CKV_AWS_338:Retention is the cloudwatch_log_retention_days input (default 14 days): these are operational logs, not an audit trail; the data itself is archived in S3.
  name              = local.flink_log_group_name
  retention_in_days = var.cloudwatch_log_retention_days
  kms_key_id        = aws_kms_key.this.arn
}

resource "aws_cloudwatch_log_stream" "flink" {
  name           = local.flink_log_stream_name
  log_group_name = aws_cloudwatch_log_group.flink.name
}

resource "aws_kinesisanalyticsv2_application" "detector" {
  count = var.enable_flink_application ? 1 : 0

  name                   = local.flink_application_name
  description            = "Anomaly detection: WebAssembly kernel per key over ${aws_kinesis_stream.this["input"].name}"
  runtime_environment    = var.flink_runtime
  service_execution_role = aws_iam_role.flink.arn
  # false leaves the run state to `packager deploy` (the provider only acts when this value changes).
  start_application = var.flink_start_application

  application_configuration {
    application_code_configuration {
      # A jar is a zip file as far as Managed Flink is concerned.
      code_content_type = "ZIPFILE"

      code_content {
        s3_content_location {
          bucket_arn = aws_s3_bucket.artifacts.arn
          file_key   = aws_s3_object.flink_jar[0].key
          # Pinned to the version uploaded (the bucket is versioned): a later write to the key cannot change what a
          # restart runs. `packager deploy` pins every jar it uploads the same way.
          object_version = aws_s3_object.flink_jar[0].version_id
        }
      }
    }

    application_snapshot_configuration {
      snapshots_enabled = true
    }

    environment_properties {
      dynamic "property_group" {
        for_each = local.flink_property_groups
        content {
          property_group_id = property_group.key
          property_map      = property_group.value
        }
      }
    }

    flink_application_configuration {
      checkpoint_configuration {
        configuration_type            = "CUSTOM"
        checkpointing_enabled         = true
        checkpoint_interval           = var.flink_checkpoint_interval_ms
        min_pause_between_checkpoints = 5000
      }

      monitoring_configuration {
        configuration_type = "CUSTOM"
        log_level          = var.flink_log_level
        metrics_level      = var.flink_metrics_level
      }

      parallelism_configuration {
        configuration_type   = "CUSTOM"
        parallelism          = var.flink_parallelism
        parallelism_per_kpu  = var.flink_parallelism_per_kpu
        auto_scaling_enabled = var.flink_autoscaling_enabled
      }
    }

    dynamic "vpc_configuration" {
      for_each = local.vpc_enabled ? [1] : []
      content {
        subnet_ids         = var.vpc_subnet_ids
        security_group_ids = var.vpc_security_group_ids
      }
    }
  }

  cloudwatch_logging_options {
    log_stream_arn = aws_cloudwatch_log_stream.flink.arn
  }

  lifecycle {
    # One owner per setting. Terraform creates the application with the first jar
    # and these settings; after that `packager deploy` owns what it writes: the code,
    # the runtime property groups, parallelism and checkpointing. It reads its
    # defaults for them from output flink_deploy_defaults, so the variables still
    # decide (change one, apply, deploy). Were Terraform to manage them too, every
    # apply after a deploy would revert them and restart the job (and roll the code
    # back to the first jar). Terraform keeps the rest: role, runtime, logging,
    # monitoring level, snapshots, VPC.
    ignore_changes = [
      application_configuration[0].application_code_configuration[0].code_content,
      application_configuration[0].environment_properties,
      application_configuration[0].flink_application_configuration[0].parallelism_configuration,
      application_configuration[0].flink_application_configuration[0].checkpoint_configuration,
    ]
  }

  # The role's permissions must exist before the service validates them at create time.
  depends_on = [aws_iam_role_policy.flink]
}

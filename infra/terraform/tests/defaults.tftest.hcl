# The stack with its default inputs: what a user relies on after `terraform apply`.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  project_name     = "anomaly"
  flink_jar_path   = "tests/fixtures/anomaly-detector.jar"
  alerter_zip_path = "tests/fixtures/alerter.zip"
  # The provider installed here (hashicorp/aws 5.100) refuses FLINK-2_2, the default, when it plans the application;
  # runtime.tftest.hcl tests the default with the application left out.
  flink_runtime = "FLINK-1_20"
}

# Distinct ARNs per stream, so "the source group carries the input stream's ARN"
# cannot pass by every stream sharing the mock's default ARN.
override_resource {
  target = aws_kinesis_stream.this["input"]
  values = { arn = "arn:aws:kinesis:eu-west-1:123456789012:stream/anomaly-dev-transactions" }
}

override_resource {
  target = aws_kinesis_stream.this["anomalies"]
  values = { arn = "arn:aws:kinesis:eu-west-1:123456789012:stream/anomaly-dev-anomalies" }
}

override_resource {
  target = aws_kinesis_stream.this["dead_letters"]
  values = { arn = "arn:aws:kinesis:eu-west-1:123456789012:stream/anomaly-dev-dead-letters" }
}

# Same for the Flink role and log stream: the other roles and the Firehose log
# streams would otherwise share the mock's default ARN.
override_resource {
  target = aws_iam_role.flink
  values = { arn = "arn:aws:iam::123456789012:role/anomaly-dev-flink" }
}

# The two topics must be told apart: alarms go to one, anomalies to the other.
override_resource {
  target = aws_sns_topic.operations
  values = { arn = "arn:aws:sns:eu-west-1:123456789012:anomaly-dev-operations" }
}

override_resource {
  target = aws_s3_bucket.archive
  values = { arn = "arn:aws:s3:::anomaly-dev-123456789012-eu-west-1-archive", id = "anomaly-dev-123456789012-eu-west-1-archive" }
}

override_resource {
  target = aws_cloudwatch_log_stream.flink
  values = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/kinesis-analytics/anomaly-dev-detector:log-stream:kinesis-analytics-log-stream" }
}

run "plan_with_defaults" {
  command = plan

  assert {
    condition     = output.kinesis_stream_name == "anomaly-dev-transactions"
    error_message = "The input stream must be named <project>-<environment>-transactions."
  }

  assert {
    condition     = length(aws_sns_topic_subscription.email) == 0
    error_message = "No email subscription may be planned when notification_email is null."
  }
}

run "apply_with_defaults" {
  command = apply

  # --- the brief's outputs -------------------------------------------------
  assert {
    condition = alltrue([for v in [
      output.flink_application_name,
      output.kinesis_stream_name,
      output.cloudwatch_log_group_name,
      output.sns_topic_arn,
    ] : v != null && length(v) > 0])
    error_message = "flink_application_name, kinesis_stream_name, cloudwatch_log_group_name and sns_topic_arn must all be non-empty."
  }

  assert {
    condition     = output.flink_application_name == aws_kinesisanalyticsv2_application.detector[0].name
    error_message = "flink_application_name must name the application that was created."
  }

  assert {
    condition     = output.cloudwatch_log_group_name == aws_cloudwatch_log_group.flink.name && output.sns_topic_arn == aws_sns_topic.alerts.arn
    error_message = "cloudwatch_log_group_name and sns_topic_arn must point at the created log group and topic."
  }

  # --- what `packager deploy` reads from `terraform output -json` ------------
  assert {
    condition = (
      output.artifacts_bucket_name == aws_s3_bucket.artifacts.id &&
      output.flink_service_role_arn == aws_iam_role.flink.arn &&
      output.kinesis_stream_arn == aws_kinesis_stream.this["input"].arn &&
      output.anomalies_stream_arn == aws_kinesis_stream.this["anomalies"].arn &&
      output.dead_letters_stream_arn == aws_kinesis_stream.this["dead_letters"].arn &&
      output.flink_log_stream_arn == aws_cloudwatch_log_stream.flink.arn &&
      output.flink_log_stream_arn == aws_kinesisanalyticsv2_application.detector[0].cloudwatch_logging_options[0].log_stream_arn &&
      output.aws_region == var.aws_region
    )
    error_message = "The deploy outputs (artifacts bucket, Flink role, the three stream ARNs, Flink log stream, region) must name what the stack created."
  }

  assert {
    condition     = aws_kinesisanalyticsv2_application.detector[0].service_execution_role == output.flink_service_role_arn
    error_message = "flink_service_role_arn must be the role the application runs with."
  }

  # --- every store encrypted with the stack's CMK --------------------------
  assert {
    condition     = aws_kms_key.this.enable_key_rotation
    error_message = "KMS key rotation must be on."
  }

  assert {
    condition     = alltrue([for s in aws_kinesis_stream.this : s.encryption_type == "KMS" && s.kms_key_id == aws_kms_key.this.arn])
    error_message = "Every Kinesis stream must be KMS-encrypted with the stack's key."
  }

  assert {
    condition = alltrue([for c in [
      aws_s3_bucket_server_side_encryption_configuration.artifacts,
      aws_s3_bucket_server_side_encryption_configuration.archive,
      ] : alltrue([for r in c.rule :
        r.bucket_key_enabled &&
        r.apply_server_side_encryption_by_default[0].sse_algorithm == "aws:kms" &&
        r.apply_server_side_encryption_by_default[0].kms_master_key_id == aws_kms_key.this.arn
    ])])
    error_message = "The artifacts and archive buckets must default to SSE-KMS with the stack's key and a bucket key."
  }

  assert {
    condition     = one(aws_s3_bucket_server_side_encryption_configuration.access_logs.rule).apply_server_side_encryption_by_default[0].sse_algorithm == "AES256"
    error_message = "The access-log bucket must be encrypted (SSE-S3: log delivery cannot write to SSE-KMS buckets)."
  }

  assert {
    condition     = aws_sns_topic.alerts.kms_master_key_id == aws_kms_key.this.arn && aws_sns_topic.operations.kms_master_key_id == aws_kms_key.this.arn
    error_message = "Both SNS topics must be encrypted with the stack's key."
  }

  assert {
    condition     = aws_sqs_queue.alerter_failures.kms_master_key_id == aws_kms_key.this.arn
    error_message = "The alerter's on-failure queue must be encrypted with the stack's key."
  }

  assert {
    condition = alltrue([for g in concat(
      [aws_cloudwatch_log_group.flink, aws_cloudwatch_log_group.alerter],
      values(aws_cloudwatch_log_group.firehose),
    ) : g.kms_key_id == aws_kms_key.this.arn && g.retention_in_days == var.cloudwatch_log_retention_days])
    error_message = "Every log group must be KMS-encrypted and keep logs for cloudwatch_log_retention_days."
  }

  assert {
    condition     = aws_lambda_function.alerter[0].kms_key_arn == aws_kms_key.this.arn
    error_message = "The alerter's environment must be encrypted with the stack's key."
  }

  assert {
    condition     = aws_s3_object.flink_jar[0].kms_key_id == aws_kms_key.this.arn && aws_s3_object.flink_jar[0].server_side_encryption == "aws:kms"
    error_message = "The uploaded jar must be SSE-KMS encrypted with the stack's key."
  }

  # --- buckets ------------------------------------------------------------
  assert {
    condition = alltrue([for b in [
      aws_s3_bucket_public_access_block.artifacts,
      aws_s3_bucket_public_access_block.archive,
      aws_s3_bucket_public_access_block.access_logs,
    ] : b.block_public_acls && b.block_public_policy && b.ignore_public_acls && b.restrict_public_buckets])
    error_message = "All public access must be blocked on every bucket."
  }

  assert {
    condition = alltrue([for v in [
      aws_s3_bucket_versioning.artifacts,
      aws_s3_bucket_versioning.archive,
      aws_s3_bucket_versioning.access_logs,
    ] : v.versioning_configuration[0].status == "Enabled"])
    error_message = "Every bucket must be versioned."
  }

  assert {
    condition = toset([for r in aws_s3_bucket_lifecycle_configuration.archive.rule : r.filter[0].prefix if length(r.transition) > 0]) == toset([
      "raw/", "anomalies/", "dead-letters/", "errors/raw/", "errors/anomalies/", "errors/dead-letters/", "unalertable/", "aws/lambda/",
    ])
    error_message = "Each archive prefix, its error prefix and each prefix of kept unalerted records need a lifecycle rule."
  }

  assert {
    condition = alltrue([for r in aws_s3_bucket_lifecycle_configuration.archive.rule :
      one(r.transition).days == var.archive_transition_days &&
      one(r.transition).storage_class == var.archive_transition_storage_class &&
      r.expiration[0].days == var.archive_expiration_days
      if length(r.transition) > 0
    ])
    error_message = "Archive rules must tier after archive_transition_days and expire after archive_expiration_days."
  }

  assert {
    condition = alltrue([for lc in [
      aws_s3_bucket_lifecycle_configuration.artifacts,
      aws_s3_bucket_lifecycle_configuration.archive,
      aws_s3_bucket_lifecycle_configuration.access_logs,
      ] : anytrue([for r in lc.rule :
        length(r.abort_incomplete_multipart_upload) > 0 && r.filter[0].prefix == "" && r.status == "Enabled"
    ])])
    error_message = "Every bucket needs a bucket-wide rule aborting incomplete multipart uploads."
  }

  # --- Firehose archives ----------------------------------------------------
  assert {
    condition = alltrue([for k, f in aws_kinesis_firehose_delivery_stream.archive :
      f.kinesis_source_configuration[0].kinesis_stream_arn == aws_kinesis_stream.this[{ raw = "input", anomalies = "anomalies", dead_letters = "dead_letters" }[k]].arn &&
      f.extended_s3_configuration[0].bucket_arn == aws_s3_bucket.archive.arn &&
      f.extended_s3_configuration[0].kms_key_arn == aws_kms_key.this.arn &&
      f.extended_s3_configuration[0].cloudwatch_logging_options[0].enabled
    ]) && length(aws_kinesis_firehose_delivery_stream.archive) == 3
    error_message = "Raw, anomalies and dead-letter streams must each be archived to the KMS-encrypted archive bucket, with delivery logging."
  }

  assert {
    condition     = aws_kinesis_firehose_delivery_stream.archive["raw"].extended_s3_configuration[0].prefix == "raw/!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/"
    error_message = "The raw archive must be partitioned by date under raw/."
  }

  assert {
    condition     = alltrue([for f in aws_kinesis_firehose_delivery_stream.archive : startswith(f.extended_s3_configuration[0].error_output_prefix, "errors/")])
    error_message = "Every archive needs an error_output_prefix under errors/."
  }

  # --- Flink application ------------------------------------------------------
  assert {
    condition     = aws_kinesisanalyticsv2_application.detector[0].runtime_environment == var.flink_runtime
    error_message = "The application must run on flink_runtime."
  }

  assert {
    condition     = aws_kinesisanalyticsv2_application.detector[0].application_configuration[0].flink_application_configuration[0].parallelism_configuration[0].parallelism == var.flink_parallelism
    error_message = "Parallelism must equal flink_parallelism."
  }

  assert {
    condition = alltrue([
      aws_kinesisanalyticsv2_application.detector[0].application_configuration[0].flink_application_configuration[0].checkpoint_configuration[0].checkpointing_enabled,
      aws_kinesisanalyticsv2_application.detector[0].application_configuration[0].application_snapshot_configuration[0].snapshots_enabled,
    ])
    error_message = "Checkpointing and snapshots must be enabled."
  }

  assert {
    condition     = aws_kinesisanalyticsv2_application.detector[0].cloudwatch_logging_options[0].log_stream_arn == aws_cloudwatch_log_stream.flink.arn
    error_message = "The application must log to the stack's log stream."
  }

  assert {
    condition = (
      aws_kinesisanalyticsv2_application.detector[0].application_configuration[0].application_code_configuration[0].code_content[0].s3_content_location[0].file_key == aws_s3_object.flink_jar[0].key &&
      aws_kinesisanalyticsv2_application.detector[0].application_configuration[0].application_code_configuration[0].code_content[0].s3_content_location[0].bucket_arn == aws_s3_bucket.artifacts.arn &&
      aws_kinesisanalyticsv2_application.detector[0].application_configuration[0].application_code_configuration[0].code_content[0].s3_content_location[0].object_version == aws_s3_object.flink_jar[0].version_id &&
      aws_s3_object.flink_jar[0].checksum_algorithm == "SHA256"
    )
    error_message = "The application's code must be the jar Terraform uploaded to the artifacts bucket, pinned to the version uploaded, with S3's own SHA-256."
  }

  assert {
    condition     = aws_s3_object.flink_jar[0].key == "flink/anomaly-detector-${filesha256(var.flink_jar_path)}.jar"
    error_message = "The jar key must be content-addressed by its SHA-256."
  }

  assert {
    condition = (
      output.flink_property_groups.source["stream.arn"] == aws_kinesis_stream.this["input"].arn &&
      output.flink_property_groups.anomalies["stream.arn"] == aws_kinesis_stream.this["anomalies"].arn &&
      output.flink_property_groups.dead_letters["stream.arn"] == aws_kinesis_stream.this["dead_letters"].arn
    )
    error_message = "The source, anomalies and dead_letters property groups must carry the input, anomalies and dead-letter stream ARNs."
  }

  assert {
    condition     = length(distinct([for g in ["source", "anomalies", "dead_letters"] : output.flink_property_groups[g]["stream.arn"]])) == 3
    error_message = "The three connector groups must point at three different streams."
  }

  assert {
    condition = alltrue([for g in ["source", "anomalies", "dead_letters"] :
      output.flink_property_groups[g]["connector"] == "kinesis" && output.flink_property_groups[g]["aws.region"] == var.aws_region && output.flink_property_groups[g]["format"] == "raw"
    ]) && output.flink_property_groups.source["source.init.position"] == "TRIM_HORIZON"
    error_message = "Connector groups must set connector=kinesis, aws.region, format=raw (and source.init.position=TRIM_HORIZON on the source, the default packager deploy shares)."
  }

  assert {
    condition = (
      output.flink_property_groups.detector["threshold_multiplier"] == tostring(var.anomaly_threshold_multiplier) &&
      output.flink_property_groups.detector["detector"] == "adaptive" &&
      output.flink_property_groups.detector["min_events"] == "3" &&
      output.flink_property_groups.job["state_ttl_hours"] == "720"
    )
    error_message = "The detector and job groups must carry threshold_multiplier, detector, min_events and state_ttl_hours."
  }

  # --- alerter ---------------------------------------------------------------
  assert {
    condition = (
      aws_lambda_function.alerter[0].runtime == "provided.al2023" &&
      aws_lambda_function.alerter[0].handler == "bootstrap" &&
      aws_lambda_function.alerter[0].architectures == tolist(["arm64"]) &&
      aws_lambda_function.alerter[0].tracing_config[0].mode == "Active" &&
      aws_lambda_function.alerter[0].source_code_hash == filebase64sha256(var.alerter_zip_path)
    )
    error_message = "The alerter must be a provided.al2023 arm64 bootstrap function with X-Ray and the zip's hash."
  }

  assert {
    condition = (
      aws_lambda_function.alerter[0].environment[0].variables["SNS_TOPIC_ARN"] == aws_sns_topic.alerts.arn &&
      aws_lambda_function.alerter[0].environment[0].variables["APPLICATION_NAME"] == "anomaly-dev" &&
      startswith(aws_lambda_function.alerter[0].environment[0].variables["DASHBOARD_URL"], "https://eu-west-1.console.aws.amazon.com/cloudwatch/") &&
      endswith(aws_lambda_function.alerter[0].environment[0].variables["DASHBOARD_URL"], "#dashboards/dashboard/${aws_cloudwatch_dashboard.main.dashboard_name}") &&
      aws_lambda_function.alerter[0].environment[0].variables["RUST_LOG"] == "info" &&
      aws_lambda_function.alerter[0].environment[0].variables["UNALERTABLE_BUCKET"] == aws_s3_bucket.archive.id &&
      aws_lambda_function.alerter[0].environment[0].variables["UNALERTABLE_PREFIX"] == "unalertable/"
    )
    error_message = "The alerter's environment must carry SNS_TOPIC_ARN, APPLICATION_NAME, DASHBOARD_URL, RUST_LOG and where to keep unalertable records (the archive bucket, unalertable/)."
  }

  assert {
    condition = (
      aws_lambda_event_source_mapping.alerter[0].event_source_arn == aws_kinesis_stream.this["anomalies"].arn &&
      aws_lambda_event_source_mapping.alerter[0].function_response_types == toset(["ReportBatchItemFailures"]) &&
      aws_lambda_event_source_mapping.alerter[0].bisect_batch_on_function_error &&
      aws_lambda_event_source_mapping.alerter[0].maximum_retry_attempts >= 0 &&
      aws_lambda_event_source_mapping.alerter[0].maximum_record_age_in_seconds > 0 &&
      aws_lambda_event_source_mapping.alerter[0].destination_config[0].on_failure[0].destination_arn == aws_s3_bucket.archive.arn
    )
    error_message = "The alerter must consume the anomalies stream with partial batch failures, bisecting, bounded retries and an S3 on-failure destination (the archive bucket: S3 is the destination that receives the records themselves, not just their sequence numbers)."
  }

  assert {
    condition     = aws_lambda_event_source_mapping.alerter[0].maximum_record_age_in_seconds <= aws_kinesis_stream.this["anomalies"].retention_period * 3600
    error_message = "The alerter must give up on a record (and park it) before the anomalies stream forgets it."
  }

  assert {
    condition     = output.kept_prefixes.unalertable == "unalertable/" && output.kept_prefixes.alerter_failures == "aws/lambda/" && length(output.kept_prefixes) == 2
    error_message = "kept_prefixes must name where unalerted records are kept."
  }

  # --- alarms ------------------------------------------------------------------
  assert {
    condition = alltrue([for a in concat(
      [
        aws_cloudwatch_metric_alarm.anomaly_spike,
        aws_cloudwatch_metric_alarm.input_iterator_age,
        aws_cloudwatch_metric_alarm.alerter_errors,
        aws_cloudwatch_metric_alarm.alerter_failures_queue,
        aws_cloudwatch_metric_alarm.alerter_iterator_age,
      ],
      aws_cloudwatch_metric_alarm.flink_downtime,
      aws_cloudwatch_metric_alarm.flink_restarts,
      values(aws_cloudwatch_metric_alarm.loss),
      values(aws_cloudwatch_metric_alarm.job_growth),
      ) : a.alarm_actions == toset([aws_sns_topic.operations.arn]) && a.ok_actions == toset([aws_sns_topic.operations.arn])
    ])
    error_message = "Every alarm must notify the operations topic (and only it: the alert topic carries anomalies) when it fires and when it clears."
  }

  # Every place a record can stop short of its destination has an alarm on the metric that counts it.
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.loss["unalertable-records"].metric_name == "InvalidAnomalyRecords" &&
      aws_cloudwatch_metric_alarm.loss["unalertable-records"].dimensions == tomap({ Application = "anomaly-dev" }) &&
      aws_cloudwatch_metric_alarm.loss["dead-letters"].metric_name == "IncomingRecords" &&
      aws_cloudwatch_metric_alarm.loss["dead-letters"].dimensions == tomap({ StreamName = "anomaly-dev-dead-letters" }) &&
      aws_cloudwatch_metric_alarm.loss["dead-letters"].threshold == 0 &&
      aws_cloudwatch_metric_alarm.loss["alerter-parking-failures"].metric_name == "DestinationDeliveryFailures" &&
      one([for q in aws_cloudwatch_metric_alarm.job_growth["kernel-errors"].metric_query : q.metric[0].metric_name if length(q.metric) > 0]) == "kernelErrors" &&
      one([for q in aws_cloudwatch_metric_alarm.job_growth["failed-checkpoints"].metric_query : q.metric[0].metric_name if length(q.metric) > 0]) == "numberOfFailedCheckpoints" &&
      aws_cloudwatch_metric_alarm.alerter_iterator_age.metric_name == "IteratorAge" &&
      aws_cloudwatch_metric_alarm.alerter_iterator_age.dimensions == tomap({ FunctionName = "anomaly-dev-alerter" }) &&
      alltrue([for k, f in aws_kinesis_firehose_delivery_stream.archive :
        aws_cloudwatch_metric_alarm.loss["firehose-${replace(k, "_", "-")}-delivery"].metric_name == "DeliveryToS3.Success" &&
        aws_cloudwatch_metric_alarm.loss["firehose-${replace(k, "_", "-")}-delivery"].dimensions["DeliveryStreamName"] == f.name &&
        aws_cloudwatch_metric_alarm.loss["firehose-${replace(k, "_", "-")}-freshness"].metric_name == "DeliveryToS3.DataFreshness" &&
        aws_cloudwatch_metric_alarm.loss["firehose-${replace(k, "_", "-")}-freshness"].dimensions["DeliveryStreamName"] == f.name
      ]) &&
      length(aws_cloudwatch_metric_alarm.loss) + length(aws_cloudwatch_metric_alarm.job_growth) + 1 == 12
    )
    error_message = "Unalertable records, dead letters, kernel errors, failed checkpoints, alerter iterator age, failed parking and Firehose delivery (per archive) must each have an alarm on the metric that counts them."
  }

  assert {
    condition     = output.operations_topic_arn == aws_sns_topic.operations.arn && output.operations_topic_arn != output.sns_topic_arn
    error_message = "operations_topic_arn must name the alarms' topic, which is not the alert topic."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.anomaly_spike.namespace == "AnomalyDetection" &&
      aws_cloudwatch_metric_alarm.anomaly_spike.metric_name == "AnomalyCount" &&
      aws_cloudwatch_metric_alarm.anomaly_spike.dimensions == tomap({ Application = aws_lambda_function.alerter[0].environment[0].variables["APPLICATION_NAME"] })
    )
    error_message = "The spike alarm must watch AnomalyDetection/AnomalyCount with exactly the [Application] dimension set the alerter emits."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.flink_downtime[0].dimensions["Application"] == aws_kinesisanalyticsv2_application.detector[0].name
    error_message = "The downtime alarm must watch the created application."
  }

  assert {
    condition     = strcontains(aws_cloudwatch_dashboard.main.dashboard_body, "\"AnomalyCount\"") && strcontains(aws_cloudwatch_dashboard.main.dashboard_body, "\"numberOfFailedCheckpoints\"")
    error_message = "The dashboard must chart AnomalyCount and the Flink checkpoint metrics."
  }
}

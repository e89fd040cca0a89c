# Every input that would deploy something broken is rejected at plan time.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  project_name     = "anomaly"
  flink_jar_path   = "tests/fixtures/anomaly-detector.jar"
  alerter_zip_path = "tests/fixtures/alerter.zip"
}

run "accepts_boundary_values" {
  command = plan

  variables {
    environment                   = "prod"
    kinesis_stream_shard_count    = 200
    cloudwatch_log_retention_days = 3653
    anomaly_threshold_multiplier  = 0.001
    notification_email            = "on-call+anomalies@example.co.uk"
    project_name                  = "abc"
  }
}

run "accepts_other_boundary_values" {
  command = plan

  variables {
    aws_region                          = "us-gov-west-1"
    kinesis_stream_mode                 = "ON_DEMAND"
    kinesis_stream_shard_count          = 1
    kinesis_output_shard_count          = 200
    kinesis_retention_hours             = 8760
    flink_parallelism                   = 1
    flink_parallelism_per_kpu           = 8
    flink_checkpoint_interval_ms        = 1000
    flink_log_level                     = "DEBUG"
    flink_metrics_level                 = "PARALLELISM"
    min_events                          = 1
    state_ttl_hours                     = 1
    archive_transition_days             = 30
    archive_expiration_days             = 31
    archive_transition_storage_class    = "DEEP_ARCHIVE"
    noncurrent_version_expiration_days  = 1
    artifact_versions_kept              = 0
    access_log_retention_days           = 1
    firehose_buffering_interval_seconds = 0
    firehose_buffering_size_mb          = 128
    alerter_memory_mb                   = 10240
    alerter_timeout_seconds             = 900
    alerter_reserved_concurrency        = -1
    alerter_batch_size                  = 10000
    alerter_maximum_retry_attempts      = 0
    alerter_maximum_record_age_seconds  = 604800
    anomaly_spike_threshold             = 0
    iterator_age_alarm_threshold_ms     = 1000
    kms_key_deletion_window_days        = 7
    cloudwatch_log_retention_days       = 1
    vpc_subnet_ids                      = ["subnet-0123abcd", "subnet-4567ef01"]
    vpc_security_group_ids              = ["sg-0123abcd"]
  }
}

run "rejects_unknown_environment" {
  command = plan
  variables {
    environment = "production"
  }
  expect_failures = [var.environment]
}

run "rejects_retention_cloudwatch_does_not_offer" {
  command = plan
  variables {
    cloudwatch_log_retention_days = 10
  }
  expect_failures = [var.cloudwatch_log_retention_days]
}

run "rejects_zero_multiplier" {
  command = plan
  variables {
    anomaly_threshold_multiplier = 0
  }
  expect_failures = [var.anomaly_threshold_multiplier]
}

run "rejects_negative_multiplier" {
  command = plan
  variables {
    anomaly_threshold_multiplier = -1.5
  }
  expect_failures = [var.anomaly_threshold_multiplier]
}

run "rejects_malformed_email" {
  command = plan
  variables {
    notification_email = "oncall@example"
  }
  expect_failures = [var.notification_email]
}

run "rejects_empty_email" {
  command = plan
  variables {
    notification_email = ""
  }
  expect_failures = [var.notification_email]
}

run "rejects_zero_shards" {
  command = plan
  variables {
    kinesis_stream_shard_count = 0
  }
  expect_failures = [var.kinesis_stream_shard_count]
}

run "rejects_too_many_shards" {
  command = plan
  variables {
    kinesis_stream_shard_count = 201
  }
  expect_failures = [var.kinesis_stream_shard_count]
}

run "rejects_fractional_shards" {
  command = plan
  variables {
    kinesis_stream_shard_count = 1.5
  }
  expect_failures = [var.kinesis_stream_shard_count]
}

run "rejects_unknown_stream_mode" {
  command = plan
  variables {
    kinesis_stream_mode = "on-demand"
  }
  expect_failures = [var.kinesis_stream_mode]
}

run "rejects_uppercase_project_name" {
  command = plan
  variables {
    project_name = "Anomaly"
  }
  expect_failures = [var.project_name]
}

run "rejects_project_name_too_long_for_bucket_names" {
  command = plan
  variables {
    project_name = "a-very-long-name"
  }
  expect_failures = [var.project_name]
}

run "rejects_unknown_detector" {
  command = plan
  variables {
    detector = "isolation-forest"
  }
  expect_failures = [var.detector]
}

run "rejects_detector_properties_shadowing_variables" {
  command = plan
  variables {
    detector_properties = { threshold_multiplier = "9" }
  }
  expect_failures = [var.detector_properties]
}

run "rejects_expiry_before_transition" {
  command = plan
  variables {
    archive_transition_days = 90
    archive_expiration_days = 60
  }
  expect_failures = [var.archive_expiration_days]
}

run "rejects_subnets_without_security_groups" {
  command = plan
  variables {
    vpc_subnet_ids = ["subnet-0123abcd"]
  }
  expect_failures = [var.vpc_security_group_ids]
}

run "rejects_unbounded_retries" {
  command = plan
  variables {
    alerter_maximum_retry_attempts = -1
  }
  expect_failures = [var.alerter_maximum_retry_attempts]
}

run "rejects_missing_jar_with_a_hint" {
  command = plan
  variables {
    flink_jar_path = "tests/fixtures/does-not-exist.jar"
  }
  expect_failures = [aws_s3_object.flink_jar]
}

run "rejects_missing_alerter_zip_with_a_hint" {
  command = plan
  variables {
    alerter_zip_path = "tests/fixtures/does-not-exist.zip"
  }
  expect_failures = [aws_lambda_function.alerter]
}

# One bad value per remaining validated input (infra/scripts/tfdocs.py --coverage
# fails when a validated variable has no run here).

run "rejects_region_that_is_not_a_region_code" {
  command = plan
  variables {
    aws_region = "Europe-West-1"
  }
  expect_failures = [var.aws_region]
}

run "rejects_zero_output_shards" {
  command = plan
  variables {
    kinesis_output_shard_count = 0
  }
  expect_failures = [var.kinesis_output_shard_count]
}

run "rejects_retention_below_24_hours" {
  command = plan
  variables {
    kinesis_retention_hours = 23
  }
  expect_failures = [var.kinesis_retention_hours]
}

run "rejects_zero_parallelism" {
  command = plan
  variables {
    flink_parallelism = 0
  }
  expect_failures = [var.flink_parallelism]
}

run "rejects_more_than_8_tasks_per_kpu" {
  command = plan
  variables {
    flink_parallelism_per_kpu = 9
  }
  expect_failures = [var.flink_parallelism_per_kpu]
}

run "rejects_sub_second_checkpoints" {
  command = plan
  variables {
    flink_checkpoint_interval_ms = 999
  }
  expect_failures = [var.flink_checkpoint_interval_ms]
}

run "rejects_unknown_flink_log_level" {
  command = plan
  variables {
    flink_log_level = "TRACE"
  }
  expect_failures = [var.flink_log_level]
}

run "rejects_unknown_flink_metrics_level" {
  command = plan
  variables {
    flink_metrics_level = "SUBTASK"
  }
  expect_failures = [var.flink_metrics_level]
}

run "rejects_zero_min_events" {
  command = plan
  variables {
    min_events = 0
  }
  expect_failures = [var.min_events]
}

run "rejects_fractional_state_ttl" {
  command = plan
  variables {
    state_ttl_hours = 0.5
  }
  expect_failures = [var.state_ttl_hours]
}

run "rejects_transition_before_s3_minimum" {
  command = plan
  variables {
    archive_transition_days = 29
  }
  expect_failures = [var.archive_transition_days]
}

run "rejects_unknown_storage_class" {
  command = plan
  variables {
    archive_transition_storage_class = "GLACIER_DEEP"
  }
  expect_failures = [var.archive_transition_storage_class]
}

run "rejects_zero_noncurrent_days" {
  command = plan
  variables {
    noncurrent_version_expiration_days = 0
  }
  expect_failures = [var.noncurrent_version_expiration_days]
}

run "rejects_too_many_kept_versions" {
  command = plan
  variables {
    artifact_versions_kept = 101
  }
  expect_failures = [var.artifact_versions_kept]
}

run "rejects_zero_access_log_days" {
  command = plan
  variables {
    access_log_retention_days = 0
  }
  expect_failures = [var.access_log_retention_days]
}

run "rejects_firehose_interval_over_900" {
  command = plan
  variables {
    firehose_buffering_interval_seconds = 901
  }
  expect_failures = [var.firehose_buffering_interval_seconds]
}

run "rejects_zero_firehose_buffer" {
  command = plan
  variables {
    firehose_buffering_size_mb = 0
  }
  expect_failures = [var.firehose_buffering_size_mb]
}

run "rejects_empty_alerter_log_level" {
  command = plan
  variables {
    alerter_log_level = ""
  }
  expect_failures = [var.alerter_log_level]
}

run "rejects_alerter_memory_below_128" {
  command = plan
  variables {
    alerter_memory_mb = 127
  }
  expect_failures = [var.alerter_memory_mb]
}

run "rejects_alerter_timeout_over_900" {
  command = plan
  variables {
    alerter_timeout_seconds = 901
  }
  expect_failures = [var.alerter_timeout_seconds]
}

run "rejects_zero_reserved_concurrency" {
  command = plan
  variables {
    alerter_reserved_concurrency = 0
  }
  expect_failures = [var.alerter_reserved_concurrency]
}

run "rejects_batch_over_10000" {
  command = plan
  variables {
    alerter_batch_size = 10001
  }
  expect_failures = [var.alerter_batch_size]
}

run "rejects_unbounded_record_age" {
  command = plan
  variables {
    alerter_maximum_record_age_seconds = -1
  }
  expect_failures = [var.alerter_maximum_record_age_seconds]
}

run "rejects_negative_spike_threshold" {
  command = plan
  variables {
    anomaly_spike_threshold = -1
  }
  expect_failures = [var.anomaly_spike_threshold]
}

run "rejects_sub_second_iterator_age_alarm" {
  command = plan
  variables {
    iterator_age_alarm_threshold_ms = 999
  }
  expect_failures = [var.iterator_age_alarm_threshold_ms]
}

run "rejects_kms_window_below_7_days" {
  command = plan
  variables {
    kms_key_deletion_window_days = 6
  }
  expect_failures = [var.kms_key_deletion_window_days]
}

run "rejects_malformed_subnet_id" {
  command = plan
  variables {
    vpc_subnet_ids         = ["vpc-0123abcd"]
    vpc_security_group_ids = ["sg-0123abcd"]
  }
  expect_failures = [var.vpc_subnet_ids]
}

run "rejects_malformed_security_group_id" {
  command = plan
  variables {
    vpc_subnet_ids         = ["subnet-0123abcd"]
    vpc_security_group_ids = ["0123abcd"]
  }
  expect_failures = [var.vpc_security_group_ids]
}

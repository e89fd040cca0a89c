# Every input that would deploy something broken is rejected at plan time.

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
    aws_region                              = "us-gov-west-1"
    kinesis_stream_mode                     = "ON_DEMAND"
    kinesis_stream_shard_count              = 1
    kinesis_output_shard_count              = 200
    kinesis_retention_hours                 = 8760
    flink_parallelism                       = 1
    flink_parallelism_per_kpu               = 8
    flink_checkpoint_interval_ms            = 1000
    flink_log_level                         = "DEBUG"
    flink_metrics_level                     = "PARALLELISM"
    min_events                              = 1
    state_ttl_hours                         = 1
    archive_transition_days                 = 30
    archive_expiration_days                 = 31
    archive_transition_storage_class        = "DEEP_ARCHIVE"
    noncurrent_version_expiration_days      = 1
    artifact_versions_kept                  = 0
    access_log_retention_days               = 1
    firehose_buffering_interval_seconds     = 0
    firehose_buffering_size_mb              = 128
    alerter_memory_mb                       = 10240
    alerter_timeout_seconds                 = 900
    alerter_reserved_concurrency            = -1
    alerter_batch_size                      = 10000
    alerter_maximum_retry_attempts          = 0
    alerter_maximum_record_age_seconds      = 604800
    anomaly_spike_threshold                 = 0
    iterator_age_alarm_threshold_ms         = 1000
    alerter_iterator_age_alarm_threshold_ms = 1000
    dead_letter_alarm_threshold             = 0
    operations_email                        = "platform@example.com"
    flink_source_init_position              = "LATEST"
    kms_key_deletion_window_days            = 7
    cloudwatch_log_retention_days           = 1
    vpc_subnet_ids                          = ["subnet-0123abcd", "subnet-4567ef01"]
    vpc_security_group_ids                  = ["sg-0123abcd"]
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

# One bad value (just past the edge accepted above) for each remaining validated input,
# grouped by concern to keep the suite fast. expect_failures needs every listed
# variable to report its own error, so each validation is still proven on its own.
# infra/scripts/tfdocs.py --coverage fails when a validated variable has no run here.

run "rejects_out_of_range_stream_settings" {
  # region and Kinesis
  command = plan

  variables {
    aws_region                 = "Europe-West-1"
    kinesis_output_shard_count = 0
    kinesis_retention_hours    = 23
  }

  expect_failures = [
    var.aws_region,
    var.kinesis_output_shard_count,
    var.kinesis_retention_hours,
  ]
}

run "rejects_out_of_range_flink_settings" {
  # the Flink application and its job
  command = plan

  variables {
    flink_parallelism            = 0
    flink_parallelism_per_kpu    = 9
    flink_checkpoint_interval_ms = 999
    flink_log_level              = "TRACE"
    flink_metrics_level          = "SUBTASK"
    min_events                   = 0
    state_ttl_hours              = 0.5
  }

  expect_failures = [
    var.flink_parallelism,
    var.flink_parallelism_per_kpu,
    var.flink_checkpoint_interval_ms,
    var.flink_log_level,
    var.flink_metrics_level,
    var.min_events,
    var.state_ttl_hours,
  ]
}

run "rejects_out_of_range_archive_settings" {
  # S3 and Firehose
  command = plan

  variables {
    archive_transition_days             = 29
    archive_transition_storage_class    = "GLACIER_DEEP"
    noncurrent_version_expiration_days  = 0
    artifact_versions_kept              = 101
    access_log_retention_days           = 0
    firehose_buffering_interval_seconds = 901
    firehose_buffering_size_mb          = 0
  }

  expect_failures = [
    var.archive_transition_days,
    var.archive_transition_storage_class,
    var.noncurrent_version_expiration_days,
    var.artifact_versions_kept,
    var.access_log_retention_days,
    var.firehose_buffering_interval_seconds,
    var.firehose_buffering_size_mb,
  ]
}

run "rejects_out_of_range_alerter_settings" {
  # the alerter
  command = plan

  variables {
    alerter_log_level                  = ""
    alerter_memory_mb                  = 127
    alerter_timeout_seconds            = 901
    alerter_reserved_concurrency       = 0
    alerter_batch_size                 = 10001
    alerter_maximum_record_age_seconds = -1
  }

  expect_failures = [
    var.alerter_log_level,
    var.alerter_memory_mb,
    var.alerter_timeout_seconds,
    var.alerter_reserved_concurrency,
    var.alerter_batch_size,
    var.alerter_maximum_record_age_seconds,
  ]
}

run "rejects_out_of_range_alarm_and_key_settings" {
  # alarms and the KMS key
  command = plan

  variables {
    anomaly_spike_threshold                 = -1
    iterator_age_alarm_threshold_ms         = 999
    alerter_iterator_age_alarm_threshold_ms = 999
    dead_letter_alarm_threshold             = 0.5
    kms_key_deletion_window_days            = 6
  }

  expect_failures = [
    var.anomaly_spike_threshold,
    var.iterator_age_alarm_threshold_ms,
    var.alerter_iterator_age_alarm_threshold_ms,
    var.dead_letter_alarm_threshold,
    var.kms_key_deletion_window_days,
  ]
}

run "rejects_a_record_age_the_stream_does_not_keep" {
  # A record still retried when the anomalies stream expires it would vanish without a trace.
  command = plan
  variables {
    kinesis_retention_hours            = 24
    alerter_maximum_record_age_seconds = 86401
  }
  expect_failures = [var.alerter_maximum_record_age_seconds]
}

run "rejects_malformed_operations_email" {
  command = plan
  variables {
    operations_email = "platform-oncall"
  }
  expect_failures = [var.operations_email]
}

run "rejects_a_start_position_without_its_timestamp" {
  # AT_TIMESTAMP needs a timestamp the stack does not take; packager deploy can set both.
  command = plan
  variables {
    flink_source_init_position = "AT_TIMESTAMP"
  }
  expect_failures = [var.flink_source_init_position]
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

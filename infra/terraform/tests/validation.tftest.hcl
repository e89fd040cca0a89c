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

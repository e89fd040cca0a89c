# Each knob changes what it says and nothing else it should not.

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

# Plan-time runs: what a reviewer sees in `terraform plan` before anything exists.
run "plan_email_set_shows_the_subscription" {
  command = plan

  variables {
    notification_email = "oncall@example.com"
  }

  assert {
    condition     = length(aws_sns_topic_subscription.email) == 1 && aws_sns_topic_subscription.email[0].endpoint == "oncall@example.com"
    error_message = "A plan with notification_email must show one email subscription to that address."
  }
}

run "plan_on_demand_shows_no_shard_counts" {
  command = plan

  variables {
    kinesis_stream_mode = "ON_DEMAND"
  }

  assert {
    condition     = alltrue([for s in aws_kinesis_stream.this : s.stream_mode_details[0].stream_mode == "ON_DEMAND" && s.shard_count == null])
    error_message = "A plan in ON_DEMAND mode must not set shard counts."
  }
}

run "plan_provisioned_shows_the_shard_counts" {
  command = plan

  variables {
    kinesis_stream_shard_count = 3
  }

  assert {
    condition     = aws_kinesis_stream.this["input"].shard_count == 3 && aws_kinesis_stream.this["input"].stream_mode_details[0].stream_mode == "PROVISIONED"
    error_message = "A plan with the default PROVISIONED mode must use kinesis_stream_shard_count for the input stream."
  }
}

run "email_unset_means_no_subscription" {
  command = apply

  assert {
    condition     = length(aws_sns_topic_subscription.email) == 0
    error_message = "No subscription may exist without notification_email."
  }
}

run "operations_alarms_reach_the_one_address_given_or_their_own" {
  command = apply

  variables {
    notification_email = "oncall@example.com"
  }

  assert {
    condition = (
      length(aws_sns_topic_subscription.operations_email) == 1 &&
      aws_sns_topic_subscription.operations_email[0].endpoint == "oncall@example.com" &&
      aws_sns_topic_subscription.operations_email[0].topic_arn == aws_sns_topic.operations.arn
    )
    error_message = "Without operations_email, notification_email must also hear the alarms (on the operations topic), so no alarm goes unheard."
  }
}

run "operations_email_takes_the_alarms" {
  command = apply

  variables {
    notification_email = "fraud-team@example.com"
    operations_email   = "platform-oncall@example.com"
  }

  assert {
    condition = (
      aws_sns_topic_subscription.operations_email[0].endpoint == "platform-oncall@example.com" &&
      aws_sns_topic_subscription.email[0].endpoint == "fraud-team@example.com" &&
      length(aws_sns_topic_subscription.operations_email) == 1 && length(aws_sns_topic_subscription.email) == 1
    )
    error_message = "operations_email must get the alarms and notification_email the anomalies, each on its own topic."
  }
}

run "no_address_means_no_operations_subscription" {
  command = plan

  assert {
    condition     = length(aws_sns_topic_subscription.operations_email) == 0
    error_message = "No operations subscription may be planned without an address."
  }
}

run "email_set_subscribes_it_to_the_topic" {
  command = apply

  variables {
    notification_email = "oncall@example.com"
  }

  assert {
    condition     = length(aws_sns_topic_subscription.email) == 1
    error_message = "Exactly one subscription must exist when notification_email is set."
  }

  assert {
    condition = (
      aws_sns_topic_subscription.email[0].protocol == "email" &&
      aws_sns_topic_subscription.email[0].endpoint == "oncall@example.com" &&
      aws_sns_topic_subscription.email[0].topic_arn == aws_sns_topic.alerts.arn
    )
    error_message = "The subscription must send email to notification_email from the alert topic."
  }
}

run "provisioned_streams_use_the_shard_counts" {
  command = apply

  variables {
    kinesis_stream_mode        = "PROVISIONED"
    kinesis_stream_shard_count = 4
    kinesis_output_shard_count = 2
  }

  assert {
    condition     = alltrue([for s in aws_kinesis_stream.this : s.stream_mode_details[0].stream_mode == "PROVISIONED"])
    error_message = "All streams must be PROVISIONED."
  }

  assert {
    condition = (
      aws_kinesis_stream.this["input"].shard_count == 4 &&
      aws_kinesis_stream.this["anomalies"].shard_count == 2 &&
      aws_kinesis_stream.this["dead_letters"].shard_count == 2
    )
    error_message = "The input stream must have kinesis_stream_shard_count shards and the outputs kinesis_output_shard_count."
  }
}

run "on_demand_streams_have_no_shard_count" {
  command = apply

  variables {
    kinesis_stream_mode        = "ON_DEMAND"
    kinesis_stream_shard_count = 4
  }

  assert {
    condition     = alltrue([for s in aws_kinesis_stream.this : s.stream_mode_details[0].stream_mode == "ON_DEMAND" && s.shard_count == null])
    error_message = "ON_DEMAND streams must not set a shard count (the API rejects it)."
  }

  assert {
    condition     = alltrue([for s in aws_kinesis_stream.this : s.encryption_type == "KMS"])
    error_message = "ON_DEMAND streams must stay KMS-encrypted."
  }
}

run "detector_knobs_reach_the_job" {
  command = apply
  # A fresh application: after creation these settings belong to packager deploy
  # (tests/ownership.tftest.hcl), so they show only in a newly created one.
  state_key = "fresh_application"

  variables {
    anomaly_threshold_multiplier = 2.5
    detector                     = "ewma"
    min_events                   = 50
    state_ttl_hours              = 48
    detector_properties          = { ewma_alpha = "0.2" }
    flink_parallelism            = 4
    flink_parallelism_per_kpu    = 2
    flink_autoscaling_enabled    = true
  }

  assert {
    condition = (
      output.flink_property_groups.detector["threshold_multiplier"] == "2.5" &&
      output.flink_property_groups.detector["detector"] == "ewma" &&
      output.flink_property_groups.detector["min_events"] == "50" &&
      output.flink_property_groups.detector["ewma_alpha"] == "0.2" &&
      output.flink_property_groups.job["state_ttl_hours"] == "48"
    )
    error_message = "Detector variables and detector_properties must reach the detector and job property groups as strings."
  }

  assert {
    condition     = jsonencode(output.flink_deploy_defaults.property_groups) == jsonencode(output.flink_property_groups) && output.flink_deploy_defaults.parallelism == 4
    error_message = "The same values must reach packager deploy, which owns them after creation."
  }

  assert {
    condition = (
      aws_kinesisanalyticsv2_application.detector[0].application_configuration[0].flink_application_configuration[0].parallelism_configuration[0].parallelism == 4 &&
      aws_kinesisanalyticsv2_application.detector[0].application_configuration[0].flink_application_configuration[0].parallelism_configuration[0].parallelism_per_kpu == 2 &&
      aws_kinesisanalyticsv2_application.detector[0].application_configuration[0].flink_application_configuration[0].parallelism_configuration[0].auto_scaling_enabled
    )
    error_message = "Parallelism, parallelism per KPU and autoscaling must follow their variables."
  }
}

run "no_vpc_by_default" {
  command = apply

  assert {
    condition = (
      length(aws_kinesisanalyticsv2_application.detector[0].application_configuration[0].vpc_configuration) == 0 &&
      length(aws_lambda_function.alerter[0].vpc_config) == 0
    )
    error_message = "Without vpc_subnet_ids neither the application nor the alerter may be placed in a VPC."
  }
}

run "vpc_placement_when_subnets_given" {
  command = apply

  variables {
    vpc_subnet_ids         = ["subnet-0123abcd", "subnet-4567ef01"]
    vpc_security_group_ids = ["sg-0123abcd"]
  }

  assert {
    condition = (
      aws_kinesisanalyticsv2_application.detector[0].application_configuration[0].vpc_configuration[0].subnet_ids == toset(["subnet-0123abcd", "subnet-4567ef01"]) &&
      aws_kinesisanalyticsv2_application.detector[0].application_configuration[0].vpc_configuration[0].security_group_ids == toset(["sg-0123abcd"])
    )
    error_message = "The application must run in the given subnets and security groups."
  }

  assert {
    condition = (
      aws_lambda_function.alerter[0].vpc_config[0].subnet_ids == toset(["subnet-0123abcd", "subnet-4567ef01"]) &&
      aws_lambda_function.alerter[0].vpc_config[0].security_group_ids == toset(["sg-0123abcd"])
    )
    error_message = "The alerter must run in the given subnets and security groups."
  }
}

run "flink_and_alerter_can_be_left_out" {
  command = apply

  variables {
    enable_flink_application = false
    enable_alerter           = false
  }

  assert {
    condition = (
      length(aws_kinesisanalyticsv2_application.detector) == 0 &&
      length(aws_s3_object.flink_jar) == 0 &&
      length(aws_lambda_function.alerter) == 0 &&
      length(aws_lambda_event_source_mapping.alerter) == 0
    )
    error_message = "enable_flink_application/enable_alerter = false must leave out the application, its jar, the function and its mapping."
  }

  assert {
    condition     = length(aws_kinesis_firehose_delivery_stream.archive) == 3 && length(aws_cloudwatch_metric_alarm.anomaly_spike.alarm_actions) == 1
    error_message = "Archives and alarms do not depend on the application or the alerter."
  }

  assert {
    condition = alltrue([for v in [
      output.flink_application_name,
      output.kinesis_stream_name,
      output.cloudwatch_log_group_name,
      output.sns_topic_arn,
    ] : v != null && length(v) > 0])
    error_message = "The brief's four outputs must stay non-empty."
  }
}

run "names_follow_project_and_environment" {
  command = plan

  variables {
    project_name = "fraud"
    environment  = "staging"
  }

  assert {
    condition = (
      output.kinesis_stream_name == "fraud-staging-transactions" &&
      output.flink_application_name == "fraud-staging-detector" &&
      aws_sns_topic.alerts.name == "fraud-staging-alerts" &&
      aws_s3_bucket.archive.bucket == "fraud-staging-123456789012-eu-west-1-archive"
    )
    error_message = "Resource names must be <project>-<environment>-<purpose>."
  }

  assert {
    condition     = alltrue([for b in [aws_s3_bucket.artifacts, aws_s3_bucket.archive, aws_s3_bucket.access_logs] : length(b.bucket) <= 63])
    error_message = "Bucket names must fit S3's 63-character limit."
  }
}

run "longest_names_fit_aws_limits" {
  command = plan

  variables {
    project_name = "abcdefghijklmno"
    environment  = "staging"
    aws_region   = "ap-southeast-2"
  }

  assert {
    condition     = alltrue([for b in [aws_s3_bucket.artifacts, aws_s3_bucket.archive, aws_s3_bucket.access_logs] : length(b.bucket) <= 63])
    error_message = "Bucket names must fit S3's 63-character limit for the longest allowed project name."
  }

  assert {
    condition     = alltrue([for r in concat([aws_iam_role.flink, aws_iam_role.alerter], values(aws_iam_role.firehose)) : length(r.name) <= 64])
    error_message = "IAM role names must fit the 64-character limit."
  }
}

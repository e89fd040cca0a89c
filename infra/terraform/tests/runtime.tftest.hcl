# The Managed Flink runtime is an input (default FLINK-2_2), and the dashboard and the restart alarm follow it:
# Flink 2.2 removes fullRestarts and deprecates uptime/downtime, so there they read runningTime and numRestarts.
#
# The provider installed here (hashicorp/aws 5.100) knows runtimes up to FLINK-1_20 and refuses to plan an
# application on FLINK-2_2, mock or not. So the default is tested with the application left out (its monitoring does
# not need it), and the application itself on FLINK-1_20; planning FLINK-2_2 needs a provider release that lists it.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  project_name     = "anomaly"
  flink_jar_path   = "tests/fixtures/anomaly-detector.jar"
  alerter_zip_path = "tests/fixtures/alerter.zip"
}

run "default_runtime_is_flink_2_2_and_its_monitoring_uses_its_metrics" {
  command = apply

  variables {
    enable_flink_application = false
  }

  assert {
    condition     = var.flink_runtime == "FLINK-2_2"
    error_message = "The default runtime must be FLINK-2_2, AWS's default for new applications."
  }

  assert {
    condition = alltrue([for m in ["\"runningTime\"", "\"numRestarts\""] : strcontains(aws_cloudwatch_dashboard.main.dashboard_body, m)]) && !anytrue([
      for m in ["\"uptime\"", "\"downtime\"", "\"fullRestarts\""] : strcontains(aws_cloudwatch_dashboard.main.dashboard_body, m)
    ])
    error_message = "On FLINK-2_2 the dashboard must chart runningTime and numRestarts, not uptime, downtime or fullRestarts."
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.flink_downtime) == 0 && length(aws_cloudwatch_metric_alarm.flink_restarts) == 1
    error_message = "On FLINK-2_2 the restart alarm replaces the downtime alarm."
  }

  assert {
    condition = (
      one([for q in aws_cloudwatch_metric_alarm.flink_restarts[0].metric_query : q.metric[0].metric_name if length(q.metric) > 0]) == "numRestarts" &&
      one([for q in aws_cloudwatch_metric_alarm.flink_restarts[0].metric_query : q.metric[0].dimensions["Application"] if length(q.metric) > 0]) == "anomaly-dev-detector" &&
      one([for q in aws_cloudwatch_metric_alarm.flink_restarts[0].metric_query : q.expression if q.return_data == true]) == "DIFF(total)"
    )
    error_message = "The restart alarm must fire on growth of the application's numRestarts (DIFF of the running total)."
  }

  assert {
    condition = (
      contains(aws_cloudwatch_metric_alarm.flink_restarts[0].alarm_actions, aws_sns_topic.alerts.arn) &&
      contains(aws_cloudwatch_metric_alarm.flink_restarts[0].ok_actions, aws_sns_topic.alerts.arn)
    )
    error_message = "The restart alarm must notify the topic when it fires and when it clears."
  }
}

run "flink_1_20_keeps_uptime_downtime_and_the_downtime_alarm" {
  command = plan

  variables {
    flink_runtime = "FLINK-1_20"
  }

  assert {
    condition     = aws_kinesisanalyticsv2_application.detector[0].runtime_environment == "FLINK-1_20"
    error_message = "flink_runtime must be the application's runtime environment."
  }

  assert {
    condition     = strcontains(aws_cloudwatch_dashboard.main.dashboard_body, "\"uptime\"") && strcontains(aws_cloudwatch_dashboard.main.dashboard_body, "\"downtime\"") && !strcontains(aws_cloudwatch_dashboard.main.dashboard_body, "\"runningTime\"")
    error_message = "On FLINK-1_20 the dashboard charts uptime and downtime."
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.flink_restarts) == 0 && aws_cloudwatch_metric_alarm.flink_downtime[0].metric_name == "downtime"
    error_message = "On FLINK-1_20 the downtime alarm watches downtime, and there is no restart alarm."
  }
}

run "a_runtime_the_job_is_not_built_for_is_refused" {
  command = plan

  variables {
    flink_runtime = "FLINK-1_19"
  }

  expect_failures = [var.flink_runtime]
}

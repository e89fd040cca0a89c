locals {
  input_stream_name = aws_kinesis_stream.this["input"].name

  # The alerter emits AnomalyCount with dimension sets [["Application"], ["Application","Severity"]].
  # An alarm must match one emitted set exactly, so it uses the Application-only set.
  anomaly_metric_dimensions = { Application = local.application_name }

  # Alarm names start with name_prefix: the KMS key and topic policies let
  # CloudWatch publish only for alarms named that way.
  alarm_actions = [aws_sns_topic.alerts.arn]

  widget_defaults = { region = local.region, period = 60 }

  # Flink 2.2 removes fullRestarts and deprecates uptime/downtime: there the job's health is how long it has been
  # RUNNING (runningTime) and how often it restarted (numRestarts, a running total); 1.20 has uptime/downtime.
  flink_2 = !startswith(var.flink_runtime, "FLINK-1_")
  flink_health_metrics = local.flink_2 ? {
    title = "Flink: running time (ms) and restarts"
    left  = "runningTime"
    right = "numRestarts"
    } : {
    title = "Flink: uptime and downtime (ms)"
    left  = "uptime"
    right = "downtime"
  }
}

resource "aws_cloudwatch_dashboard" "main" {
  dashboard_name = local.dashboard_name
  dashboard_body = jsonencode({
    widgets = [
      {
        type = "text", x = 0, y = 0, width = 24, height = 2
        properties = {
          markdown = "## ${local.name_prefix} anomaly detection\nInput `${local.input_stream_name}` → Flink `${local.flink_application_name}` → anomalies → alerter `${local.alerter_function_name}` → SNS `${aws_sns_topic.alerts.name}`"
        }
      },
      {
        type = "metric", x = 0, y = 2, width = 8, height = 6
        properties = merge(local.widget_defaults, {
          title = "Input stream: records and bytes in"
          stat  = "Sum"
          metrics = [
            ["AWS/Kinesis", "IncomingRecords", "StreamName", local.input_stream_name],
            ["AWS/Kinesis", "IncomingBytes", "StreamName", local.input_stream_name, { yAxis = "right" }],
          ]
        })
      },
      {
        type = "metric", x = 8, y = 2, width = 8, height = 6
        properties = merge(local.widget_defaults, {
          title = "Input stream: iterator age (how far the job is behind)"
          stat  = "Maximum"
          metrics = [
            ["AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", "StreamName", local.input_stream_name],
          ]
          annotations = { horizontal = [{ label = "alarm", value = var.iterator_age_alarm_threshold_ms }] }
        })
      },
      {
        type = "metric", x = 16, y = 2, width = 8, height = 6
        properties = merge(local.widget_defaults, {
          title  = "Anomalies (alerter, AnomalyDetection/AnomalyCount)"
          stat   = "Sum"
          period = 300
          metrics = [
            ["AnomalyDetection", "AnomalyCount", "Application", local.application_name, { label = "all severities" }],
            [{ expression = "SEARCH('{AnomalyDetection,Application,Severity} MetricName=\"AnomalyCount\" Application=\"${local.application_name}\"', 'Sum', 300)", id = "bySeverity", label = "" }],
          ]
          annotations = { horizontal = [{ label = "spike alarm", value = var.anomaly_spike_threshold }] }
        })
      },
      {
        type = "metric", x = 0, y = 8, width = 8, height = 6
        properties = merge(local.widget_defaults, {
          title = local.flink_health_metrics.title
          stat  = "Maximum"
          metrics = [
            ["AWS/KinesisAnalytics", local.flink_health_metrics.left, "Application", local.flink_application_name],
            ["AWS/KinesisAnalytics", local.flink_health_metrics.right, "Application", local.flink_application_name, { yAxis = "right" }],
          ]
        })
      },
      {
        type = "metric", x = 8, y = 8, width = 8, height = 6
        properties = merge(local.widget_defaults, {
          title = "Flink: checkpoints"
          stat  = "Maximum"
          metrics = [
            ["AWS/KinesisAnalytics", "numberOfFailedCheckpoints", "Application", local.flink_application_name],
            ["AWS/KinesisAnalytics", "lastCheckpointDuration", "Application", local.flink_application_name, { yAxis = "right" }],
          ]
        })
      },
      {
        # Custom metrics of the job (metric group `kinesisanalytics`).
        type = "metric", x = 16, y = 8, width = 8, height = 6
        properties = merge(local.widget_defaults, {
          title = "Flink job: records, anomalies, rejects"
          stat  = "Maximum"
          metrics = [
            ["AWS/KinesisAnalytics", "recordsIn", "Application", local.flink_application_name],
            ["AWS/KinesisAnalytics", "anomalies", "Application", local.flink_application_name],
            ["AWS/KinesisAnalytics", "invalidRecords", "Application", local.flink_application_name],
            ["AWS/KinesisAnalytics", "kernelErrors", "Application", local.flink_application_name],
          ]
        })
      },
      {
        type = "metric", x = 0, y = 14, width = 8, height = 6
        properties = merge(local.widget_defaults, {
          title = "Flink job: kernel time per record (ns)"
          stat  = "Average"
          metrics = [
            ["AWS/KinesisAnalytics", "kernelNanosPerRecord", "Application", local.flink_application_name],
          ]
        })
      },
      {
        type = "metric", x = 8, y = 14, width = 8, height = 6
        properties = merge(local.widget_defaults, {
          title = "Alerter: errors, duration, iterator age"
          metrics = [
            ["AWS/Lambda", "Errors", "FunctionName", local.alerter_function_name, { stat = "Sum" }],
            ["AWS/Lambda", "Duration", "FunctionName", local.alerter_function_name, { stat = "p99", yAxis = "right" }],
            ["AWS/Lambda", "IteratorAge", "FunctionName", local.alerter_function_name, { stat = "Maximum", yAxis = "right" }],
          ]
        })
      },
      {
        type = "metric", x = 16, y = 14, width = 8, height = 6
        properties = merge(local.widget_defaults, {
          title = "Alerter: publishing and parked failures"
          metrics = [
            ["AnomalyDetection", "AlertsPublished", "Application", local.application_name, { stat = "Sum" }],
            ["AnomalyDetection", "InvalidAnomalyRecords", "Application", local.application_name, { stat = "Sum" }],
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.alerter_failures.name, { stat = "Maximum", yAxis = "right" }],
          ]
        })
      },
    ]
  })
}

###############################################################################
# Alarms: every one notifies the topic when it fires and when it clears
###############################################################################

resource "aws_cloudwatch_metric_alarm" "anomaly_spike" {
  alarm_name          = "${local.name_prefix}-anomaly-spike"
  alarm_description   = "More than ${var.anomaly_spike_threshold} anomalies in 5 minutes for ${local.application_name}."
  namespace           = "AnomalyDetection"
  metric_name         = "AnomalyCount"
  dimensions          = local.anomaly_metric_dimensions
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.anomaly_spike_threshold
  # No anomalies means no datapoints; that is the good case.
  treat_missing_data = "notBreaching"
  actions_enabled    = true
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
}

# FLINK-1_20: downtime > 0 means the job is restarting or failing.
resource "aws_cloudwatch_metric_alarm" "flink_downtime" {
  count = local.flink_2 ? 0 : 1

  alarm_name          = "${local.name_prefix}-flink-downtime"
  alarm_description   = "The Flink application ${local.flink_application_name} is restarting or failing (downtime > 0)."
  namespace           = "AWS/KinesisAnalytics"
  metric_name         = "downtime"
  dimensions          = { Application = local.flink_application_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  # A stopped application publishes nothing; stopping is a decision, not an incident.
  treat_missing_data = "notBreaching"
  actions_enabled    = true
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
}

# FLINK-2_2: downtime is deprecated and fullRestarts gone; numRestarts (restarts since the job was submitted) growing
# from one minute to the next means the job restarted.
resource "aws_cloudwatch_metric_alarm" "flink_restarts" {
  count = local.flink_2 ? 1 : 0

  alarm_name          = "${local.name_prefix}-flink-restarts"
  alarm_description   = "The Flink application ${local.flink_application_name} restarted (numRestarts grew) in 2 of the last 3 minutes."
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  # A stopped application publishes nothing; stopping is a decision, not an incident.
  treat_missing_data = "notBreaching"
  actions_enabled    = true
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions

  metric_query {
    id          = "restarts"
    expression  = "DIFF(total)"
    label       = "restarts per minute"
    return_data = true
  }

  metric_query {
    id = "total"
    metric {
      namespace   = "AWS/KinesisAnalytics"
      metric_name = "numRestarts"
      dimensions  = { Application = local.flink_application_name }
      stat        = "Maximum"
      period      = 60
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "input_iterator_age" {
  alarm_name          = "${local.name_prefix}-input-iterator-age"
  alarm_description   = "Records in ${local.input_stream_name} wait more than ${var.iterator_age_alarm_threshold_ms} ms to be read: the job is falling behind."
  namespace           = "AWS/Kinesis"
  metric_name         = "GetRecords.IteratorAgeMilliseconds"
  dimensions          = { StreamName = local.input_stream_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.iterator_age_alarm_threshold_ms
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "alerter_errors" {
  alarm_name          = "${local.name_prefix}-alerter-errors"
  alarm_description   = "The alerter ${local.alerter_function_name} failed invocations; failing batches are retried, then parked."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = local.alerter_function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "alerter_failures_queue" {
  alarm_name          = "${local.name_prefix}-alerter-failures-queue"
  alarm_description   = "Anomalies the alerter could not deliver are parked in ${aws_sqs_queue.alerter_failures.name}; inspect and redrive them."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.alerter_failures.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

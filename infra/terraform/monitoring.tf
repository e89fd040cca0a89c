locals {
  input_stream_name = aws_kinesis_stream.this["input"].name

  # The alerter emits AnomalyCount with dimension sets [["Application"], ["Application","Severity"]].
  # An alarm must match one emitted set exactly, so it uses the Application-only set.
  anomaly_metric_dimensions = { Application = local.application_name }

  # Alarm names start with name_prefix: the KMS key and topic policies let
  # CloudWatch publish only for alarms named that way. Alarms go to the operations
  # topic: the alert topic's subscribers get one message per anomaly and nothing else.
  alarm_actions = [aws_sns_topic.operations.arn]

  dead_letters_stream_name = aws_kinesis_stream.this["dead_letters"].name

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
      {
        # Every count here has a loss alarm; each should stay at zero.
        type = "metric", x = 0, y = 20, width = 24, height = 6
        properties = merge(local.widget_defaults, {
          title  = "Records that did not reach their destination (each is kept, and alarmed on)"
          stat   = "Sum"
          period = 300
          metrics = concat(
            [
              ["AWS/Kinesis", "IncomingRecords", "StreamName", local.dead_letters_stream_name, { label = "dead letters" }],
              ["AnomalyDetection", "InvalidAnomalyRecords", "Application", local.application_name, { label = "unalertable records" }],
              ["AWS/Lambda", "DestinationDeliveryFailures", "FunctionName", local.alerter_function_name, { label = "failed batches not parked" }],
            ],
            [for k, a in local.archives : ["AWS/Firehose", "DeliveryToS3.Success", "DeliveryStreamName", aws_kinesis_firehose_delivery_stream.archive[k].name, { stat = "Minimum", yAxis = "right", label = "${a.prefix} delivery success" }]],
          )
        })
      },
    ]
  })
}

###############################################################################
# Alarms: every one notifies the operations topic when it fires and when it clears
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
  alarm_description   = "Asynchronous invocations of the alerter that kept failing are parked in ${aws_sqs_queue.alerter_failures.name} (stream batches are parked in the archive bucket); inspect and redrive them."
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

###############################################################################
# Loss alarms: one for every place a record can stop short of its destination
###############################################################################

locals {
  # Each fires when its metric, summed (or its statistic) over 5 minutes, crosses the threshold.
  loss_alarms = merge(
    {
      unalertable-records = {
        description = "The alerter met anomaly records it can never alert on (not a verdict, an unknown schemaVersion, a message SNS refuses). Each is kept under s3://${aws_s3_bucket.archive.id}/${local.kept.unalertable}/ with its reason; the alerter's log names it. A kernel newer than the alerter makes every record one: deploy a matching alerter, then send the kept records again."
        namespace   = "AnomalyDetection"
        metric      = "InvalidAnomalyRecords"
        dimensions  = local.anomaly_metric_dimensions
        statistic   = "Sum"
        compare     = "GreaterThanThreshold"
        threshold   = 0
      }
      dead-letters = {
        description = "More than ${var.dead_letter_alarm_threshold} records reached ${local.dead_letters_stream_name} in 5 minutes: the kernel refused them (stage parse: the record's own fault, with the field) or failed on them (stage detect/kernel). Each is archived under dead-letters/ with its reason."
        namespace   = "AWS/Kinesis"
        metric      = "IncomingRecords"
        dimensions  = { StreamName = local.dead_letters_stream_name }
        statistic   = "Sum"
        compare     = "GreaterThanThreshold"
        threshold   = var.dead_letter_alarm_threshold
      }
      alerter-parking-failures = {
        description = "Lambda could not write a failed batch of ${local.alerter_function_name} to its on-failure destination (the archive bucket): those anomalies are lost unless still in the stream. Check the role's S3 and KMS permissions."
        namespace   = "AWS/Lambda"
        metric      = "DestinationDeliveryFailures"
        dimensions  = { FunctionName = local.alerter_function_name }
        statistic   = "Sum"
        compare     = "GreaterThanThreshold"
        threshold   = 0
      }
    },
    { for k, a in local.archives : "firehose-${replace(k, "_", "-")}-delivery" => {
      description = "Firehose failed to write ${a.stream} records to s3://${aws_s3_bucket.archive.id}/${a.prefix}/; it retries for 24 hours, then the records are gone. Its log group ${aws_cloudwatch_log_group.firehose[k].name} says why."
      namespace   = "AWS/Firehose"
      metric      = "DeliveryToS3.Success"
      dimensions  = { DeliveryStreamName = aws_kinesis_firehose_delivery_stream.archive[k].name }
      statistic   = "Minimum"
      compare     = "LessThanThreshold"
      threshold   = 1
    } },
    { for k, a in local.archives : "firehose-${replace(k, "_", "-")}-freshness" => {
      description = "The oldest ${a.stream} record not yet in s3://${aws_s3_bucket.archive.id}/${a.prefix}/ is older than the buffering interval plus 15 minutes: delivery is stuck."
      namespace   = "AWS/Firehose"
      metric      = "DeliveryToS3.DataFreshness"
      dimensions  = { DeliveryStreamName = aws_kinesis_firehose_delivery_stream.archive[k].name }
      statistic   = "Maximum"
      compare     = "GreaterThanThreshold"
      threshold   = var.firehose_buffering_interval_seconds + 900
    } },
  )

  # Counters of the running job only grow (and restart at zero with the job);
  # RATE() > 0 means "it grew in this period", AWS's recommended form for them.
  growth_alarms = {
    kernel-errors = {
      description = "The kernel failed on records in ${local.flink_application_name} (traps, unreadable state): they went to the dead letters with stage kernel or detect. Read the job's log group."
      metric      = "kernelErrors"
      statistic   = "Sum"
    }
    failed-checkpoints = {
      description = "Checkpoints of ${local.flink_application_name} are failing: a restart would go back to an older checkpoint and replay more, and a snapshot may be missing when it is needed."
      metric      = "numberOfFailedCheckpoints"
      statistic   = "Maximum"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "loss" {
  for_each = local.loss_alarms

  alarm_name          = "${local.name_prefix}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = 300
  evaluation_periods  = 1
  comparison_operator = each.value.compare
  threshold           = each.value.threshold
  # No datapoint means nothing happened: no record went astray.
  treat_missing_data = "notBreaching"
  actions_enabled    = true
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "job_growth" {
  for_each = local.growth_alarms

  alarm_name          = "${local.name_prefix}-${each.key}"
  alarm_description   = each.value.description
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "growth"
    expression  = "RATE(counter)"
    label       = "${each.value.metric} per second"
    return_data = true
  }

  metric_query {
    id = "counter"
    metric {
      namespace   = "AWS/KinesisAnalytics"
      metric_name = each.value.metric
      dimensions  = { Application = local.flink_application_name }
      stat        = each.value.statistic
      period      = 300
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "alerter_iterator_age" {
  alarm_name          = "${local.name_prefix}-alerter-iterator-age"
  alarm_description   = "The alerter reads anomalies more than ${var.alerter_iterator_age_alarm_threshold_ms} ms old: alerts are late, or a batch is being retried; after ${var.alerter_maximum_record_age_seconds} s its records are parked under ${local.kept.alerter_failures}/ in the archive bucket."
  namespace           = "AWS/Lambda"
  metric_name         = "IteratorAge"
  dimensions          = { FunctionName = local.alerter_function_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alerter_iterator_age_alarm_threshold_ms
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

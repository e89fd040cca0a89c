# Two topics, so each subscriber gets one kind of message: `alerts` carries exactly
# one message per anomaly (from the alerter, with severity/anomalyId/key attributes
# that filter policies match on); `operations` carries every CloudWatch alarm
# (the pipeline losing, delaying or refusing records), for whoever runs the stack.

resource "aws_sns_topic" "alerts" {
  name              = "${local.name_prefix}-alerts"
  display_name      = "Anomaly alerts (${local.name_prefix})"
  kms_master_key_id = aws_kms_key.this.arn
}

resource "aws_sns_topic" "operations" {
  name              = "${local.name_prefix}-operations"
  display_name      = "Anomaly detection operations (${local.name_prefix})"
  kms_master_key_id = aws_kms_key.this.arn
}

locals {
  topic_arns = {
    alerts     = aws_sns_topic.alerts.arn
    operations = aws_sns_topic.operations.arn
  }

  # null operations_email: the one address given hears about both.
  operations_email = coalesce(var.operations_email, var.notification_email, "none")
}

data "aws_iam_policy_document" "topic" {
  for_each = local.topic_arns

  statement {
    sid       = "OwnerAccountManagesTopic"
    effect    = "Allow"
    actions   = ["sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:Subscribe", "sns:ListSubscriptionsByTopic", "sns:Publish"]
    resources = [each.value]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # Only the operations topic hears from CloudWatch.
  dynamic "statement" {
    for_each = each.key == "operations" ? [1] : []
    content {
      sid       = "OurAlarmsPublish"
      effect    = "Allow"
      actions   = ["sns:Publish"]
      resources = [each.value]

      principals {
        type        = "Service"
        identifiers = ["cloudwatch.amazonaws.com"]
      }

      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [local.account_id]
      }

      condition {
        test     = "ArnLike"
        variable = "aws:SourceArn"
        values   = [local.our_alarms_arn_pattern]
      }
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sns:Publish"]
    resources = [each.value]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sns_topic_policy" "topic" {
  for_each = local.topic_arns

  arn    = each.value
  policy = data.aws_iam_policy_document.topic[each.key].json
}

moved {
  from = aws_sns_topic_policy.alerts
  to   = aws_sns_topic_policy.topic["alerts"]
}

# Only when an address is given: a subscription with an empty endpoint fails at apply.
resource "aws_sns_topic_subscription" "email" {
  count = var.notification_email == null ? 0 : 1

  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = var.notification_email
}

resource "aws_sns_topic_subscription" "operations_email" {
  count = local.operations_email == "none" ? 0 : 1

  topic_arn = aws_sns_topic.operations.arn
  protocol  = "email"
  endpoint  = local.operations_email
}

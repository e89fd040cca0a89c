# One customer-managed key for every store of the stack (streams, buckets, topic,
# queue, log groups, Lambda environment): one place to rotate, audit and revoke.

locals {
  # Services allowed to use the key on behalf of principals of this account.
  # Each role's own policy narrows this further to the services it really calls.
  kms_via_services = [for service in ["kinesis", "firehose", "s3", "sns", "sqs", "lambda", "kinesisanalytics"] : "${service}.${local.region}.amazonaws.com"]

  # CloudWatch Logs encrypts with the key itself, so its grant is tied to our log groups by name.
  kms_log_group_arn_patterns = [
    "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.flink_log_group_name}",
    "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.alerter_log_group_name}",
    "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.firehose_log_group_prefix}-*",
  ]

  # The stack's own CloudWatch alarms: the only ones that may publish to the operations topic (sns.tf) and use the
  # key to do it (below).
  our_alarms_arn_pattern = "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${local.name_prefix}-*"
}

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_109:A key policy's Resource "*" means this key only; the root statement is AWS's documented default that lets IAM policies (and admins) manage the key, without it the key can become unmanageable.
  #checkov:skip=CKV_AWS_111:Same as above: in a key policy "*" is the key itself, and write access for the account root is what delegates to IAM.
  #checkov:skip=CKV_AWS_356:Key policies can only name the key they are attached to as "*"; there is no narrower resource to write.

  statement {
    sid       = "AccountRootAdministersKey"
    effect    = "Allow"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }

    # The principal already limits this to the account; the condition says so again
    # explicitly, so every Resource "*" statement of the stack carries a condition
    # (infra/scripts/test.sh enforces that) without narrowing what admins can do.
    condition {
      test     = "StringEquals"
      variable = "kms:CallerAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid    = "AccountPrincipalsUseKeyThroughStackServices"
    effect = "Allow"
    actions = [
      "kms:Decrypt",
      "kms:DescribeKey",
      "kms:Encrypt",
      "kms:GenerateDataKey*",
      "kms:ReEncrypt*",
    ]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = local.kms_via_services
    }

    condition {
      test     = "StringEquals"
      variable = "kms:CallerAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "AccountPrincipalsGrantToStackServices"
    effect    = "Allow"
    actions   = ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = local.kms_via_services
    }

    # Grants only for AWS resources (Lambda, SNS ...), never ad-hoc ones to a person.
    condition {
      test     = "Bool"
      variable = "kms:GrantIsForAWSResource"
      values   = ["true"]
    }
  }

  statement {
    sid    = "CloudWatchLogsEncryptsOurLogGroups"
    effect = "Allow"
    actions = [
      "kms:Decrypt*",
      "kms:Describe*",
      "kms:Encrypt*",
      "kms:GenerateDataKey*",
      "kms:ReEncrypt*",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = local.kms_log_group_arn_patterns
    }
  }

  # Managed Flink encrypts the application's state (running state, checkpoints and snapshots: every key's
  # baseline) with this key once `packager deploy` sets it (ApplicationEncryptionConfiguration; this provider
  # cannot). The service validates and uses the key as both of its principals, for this stack's application only.
  statement {
    sid    = "ManagedFlinkEncryptsOurApplicationState"
    effect = "Allow"
    actions = [
      "kms:CreateGrant",
      "kms:Decrypt",
      "kms:DescribeKey",
      "kms:Encrypt",
      "kms:GenerateDataKey*",
      "kms:ReEncrypt*",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["kinesisanalytics.amazonaws.com", "infrastructure.kinesisanalytics.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.flink_application_arn]
    }
  }

  # CloudWatch alarms publish to the encrypted topic as the CloudWatch service,
  # which needs the key; without this statement alarms fire and nobody hears.
  statement {
    sid       = "CloudWatchAlarmsPublishToEncryptedTopic"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

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

resource "aws_kms_key" "this" {
  description             = "${local.name_prefix}: streams, archives, alerts, queue and logs of the anomaly detection stack"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_key_deletion_window_days
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "this" {
  name          = "alias/${local.name_prefix}"
  target_key_id = aws_kms_key.this.key_id
}

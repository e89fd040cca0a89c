# One role per workload, each allowed exactly the calls it makes on exactly the
# resources it touches. KMS use is further tied to the service the call goes
# through (kms:ViaService), so a role cannot use the key directly.

locals {
  kms_via = {
    kinesis = "kinesis.${local.region}.amazonaws.com"
    s3      = "s3.${local.region}.amazonaws.com"
    sns     = "sns.${local.region}.amazonaws.com"
    sqs     = "sqs.${local.region}.amazonaws.com"
    lambda  = "lambda.${local.region}.amazonaws.com"
  }

  ec2_arn_prefix  = "arn:${local.partition}:ec2:${local.region}:${local.account_id}"
  vpc_subnet_arns = [for id in var.vpc_subnet_ids : "${local.ec2_arn_prefix}:subnet/${id}"]
  vpc_sg_arns     = [for id in var.vpc_security_group_ids : "${local.ec2_arn_prefix}:security-group/${id}"]
  vpc_eni_arn     = "${local.ec2_arn_prefix}:network-interface/*"

  flink_application_arn = "arn:${local.partition}:kinesisanalytics:${local.region}:${local.account_id}:application/${local.flink_application_name}"
  log_group_arn_prefix  = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group"
}

###############################################################################
# Managed Flink
###############################################################################

data "aws_iam_policy_document" "flink_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["kinesisanalytics.amazonaws.com"]
    }

    # Confused-deputy guard: only our application in our account may use the role.
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [local.flink_application_arn]
    }
  }
}

resource "aws_iam_role" "flink" {
  name               = "${local.name_prefix}-flink"
  description        = "Service execution role of the ${local.flink_application_name} Managed Flink application"
  assume_role_policy = data.aws_iam_policy_document.flink_assume.json
}

data "aws_iam_policy_document" "flink" {
  statement {
    sid = "ReadInputStream"
    actions = [
      "kinesis:DescribeStream",
      "kinesis:DescribeStreamSummary",
      "kinesis:GetRecords",
      "kinesis:GetShardIterator",
      "kinesis:ListShards",
    ]
    resources = [aws_kinesis_stream.this["input"].arn]
  }

  statement {
    sid = "WriteAnomaliesAndDeadLetters"
    actions = [
      "kinesis:DescribeStreamSummary",
      "kinesis:ListShards",
      "kinesis:PutRecord",
      "kinesis:PutRecords",
    ]
    resources = [
      aws_kinesis_stream.this["anomalies"].arn,
      aws_kinesis_stream.this["dead_letters"].arn,
    ]
  }

  statement {
    sid       = "ReadJobCode"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${aws_s3_bucket.artifacts.arn}/flink/*"]
  }

  statement {
    sid       = "FindLogGroup"
    actions   = ["logs:DescribeLogGroups"]
    resources = ["${local.log_group_arn_prefix}:*"]
  }

  statement {
    sid       = "FindLogStream"
    actions   = ["logs:DescribeLogStreams"]
    resources = ["${local.log_group_arn_prefix}:${local.flink_log_group_name}:log-stream:*"]
  }

  statement {
    sid       = "WriteLogs"
    actions   = ["logs:PutLogEvents"]
    resources = ["${local.log_group_arn_prefix}:${local.flink_log_group_name}:log-stream:${local.flink_log_stream_name}"]
  }

  statement {
    sid       = "DecryptInputAndCode"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.this.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.kms_via.kinesis, local.kms_via.s3]
    }
  }

  statement {
    sid       = "EncryptOutputs"
    actions   = ["kms:GenerateDataKey"]
    resources = [aws_kms_key.this.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.kms_via.kinesis]
    }
  }

  dynamic "statement" {
    for_each = local.vpc_enabled ? [1] : []
    content {
      # EC2 Describe calls have no resource-level permissions; the region condition is the narrowest available.
      sid = "DescribeVpc"
      actions = [
        "ec2:DescribeDhcpOptions",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeSubnets",
        "ec2:DescribeVpcs",
      ]
      resources = ["*"]

      condition {
        test     = "StringEquals"
        variable = "aws:RequestedRegion"
        values   = [local.region]
      }
    }
  }

  dynamic "statement" {
    for_each = local.vpc_enabled ? [1] : []
    content {
      sid       = "CreateEniInOurSubnets"
      actions   = ["ec2:CreateNetworkInterface"]
      resources = concat(local.vpc_subnet_arns, local.vpc_sg_arns, [local.vpc_eni_arn])
    }
  }

  dynamic "statement" {
    for_each = local.vpc_enabled ? [1] : []
    content {
      sid       = "ManageEniInOurSubnets"
      actions   = ["ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface"]
      resources = [local.vpc_eni_arn]

      condition {
        test     = "ArnEquals"
        variable = "ec2:Subnet"
        values   = local.vpc_subnet_arns
      }
    }
  }
}

resource "aws_iam_role_policy" "flink" {
  name   = "least-privilege"
  role   = aws_iam_role.flink.id
  policy = data.aws_iam_policy_document.flink.json
}

###############################################################################
# Firehose: one role per delivery stream, each confined to its source and prefix
###############################################################################

data "aws_iam_policy_document" "firehose_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["firehose.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "firehose" {
  for_each = local.archives

  name               = "${local.name_prefix}-firehose-${replace(each.key, "_", "-")}"
  description        = "Firehose delivery of the ${each.value.stream} stream to s3://${aws_s3_bucket.archive.id}/${each.value.prefix}/"
  assume_role_policy = data.aws_iam_policy_document.firehose_assume.json
}

data "aws_iam_policy_document" "firehose" {
  for_each = local.archives

  statement {
    sid = "ReadSourceStream"
    actions = [
      "kinesis:DescribeStream",
      "kinesis:GetRecords",
      "kinesis:GetShardIterator",
      "kinesis:ListShards",
    ]
    resources = [aws_kinesis_stream.this[each.value.stream].arn]
  }

  statement {
    sid       = "LocateBucket"
    actions   = ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"]
    resources = [aws_s3_bucket.archive.arn]
  }

  statement {
    sid     = "WriteOwnPrefix"
    actions = ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"]
    resources = [
      "${aws_s3_bucket.archive.arn}/${each.value.prefix}/*",
      "${aws_s3_bucket.archive.arn}/errors/${each.value.prefix}/*",
    ]
  }

  statement {
    sid       = "DecryptSourceStream"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.this.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.kms_via.kinesis]
    }
  }

  statement {
    sid       = "EncryptArchiveObjects"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.this.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.kms_via.s3]
    }

    # With a bucket key the context is the bucket ARN, without one the object ARN.
    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:aws:s3:arn"
      values = [
        aws_s3_bucket.archive.arn,
        "${aws_s3_bucket.archive.arn}/${each.value.prefix}/*",
        "${aws_s3_bucket.archive.arn}/errors/${each.value.prefix}/*",
      ]
    }
  }

  statement {
    sid       = "WriteDeliveryErrors"
    actions   = ["logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.firehose[each.key].arn}:log-stream:*"]
  }
}

resource "aws_iam_role_policy" "firehose" {
  for_each = local.archives

  name   = "least-privilege"
  role   = aws_iam_role.firehose[each.key].id
  policy = data.aws_iam_policy_document.firehose[each.key].json
}

###############################################################################
# Lambda alerter
###############################################################################

data "aws_iam_policy_document" "alerter_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "alerter" {
  name               = "${local.name_prefix}-alerter"
  description        = "Execution role of the ${local.alerter_function_name} Lambda"
  assume_role_policy = data.aws_iam_policy_document.alerter_assume.json
}

data "aws_iam_policy_document" "alerter" {
  statement {
    sid = "ReadAnomaliesStream"
    actions = [
      "kinesis:DescribeStream",
      "kinesis:DescribeStreamSummary",
      "kinesis:GetRecords",
      "kinesis:GetShardIterator",
      "kinesis:ListShards",
    ]
    resources = [aws_kinesis_stream.this["anomalies"].arn]
  }

  statement {
    sid       = "PublishAlerts"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
  }

  statement {
    # The dead-letter queue of asynchronous invocations.
    sid       = "ParkFailedAsyncEvents"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.alerter_failures.arn]
  }

  statement {
    # Records the alerter can never alert on (it writes them), and batches that kept
    # failing (the event source mapping's on-failure destination writes them).
    sid       = "KeepWhatIsNotAlerted"
    actions   = ["s3:PutObject"]
    resources = [for prefix in values(local.kept) : "${aws_s3_bucket.archive.arn}/${prefix}/*"]
  }

  statement {
    # Lambda's S3 on-failure destination requires it.
    sid       = "LocateArchiveBucket"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.archive.arn]
  }

  statement {
    sid       = "EncryptKeptObjects"
    actions   = ["kms:GenerateDataKey"]
    resources = [aws_kms_key.this.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.kms_via.s3]
    }

    # With a bucket key the context is the bucket ARN, without one the object ARN.
    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:aws:s3:arn"
      values   = concat([aws_s3_bucket.archive.arn], [for prefix in values(local.kept) : "${aws_s3_bucket.archive.arn}/${prefix}/*"])
    }
  }

  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.alerter.arn}:*"]
  }

  statement {
    sid       = "UseKeyThroughStackServices"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.this.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.kms_via.kinesis, local.kms_via.sns, local.kms_via.sqs, local.kms_via.lambda]
    }
  }

  statement {
    # X-Ray has no resource-level permissions; the region condition is the narrowest available.
    sid       = "Tracing"
    actions   = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = [local.region]
    }
  }

  dynamic "statement" {
    for_each = local.vpc_enabled ? [1] : []
    content {
      sid       = "DescribeVpc"
      actions   = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]
      resources = ["*"]

      condition {
        test     = "StringEquals"
        variable = "aws:RequestedRegion"
        values   = [local.region]
      }
    }
  }

  dynamic "statement" {
    for_each = local.vpc_enabled ? [1] : []
    content {
      sid       = "CreateEniInOurSubnets"
      actions   = ["ec2:CreateNetworkInterface"]
      resources = concat(local.vpc_subnet_arns, local.vpc_sg_arns, [local.vpc_eni_arn])
    }
  }

  dynamic "statement" {
    for_each = local.vpc_enabled ? [1] : []
    content {
      sid = "ManageEniInOurSubnets"
      actions = [
        "ec2:AssignPrivateIpAddresses",
        "ec2:DeleteNetworkInterface",
        "ec2:UnassignPrivateIpAddresses",
      ]
      resources = [local.vpc_eni_arn]

      # As for the Flink role: only interfaces in the stack's own subnets, not every
      # interface of the account in the region.
      condition {
        test     = "ArnEquals"
        variable = "ec2:Subnet"
        values   = local.vpc_subnet_arns
      }
    }
  }
}

resource "aws_iam_role_policy" "alerter" {
  name   = "least-privilege"
  role   = aws_iam_role.alerter.id
  policy = data.aws_iam_policy_document.alerter.json
}

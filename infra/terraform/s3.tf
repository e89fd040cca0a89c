# Two data buckets instead of one with prefixes: the job jar and the archives
# differ in who may touch them (Managed Flink reads artifacts, Firehose writes
# archives), in lifecycle (jars are kept for rollback, archives tier and expire)
# and in blast radius of a mistaken policy. A third bucket receives S3 access logs.

locals {
  # Account and region make the global bucket names unique per stack;
  # project_name is capped at 15 characters so the longest name stays within 63.
  bucket_stem = "${local.name_prefix}-${local.account_id}-${local.region}"

  # Firehose archives: which stream lands under which prefix (partitioned by
  # delivery date, UTC, below it).
  archives = {
    raw          = { stream = "input", prefix = "raw" }
    anomalies    = { stream = "anomalies", prefix = "anomalies" }
    dead_letters = { stream = "dead_letters", prefix = "dead-letters" }
  }

  # What the alerter could not alert on, kept in the same bucket: records it can
  # never alert on (written by the alerter), and batches that kept failing
  # (written by Lambda's on-failure destination, whose key layout is
  # aws/lambda/<mapping uuid>/<shard>/<yyyy>/<mm>/<dd>/...).
  kept = {
    unalertable      = "unalertable"
    alerter_failures = "aws/lambda"
  }
}

###############################################################################
# Artifacts: the Flink job jar (and whatever `packager deploy` uploads later)
###############################################################################

resource "aws_s3_bucket" "artifacts" {
  #checkov:skip=CKV_AWS_144:Artifacts are rebuilt from source by `packager build`; a cross-region replica would double cost for data that is reproducible.
  #checkov:skip=CKV2_AWS_62:Nothing consumes object-created events from the artifacts bucket; deploys are driven by `packager deploy`.
  bucket        = "${local.bucket_stem}-artifacts"
  force_destroy = var.force_destroy_buckets
}

resource "aws_s3_bucket_ownership_controls" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "artifacts" {
  bucket                  = aws_s3_bucket.artifacts.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id
  rule {
    # A bucket key cuts KMS requests (and their cost) by reusing a data key per bucket.
    bucket_key_enabled = true
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.this.arn
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  rule {
    id     = "expire-replaced-artifacts"
    status = "Enabled"
    filter {
      prefix = ""
    }

    # Keep a few previous jars for rollback, drop the rest.
    noncurrent_version_expiration {
      noncurrent_days           = var.noncurrent_version_expiration_days
      newer_noncurrent_versions = var.artifact_versions_kept > 0 ? var.artifact_versions_kept : null
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.artifacts]
}

resource "aws_s3_bucket_logging" "artifacts" {
  bucket        = aws_s3_bucket.artifacts.id
  target_bucket = aws_s3_bucket.access_logs.id
  target_prefix = "artifacts/"

  # S3 checks at this call that the target's policy lets log delivery in.
  depends_on = [aws_s3_bucket_policy.access_logs]
}

resource "aws_s3_bucket_policy" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id
  policy = data.aws_iam_policy_document.tls_only["artifacts"].json

  depends_on = [aws_s3_bucket_public_access_block.artifacts]
}

###############################################################################
# Archive: Firehose deliveries of raw input, anomalies and dead letters
###############################################################################

resource "aws_s3_bucket" "archive" {
  #checkov:skip=CKV_AWS_144:Single-region stack by design; S3 stores archives across three AZs. Cross-region replication needs a second region's key and bucket and is an org-level decision.
  #checkov:skip=CKV2_AWS_62:No consumer of object-created events exists; archives are read by batch tools (Athena) on demand.
  bucket        = "${local.bucket_stem}-archive"
  force_destroy = var.force_destroy_buckets
}

resource "aws_s3_bucket_ownership_controls" "archive" {
  bucket = aws_s3_bucket.archive.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "archive" {
  bucket                  = aws_s3_bucket.archive.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "archive" {
  bucket = aws_s3_bucket.archive.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "archive" {
  bucket = aws_s3_bucket.archive.id
  rule {
    bucket_key_enabled = true
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.this.arn
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "archive" {
  bucket = aws_s3_bucket.archive.id

  # Bucket-wide, so uploads under any prefix (including future ones) are cleaned up.
  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"
    filter {
      prefix = ""
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  # One rule per archive prefix plus its error prefix, so each can later get its
  # own retention without touching the others.
  dynamic "rule" {
    for_each = merge(
      { for name, a in local.archives : name => a.prefix },
      { for name, a in local.archives : "errors-${name}" => "errors/${a.prefix}" },
      local.kept,
    )
    content {
      id     = "tier-and-expire-${replace(rule.key, "_", "-")}"
      status = "Enabled"

      filter {
        prefix = "${rule.value}/"
      }

      transition {
        days          = var.archive_transition_days
        storage_class = var.archive_transition_storage_class
      }

      expiration {
        days = var.archive_expiration_days
      }

      noncurrent_version_expiration {
        noncurrent_days = var.noncurrent_version_expiration_days
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.archive]
}

resource "aws_s3_bucket_logging" "archive" {
  bucket        = aws_s3_bucket.archive.id
  target_bucket = aws_s3_bucket.access_logs.id
  target_prefix = "archive/"

  # S3 checks at this call that the target's policy lets log delivery in.
  depends_on = [aws_s3_bucket_policy.access_logs]
}

resource "aws_s3_bucket_policy" "archive" {
  bucket = aws_s3_bucket.archive.id
  policy = data.aws_iam_policy_document.tls_only["archive"].json

  depends_on = [aws_s3_bucket_public_access_block.archive]
}

###############################################################################
# Access logs of the two buckets above
###############################################################################

resource "aws_s3_bucket" "access_logs" {
  #checkov:skip=CKV_AWS_18:This is the access-log target; logging it into itself would loop and logging it elsewhere needs yet another bucket.
  #checkov:skip=CKV_AWS_145:S3 server access log delivery does not support SSE-KMS on the target bucket; it is encrypted with SSE-S3 (AES256) instead.
  #checkov:skip=CKV_AWS_144:Access logs are diagnostic and expire after access_log_retention_days; replicating them cross-region is not worth the cost.
  #checkov:skip=CKV2_AWS_62:Nothing consumes events for access-log objects.
  bucket        = "${local.bucket_stem}-access-logs"
  force_destroy = var.force_destroy_buckets
}

resource "aws_s3_bucket_ownership_controls" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "access_logs" {
  bucket                  = aws_s3_bucket.access_logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    id     = "expire-access-logs"
    status = "Enabled"
    filter {
      prefix = ""
    }

    expiration {
      days = var.access_log_retention_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 1
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.access_logs]
}

resource "aws_s3_bucket_policy" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  policy = data.aws_iam_policy_document.access_logs.json

  depends_on = [aws_s3_bucket_public_access_block.access_logs]
}

###############################################################################
# Bucket policies
###############################################################################

data "aws_iam_policy_document" "tls_only" {
  for_each = {
    artifacts = aws_s3_bucket.artifacts.arn
    archive   = aws_s3_bucket.archive.arn
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [each.value, "${each.value}/*"]

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

data "aws_iam_policy_document" "access_logs" {
  # With ACLs disabled (BucketOwnerEnforced) the log delivery service is let in by policy,
  # and only for our two source buckets. It comes first because moto (used by
  # infra/scripts/moto-apply.sh) stops reading the policy at a Principal of "*".
  statement {
    sid       = "S3ServerAccessLogsFromOurBuckets"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.access_logs.arn}/*"]

    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [aws_s3_bucket.artifacts.arn, aws_s3_bucket.archive.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.access_logs.arn, "${aws_s3_bucket.access_logs.arn}/*"]

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

###############################################################################
# The job jar, uploaded once
###############################################################################

resource "aws_s3_object" "flink_jar" {
  count = var.enable_flink_application ? 1 : 0

  bucket = aws_s3_bucket.artifacts.id
  # Content-addressed: a new build never overwrites the object a running application points at.
  key         = "flink/anomaly-detector-${local.flink_jar_sha256}.jar"
  source      = local.flink_jar_path
  source_hash = local.flink_jar_sha256
  # Inherit the bucket's SSE-KMS default; stating it keeps the object readable only via our key.
  server_side_encryption = "aws:kms"
  kms_key_id             = aws_kms_key.this.arn
  content_type           = "application/java-archive"
  # S3 keeps its own SHA-256 of the jar (and refuses a corrupted upload): `packager deploy` reuses an object only
  # when that checksum is the jar's.
  checksum_algorithm = "SHA256"

  lifecycle {
    # Terraform uploads the first jar only. After that `packager deploy` uploads
    # and switches versions; replacing this object on every new local build would
    # delete the jar a running application may still restart from.
    ignore_changes = [key, source, source_hash]

    precondition {
      condition     = fileexists(local.flink_jar_path)
      error_message = "The Flink job jar ${local.flink_jar_path} does not exist: run `packager build` first, or set flink_jar_path."
    }
  }

  depends_on = [aws_s3_bucket_server_side_encryption_configuration.artifacts]
}

locals {
  # try(): a missing jar is reported by the precondition above with a useful message,
  # not by filesha256's "no file exists" during expression evaluation.
  flink_jar_sha256 = try(filesha256(local.flink_jar_path), "missing")
}

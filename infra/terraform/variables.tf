###############################################################################
# Stack identity
###############################################################################

variable "aws_region" {
  type        = string
  description = "AWS region to deploy into, e.g. eu-west-1."
  default     = "eu-west-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.aws_region))
    error_message = "aws_region must look like an AWS region code, e.g. eu-west-1 or us-gov-west-1."
  }
}

variable "environment" {
  type        = string
  description = "Deployment environment; part of every resource name. One of dev, staging, prod."
  default     = "dev"

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be one of: dev, staging, prod."
  }
}

variable "project_name" {
  type        = string
  description = "Short project name, the first part of every resource name. 3-15 characters: lowercase letters, digits and hyphens, starting with a letter (it ends up in S3 bucket names, which are limited to 63 characters)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,13}[a-z0-9]$", var.project_name)) && !strcontains(var.project_name, "--")
    error_message = "project_name must be 3-15 characters of lowercase letters, digits and single hyphens, start with a letter and not end with a hyphen, e.g. \"fraud-watch\"."
  }
}

variable "tags" {
  type        = map(string)
  description = "Extra tags applied to every resource (merged under the stack's own Project/Environment/ManagedBy/Component tags)."
  default     = {}
}

###############################################################################
# Kinesis Data Streams
###############################################################################

variable "kinesis_stream_mode" {
  type        = string
  description = "Capacity mode of the three data streams: PROVISIONED (uses the shard counts) or ON_DEMAND (scales itself; shard counts ignored)."
  default     = "PROVISIONED"

  validation {
    condition     = contains(["PROVISIONED", "ON_DEMAND"], var.kinesis_stream_mode)
    error_message = "kinesis_stream_mode must be PROVISIONED or ON_DEMAND."
  }
}

variable "kinesis_stream_shard_count" {
  type        = number
  description = "Shards of the input (transactions) stream in PROVISIONED mode. Each shard takes 1 MB/s or 1,000 records/s in."
  default     = 2

  validation {
    # 200 is the default per-account shard quota in most regions; more needs a quota increase anyway.
    condition     = var.kinesis_stream_shard_count >= 1 && var.kinesis_stream_shard_count <= 200 && floor(var.kinesis_stream_shard_count) == var.kinesis_stream_shard_count
    error_message = "kinesis_stream_shard_count must be a whole number from 1 to 200."
  }
}

variable "kinesis_output_shard_count" {
  type        = number
  description = "Shards of each output stream (anomalies, dead letters) in PROVISIONED mode. They carry a small fraction of the input."
  default     = 1

  validation {
    condition     = var.kinesis_output_shard_count >= 1 && var.kinesis_output_shard_count <= 200 && floor(var.kinesis_output_shard_count) == var.kinesis_output_shard_count
    error_message = "kinesis_output_shard_count must be a whole number from 1 to 200."
  }
}

variable "kinesis_retention_hours" {
  type        = number
  description = "How long the data streams keep records, in hours (24 to 8760). Longer than 24 h costs extra per shard-hour."
  default     = 24

  validation {
    condition     = var.kinesis_retention_hours >= 24 && var.kinesis_retention_hours <= 8760 && floor(var.kinesis_retention_hours) == var.kinesis_retention_hours
    error_message = "kinesis_retention_hours must be a whole number from 24 to 8760."
  }
}

###############################################################################
# Managed Service for Apache Flink
###############################################################################

variable "enable_flink_application" {
  type        = bool
  description = "Create the Managed Flink application. Only turned off where the API is unavailable (local moto runs)."
  default     = true
}

variable "flink_runtime" {
  type        = string
  description = "Managed Flink runtime of the application: FLINK-2_2 (Java 17, AWS's default for new applications) or FLINK-1_20 (Java 11). Must match the jar: `packager build --flink-version 2.2` or `1.20`. The dashboard and the restart alarm use the metrics this runtime publishes. FLINK-2_2 needs a hashicorp/aws provider that knows it (5.100 stops at FLINK-1_20)."
  default     = "FLINK-2_2"

  validation {
    condition     = contains(["FLINK-2_2", "FLINK-1_20"], var.flink_runtime)
    error_message = "flink_runtime must be FLINK-2_2 or FLINK-1_20 (the runtimes `packager build --flink-version` builds for)."
  }
}

variable "flink_jar_path" {
  type        = string
  description = "Path of the job jar written by `packager build`; null means <repo>/target/packager/anomaly-detector.jar. Uploaded once, on first apply; later code goes through `packager deploy`."
  default     = null
  nullable    = true
}

variable "flink_parallelism" {
  type        = number
  description = "Initial parallelism of the Flink job."
  default     = 2

  validation {
    condition     = var.flink_parallelism >= 1 && var.flink_parallelism <= 1000 && floor(var.flink_parallelism) == var.flink_parallelism
    error_message = "flink_parallelism must be a whole number from 1 to 1000."
  }
}

variable "flink_parallelism_per_kpu" {
  type        = number
  description = "Parallel tasks per KPU (1 vCPU, 4 GB). KPUs billed = ceil(parallelism / this) + 1 for orchestration."
  default     = 1

  validation {
    condition     = var.flink_parallelism_per_kpu >= 1 && var.flink_parallelism_per_kpu <= 8 && floor(var.flink_parallelism_per_kpu) == var.flink_parallelism_per_kpu
    error_message = "flink_parallelism_per_kpu must be a whole number from 1 to 8."
  }
}

variable "flink_autoscaling_enabled" {
  type        = bool
  description = "Let Managed Flink raise parallelism under load. Off by default so the monthly cost is predictable."
  default     = false
}

variable "flink_checkpoint_interval_ms" {
  type        = number
  description = "Checkpoint interval in milliseconds. Detector state (per-key baselines) is recovered from the last checkpoint."
  default     = 60000

  validation {
    condition     = var.flink_checkpoint_interval_ms >= 1000
    error_message = "flink_checkpoint_interval_ms must be at least 1000."
  }
}

variable "flink_log_level" {
  type        = string
  description = "Managed Flink application log level: DEBUG, INFO, WARN or ERROR."
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARN", "ERROR"], var.flink_log_level)
    error_message = "flink_log_level must be DEBUG, INFO, WARN or ERROR."
  }
}

variable "flink_metrics_level" {
  type        = string
  description = "Managed Flink metrics level. The dashboard and alarms read APPLICATION-level metrics (dimension Application only)."
  default     = "APPLICATION"

  validation {
    condition     = contains(["APPLICATION", "TASK", "OPERATOR", "PARALLELISM"], var.flink_metrics_level)
    error_message = "flink_metrics_level must be APPLICATION, TASK, OPERATOR or PARALLELISM."
  }
}

variable "flink_source_init_position" {
  type        = string
  description = "Where a job without a snapshot starts reading the input stream: TRIM_HORIZON (the oldest retained record, so nothing sent before the first start is skipped) or LATEST. Written at creation and given to `packager deploy` (output flink_deploy_defaults), which owns it afterwards; a job restored from a snapshot resumes where it stopped."
  default     = "TRIM_HORIZON"

  validation {
    condition     = contains(["TRIM_HORIZON", "LATEST"], var.flink_source_init_position)
    error_message = "flink_source_init_position must be TRIM_HORIZON or LATEST."
  }
}

variable "flink_start_application" {
  type        = bool
  description = "Start the Flink application on create. Default false: `packager deploy` starts it. Changing this later from true to false STOPS the application."
  default     = false
}

variable "anomaly_threshold_multiplier" {
  type        = number
  description = "The alarm line: how far from a key's baseline, in its own deviations (higher = fewer alerts), an event must be to be an anomaly."
  default     = 3.0

  validation {
    condition     = var.anomaly_threshold_multiplier > 0
    error_message = "anomaly_threshold_multiplier must be greater than 0."
  }
}

variable "detector" {
  type        = string
  description = "Detector the kernel runs per key: adaptive (the default: time-aware robust baselines, level shifts reported once, daily profile), zscore (Welford mean/variance) or ewma (exponentially weighted)."
  default     = "adaptive"

  validation {
    condition     = contains(["adaptive", "zscore", "ewma"], var.detector)
    error_message = "detector must be adaptive, zscore or ewma."
  }
}

variable "min_events" {
  type        = number
  description = "Events a key must have seen before it can be flagged (warm-up of its baseline)."
  default     = 3

  validation {
    condition     = var.min_events >= 1 && floor(var.min_events) == var.min_events
    error_message = "min_events must be a whole number of at least 1."
  }
}

variable "detector_properties" {
  type        = map(string)
  description = "Extra keys for the `detector` runtime property group (values are strings). Must not repeat threshold_multiplier, detector or min_events, which have their own variables."
  default     = {}

  validation {
    condition     = length(setintersection(keys(var.detector_properties), ["threshold_multiplier", "detector", "min_events"])) == 0
    error_message = "detector_properties must not set threshold_multiplier, detector or min_events: use the variables anomaly_threshold_multiplier, detector and min_events."
  }
}

variable "state_ttl_hours" {
  type        = number
  description = "Hours after its last event that a key's detector state is dropped (Flink state TTL)."
  default     = 720

  validation {
    condition     = var.state_ttl_hours >= 1 && floor(var.state_ttl_hours) == var.state_ttl_hours
    error_message = "state_ttl_hours must be a whole number of at least 1."
  }
}

###############################################################################
# S3 and Firehose archives
###############################################################################

variable "archive_transition_days" {
  type        = number
  description = "Days after which archived objects (raw, anomalies, dead letters) move to archive_transition_storage_class."
  default     = 30

  validation {
    condition     = var.archive_transition_days >= 30 && floor(var.archive_transition_days) == var.archive_transition_days
    error_message = "archive_transition_days must be a whole number of at least 30 (S3's minimum before STANDARD_IA)."
  }
}

variable "archive_transition_storage_class" {
  type        = string
  description = "Storage class archives move to after archive_transition_days."
  default     = "STANDARD_IA"

  validation {
    condition     = contains(["STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"], var.archive_transition_storage_class)
    error_message = "archive_transition_storage_class must be one of STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, GLACIER_IR, GLACIER, DEEP_ARCHIVE."
  }
}

variable "archive_expiration_days" {
  type        = number
  description = "Days after which archived objects are deleted. Must be later than archive_transition_days."
  default     = 365

  validation {
    condition     = var.archive_expiration_days > var.archive_transition_days && floor(var.archive_expiration_days) == var.archive_expiration_days
    error_message = "archive_expiration_days must be a whole number greater than archive_transition_days."
  }
}

variable "noncurrent_version_expiration_days" {
  type        = number
  description = "Days a replaced or deleted object version is kept in the versioned buckets before it is removed."
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1 && floor(var.noncurrent_version_expiration_days) == var.noncurrent_version_expiration_days
    error_message = "noncurrent_version_expiration_days must be a whole number of at least 1."
  }
}

variable "artifact_versions_kept" {
  type        = number
  description = "Previous versions of an artifact (same key) kept beyond noncurrent_version_expiration_days, for rollback. 0 = no minimum."
  default     = 5

  validation {
    condition     = var.artifact_versions_kept >= 0 && var.artifact_versions_kept <= 100 && floor(var.artifact_versions_kept) == var.artifact_versions_kept
    error_message = "artifact_versions_kept must be a whole number from 0 to 100."
  }
}

variable "access_log_retention_days" {
  type        = number
  description = "Days S3 server access logs are kept."
  default     = 90

  validation {
    condition     = var.access_log_retention_days >= 1 && floor(var.access_log_retention_days) == var.access_log_retention_days
    error_message = "access_log_retention_days must be a whole number of at least 1."
  }
}

variable "force_destroy_buckets" {
  type        = bool
  description = "Allow `terraform destroy` to delete buckets that still hold objects (archives!). Keep false outside throw-away stacks."
  default     = false
}

variable "firehose_buffering_interval_seconds" {
  type        = number
  description = "Firehose flushes to S3 after this many seconds (0-900) or firehose_buffering_size_mb, whichever comes first."
  default     = 300

  validation {
    condition     = var.firehose_buffering_interval_seconds >= 0 && var.firehose_buffering_interval_seconds <= 900
    error_message = "firehose_buffering_interval_seconds must be from 0 to 900."
  }
}

variable "firehose_buffering_size_mb" {
  type        = number
  description = "Firehose flushes to S3 after this many MiB (1-128) or firehose_buffering_interval_seconds, whichever comes first."
  default     = 5

  validation {
    condition     = var.firehose_buffering_size_mb >= 1 && var.firehose_buffering_size_mb <= 128
    error_message = "firehose_buffering_size_mb must be from 1 to 128."
  }
}

###############################################################################
# Lambda alerter
###############################################################################

variable "enable_alerter" {
  type        = bool
  description = "Create the alerter Lambda and its event source mapping. Only turned off where Lambda is unavailable."
  default     = true
}

variable "alerter_zip_path" {
  type        = string
  description = "Path of the alerter deployment zip written by `packager build`; null means <repo>/target/packager/alerter.zip."
  default     = null
  nullable    = true
}

variable "alerter_log_level" {
  type        = string
  description = "RUST_LOG for the alerter (a tracing filter such as info or alerter=debug,info)."
  default     = "info"

  validation {
    condition     = length(var.alerter_log_level) > 0
    error_message = "alerter_log_level must not be empty."
  }
}

variable "alerter_memory_mb" {
  type        = number
  description = "Alerter memory in MB (also scales its CPU share)."
  default     = 256

  validation {
    condition     = var.alerter_memory_mb >= 128 && var.alerter_memory_mb <= 10240
    error_message = "alerter_memory_mb must be from 128 to 10240."
  }
}

variable "alerter_timeout_seconds" {
  type        = number
  description = "Alerter timeout per batch, in seconds."
  default     = 30

  validation {
    condition     = var.alerter_timeout_seconds >= 1 && var.alerter_timeout_seconds <= 900
    error_message = "alerter_timeout_seconds must be from 1 to 900."
  }
}

variable "alerter_reserved_concurrency" {
  type        = number
  description = "Concurrency reserved for the alerter; it bounds both cost and the SNS publish rate. -1 leaves it unreserved (needed on new accounts whose total concurrency quota is 10)."
  default     = 5

  validation {
    condition     = var.alerter_reserved_concurrency == -1 || (var.alerter_reserved_concurrency >= 1 && floor(var.alerter_reserved_concurrency) == var.alerter_reserved_concurrency)
    error_message = "alerter_reserved_concurrency must be -1 (unreserved) or a whole number of at least 1."
  }
}

variable "alerter_batch_size" {
  type        = number
  description = "Anomaly records handed to one alerter invocation (1-10000)."
  default     = 100

  validation {
    condition     = var.alerter_batch_size >= 1 && var.alerter_batch_size <= 10000
    error_message = "alerter_batch_size must be from 1 to 10000."
  }
}

variable "alerter_maximum_retry_attempts" {
  type        = number
  description = "Retries of a failing batch (after bisecting) before its records go to the on-failure queue (0-10000)."
  default     = 3

  validation {
    condition     = var.alerter_maximum_retry_attempts >= 0 && var.alerter_maximum_retry_attempts <= 10000
    error_message = "alerter_maximum_retry_attempts must be from 0 to 10000 (a bounded number: -1 would retry forever and block the shard)."
  }
}

variable "alerter_maximum_record_age_seconds" {
  type        = number
  description = "Anomaly records older than this are parked in the archive bucket (with their payload) instead of being retried (60-604800, and at most kinesis_retention_hours)."
  default     = 3600

  validation {
    condition     = var.alerter_maximum_record_age_seconds >= 60 && var.alerter_maximum_record_age_seconds <= 604800
    error_message = "alerter_maximum_record_age_seconds must be from 60 to 604800 (a bounded age: -1 would keep retrying until the record expires from the stream)."
  }

  # A record still being retried when the stream expires it is gone without a trace.
  validation {
    condition     = var.alerter_maximum_record_age_seconds <= var.kinesis_retention_hours * 3600
    error_message = "alerter_maximum_record_age_seconds must not exceed kinesis_retention_hours (in seconds): the stream would expire records the alerter is still retrying. Lower it or raise kinesis_retention_hours."
  }
}

###############################################################################
# Notifications, logs, alarms
###############################################################################

variable "notification_email" {
  type        = string
  description = "Email address subscribed to the alert topic (one message per anomaly; AWS sends a confirmation mail first). null = no subscription. Also gets the operations topic's alarms unless operations_email is set."
  default     = null
  nullable    = true

  validation {
    condition     = var.notification_email == null || can(regex("^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}$", var.notification_email))
    error_message = "notification_email must be a valid email address such as oncall@example.com, or null."
  }
}

variable "operations_email" {
  type        = string
  description = "Email address subscribed to the operations topic, which every CloudWatch alarm notifies (not the alert topic, whose subscribers get anomalies only). null = notification_email; both null = no subscription."
  default     = null
  nullable    = true

  validation {
    condition     = var.operations_email == null || can(regex("^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}$", var.operations_email))
    error_message = "operations_email must be a valid email address such as platform-oncall@example.com, or null."
  }
}

variable "cloudwatch_log_retention_days" {
  type        = number
  description = "Retention of every log group this stack creates, in days (a value CloudWatch Logs accepts)."
  default     = 14

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.cloudwatch_log_retention_days)
    error_message = "cloudwatch_log_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "anomaly_spike_threshold" {
  type        = number
  description = "Alarm when more than this many anomalies are counted in 5 minutes (AnomalyDetection/AnomalyCount)."
  default     = 50

  validation {
    condition     = var.anomaly_spike_threshold >= 0
    error_message = "anomaly_spike_threshold must be 0 or more."
  }
}

variable "iterator_age_alarm_threshold_ms" {
  type        = number
  description = "Alarm when the input stream's oldest unread record is older than this (ms) for 5 minutes: the job is falling behind."
  default     = 60000

  validation {
    condition     = var.iterator_age_alarm_threshold_ms >= 1000
    error_message = "iterator_age_alarm_threshold_ms must be at least 1000."
  }
}

variable "alerter_iterator_age_alarm_threshold_ms" {
  type        = number
  description = "Alarm when the alerter reads anomalies older than this (ms) for 5 minutes: alerts are late, and records it keeps failing on head for the parking bucket after alerter_maximum_record_age_seconds."
  default     = 300000

  validation {
    condition     = var.alerter_iterator_age_alarm_threshold_ms >= 1000
    error_message = "alerter_iterator_age_alarm_threshold_ms must be at least 1000."
  }
}

variable "dead_letter_alarm_threshold" {
  type        = number
  description = "Alarm when more than this many records reach the dead-letter stream in 5 minutes (records the kernel refused or failed on; each is archived under dead-letters/ with its reason)."
  default     = 0

  validation {
    condition     = var.dead_letter_alarm_threshold >= 0 && floor(var.dead_letter_alarm_threshold) == var.dead_letter_alarm_threshold
    error_message = "dead_letter_alarm_threshold must be a whole number of 0 or more."
  }
}

###############################################################################
# KMS
###############################################################################

variable "kms_key_deletion_window_days" {
  type        = number
  description = "Waiting period before the stack's KMS key is deleted after destroy (7-30 days). Data encrypted with it is unreadable after that."
  default     = 30

  validation {
    condition     = var.kms_key_deletion_window_days >= 7 && var.kms_key_deletion_window_days <= 30
    error_message = "kms_key_deletion_window_days must be from 7 to 30."
  }
}

###############################################################################
# Optional VPC placement
###############################################################################

variable "vpc_subnet_ids" {
  type        = list(string)
  description = "Private subnets for the Flink application and the alerter. Empty (default) = no VPC placement. They need a route to Kinesis, S3, SNS, SQS, CloudWatch and KMS (NAT or VPC endpoints)."
  default     = []

  validation {
    condition     = alltrue([for id in var.vpc_subnet_ids : can(regex("^subnet-[0-9a-f]+$", id))])
    error_message = "vpc_subnet_ids must contain subnet ids like subnet-0123abcd."
  }
}

variable "vpc_security_group_ids" {
  type        = list(string)
  description = "Security groups for the Flink application and the alerter when vpc_subnet_ids is set (needs outbound HTTPS)."
  default     = []

  validation {
    condition     = alltrue([for id in var.vpc_security_group_ids : can(regex("^sg-[0-9a-f]+$", id))])
    error_message = "vpc_security_group_ids must contain security group ids like sg-0123abcd."
  }

  validation {
    condition     = (length(var.vpc_subnet_ids) == 0) == (length(var.vpc_security_group_ids) == 0)
    error_message = "Set vpc_subnet_ids and vpc_security_group_ids together (both empty = no VPC placement)."
  }
}

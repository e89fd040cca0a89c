# One owner per setting of the Flink application. Terraform creates it; after that
# `packager deploy` owns the code, the runtime property groups, parallelism and
# checkpointing, and takes its defaults for them from output flink_deploy_defaults.
# So a `terraform apply` after a deploy must plan no change to any of them, even
# when the variables behind them changed: otherwise every apply would silently
# revert what deploy wrote and restart the job (and roll the code back to the first jar).

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

run "create" {
  command = apply

  assert {
    condition     = jsonencode(output.flink_property_groups) == jsonencode(output.flink_deploy_defaults.property_groups)
    error_message = "At creation the application must get exactly the property groups deploy will write by default."
  }

  assert {
    condition = (
      output.flink_deploy_defaults.parallelism == var.flink_parallelism &&
      output.flink_deploy_defaults.parallelism_per_kpu == var.flink_parallelism_per_kpu &&
      output.flink_deploy_defaults.auto_scaling == var.flink_autoscaling_enabled &&
      output.flink_deploy_defaults.checkpoint_interval_ms == var.flink_checkpoint_interval_ms
    )
    error_message = "flink_deploy_defaults must carry the parallelism and checkpointing variables."
  }
}

run "apply_after_deploy_changes_nothing_deploy_owns" {
  command = plan

  # Every variable behind a setting deploy owns, changed.
  variables {
    anomaly_threshold_multiplier = 4.5
    detector                     = "ewma"
    min_events                   = 25
    detector_properties          = { velocity = "false" }
    state_ttl_hours              = 48
    flink_source_init_position   = "LATEST"
    flink_parallelism            = 6
    flink_parallelism_per_kpu    = 2
    flink_autoscaling_enabled    = true
    flink_checkpoint_interval_ms = 30000
  }

  assert {
    condition     = jsonencode(output.flink_property_groups) == jsonencode(run.create.flink_property_groups)
    error_message = "terraform apply must not plan a change to the runtime property groups once the application exists: packager deploy owns them."
  }

  assert {
    condition = (
      aws_kinesisanalyticsv2_application.detector[0].application_configuration[0].flink_application_configuration[0].parallelism_configuration[0].parallelism == 2 &&
      aws_kinesisanalyticsv2_application.detector[0].application_configuration[0].flink_application_configuration[0].parallelism_configuration[0].parallelism_per_kpu == 1 &&
      aws_kinesisanalyticsv2_application.detector[0].application_configuration[0].flink_application_configuration[0].parallelism_configuration[0].auto_scaling_enabled == false &&
      aws_kinesisanalyticsv2_application.detector[0].application_configuration[0].flink_application_configuration[0].checkpoint_configuration[0].checkpoint_interval == 60000
    )
    error_message = "terraform apply must not plan a change to parallelism or checkpointing once the application exists: packager deploy owns them."
  }

  assert {
    condition = (
      output.flink_deploy_defaults.property_groups.detector["threshold_multiplier"] == "4.5" &&
      output.flink_deploy_defaults.property_groups.detector["detector"] == "ewma" &&
      output.flink_deploy_defaults.property_groups.detector["velocity"] == "false" &&
      output.flink_deploy_defaults.property_groups.source["source.init.position"] == "LATEST" &&
      output.flink_deploy_defaults.property_groups.job["state_ttl_hours"] == "48" &&
      output.flink_deploy_defaults.parallelism == 6 &&
      output.flink_deploy_defaults.checkpoint_interval_ms == 30000
    )
    error_message = "The changed variables must reach packager deploy through flink_deploy_defaults: the variables still decide, deploy applies them."
  }
}

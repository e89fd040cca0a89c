//! The plan: what deploy will upload, create or change, decided from what exists. `--dry-run` prints it and stops.

use super::error::DeployError;
use super::flink::{AppState, CodeLocation, Groups, LogStreamChange, Update};
use super::settings::{Settings, StateKey};
use crate::flink_version::FlinkVersion;
use serde::Serialize;

/// One difference between the application and what deploy wants.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub what: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// What happens to the application.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum AppAction {
    Create,
    Update {
        version_id: i64,
        status: String,
        changes: Vec<Change>,
        restore_from_latest_snapshot: bool,
        /// The id of the application's logging option, which a change of log stream updates (none: one is added).
        #[serde(skip)]
        log_stream_id: Option<String>,
    },
    Unchanged {
        version_id: i64,
        status: String,
    },
}

/// Everything deploy will do, in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub application: String,
    pub jar: String,
    pub jar_sha256: String,
    pub jar_bytes: usize,
    pub s3_uri: String,
    pub upload: bool,
    #[serde(flatten)]
    pub app: AppAction,
    pub start: bool,
    /// The status deploy waits for.
    pub target_status: String,
    /// The Managed Flink runtime the jar is built for (and a new application gets).
    pub runtime: String,
}

/// The name of a log stream change in a plan.
const LOG_STREAM: &str = "cloudwatch_log_stream";
/// The name of a change of the key the application's state is encrypted with.
const STATE_KEY: &str = "state_kms_key";
/// The name of a runtime change (an in-place version upgrade) in a plan.
const RUNTIME_CHANGE: &str = "runtime";

/// Statuses in which an update is accepted.
const UPDATABLE: [&str; 2] = ["READY", "RUNNING"];

/// Decides the plan, or says why deploy cannot go on (wrong runtime, no role for a create, a status that forbids it).
pub fn decide(
    settings: &Settings,
    jar: (&str, &str, usize),
    code: &CodeLocation,
    object_exists: bool,
    current: Option<&AppState>,
) -> Result<Plan, DeployError> {
    let (jar_path, sha256, size) = jar;
    let name = &settings.application_name;
    let (app, start, target) = match current {
        None => {
            if settings.service_role_arn.is_none() {
                return Err(DeployError::RoleMissing { application: name.clone() });
            }
            (AppAction::Create, settings.start, if settings.start { "RUNNING" } else { "READY" })
        }
        Some(state) => {
            if state.runtime != settings.runtime && !(settings.upgrade_runtime && upgradable(&state.runtime, &settings.runtime)) {
                return Err(wrong_runtime(name, &state.runtime, &settings.runtime, settings.upgrade_runtime));
            }
            let running = state.status == "RUNNING";
            let changes = changes(settings, code, state);
            if !changes.is_empty() && !UPDATABLE.contains(&state.status.as_str()) {
                return Err(DeployError::State {
                    application: name.clone(),
                    status: state.status.clone(),
                    action: "an update",
                    help: "wait until it is READY or RUNNING (stop it in the console if it is stuck) and run the deploy again",
                });
            }
            let start = settings.start && !running;
            if start && state.status != "READY" {
                return Err(DeployError::State {
                    application: name.clone(),
                    status: state.status.clone(),
                    action: "a start",
                    help: "only a READY application can be started; wait for it to settle and run the deploy again",
                });
            }
            let target = if running || start { "RUNNING" } else { "READY" };
            let app = if changes.is_empty() {
                AppAction::Unchanged { version_id: state.version_id, status: state.status.clone() }
            } else {
                AppAction::Update {
                    version_id: state.version_id,
                    status: state.status.clone(),
                    changes,
                    restore_from_latest_snapshot: running,
                    log_stream_id: state.log_stream.as_ref().and_then(|l| l.id.clone()),
                }
            };
            (app, start, target)
        }
    };
    Ok(Plan {
        application: name.clone(),
        jar: jar_path.into(),
        jar_sha256: sha256.into(),
        jar_bytes: size,
        s3_uri: format!("s3://{}/{}", settings.bucket, code.key),
        upload: !object_exists,
        app,
        start,
        target_status: target.into(),
        runtime: settings.runtime.clone(),
    })
}

/// The one in-place runtime change deploy makes: FLINK-1_20 to FLINK-2_2, whose state the 2.2 job restores (tested in
/// job-template's UpgradeTest); the service allows no way back but RollbackApplication.
fn upgradable(from: &str, to: &str) -> bool {
    from == FlinkVersion::V1_20.runtime() && to == FlinkVersion::V2_2.runtime()
}

/// Why an application on `found` cannot take a jar built for `jar`, and the ways out.
fn wrong_runtime(application: &str, found: &str, jar: &str, asked_upgrade: bool) -> DeployError {
    let rebuild = FlinkVersion::from_runtime(found)
        .map(|v| format!("deploy a jar built for {found} (`packager build --flink-version {v}`)"))
        .unwrap_or_else(|| format!("packager builds for FLINK-2_2 and FLINK-1_20 only, not {found}: deploy to a new --application-name"));
    let help = if upgradable(found, jar) {
        format!(
            "{rebuild}, or upgrade the application in place with `packager deploy --upgrade-runtime`: {found} → {jar} restores the latest \
             snapshot, so every key keeps its baseline (one-way; RollbackApplication returns to {found} and its last {found} snapshot)"
        )
    } else if upgradable(jar, found) {
        format!("{rebuild}; an application cannot move from {found} back to {jar} (RollbackApplication undoes a recent upgrade only)")
    } else if asked_upgrade {
        format!("{rebuild}; --upgrade-runtime moves FLINK-1_20 applications to FLINK-2_2 only")
    } else {
        rebuild
    };
    DeployError::WrongRuntime { application: application.into(), found: found.into(), jar: jar.into(), help }
}

/// The differences between `state` and what `settings` and `code` ask for.
pub fn changes(settings: &Settings, code: &CodeLocation, state: &AppState) -> Vec<Change> {
    let mut out = Vec::new();
    let mut diff = |what: String, from: Option<String>, to: Option<String>| {
        if from != to {
            out.push(Change { what, from, to });
        }
    };
    // Only an upgrade decide() allowed gets here with another runtime.
    diff(RUNTIME_CHANGE.into(), Some(state.runtime.clone()), Some(settings.runtime.clone()));
    // A jar still to be uploaded has no version yet: any deployed version differs from it.
    diff("code".into(), state.code.as_ref().map(ToString::to_string), Some(code.to_string()));
    diff_groups(&state.property_groups, &settings.property_groups, &mut diff);
    diff("parallelism".into(), state.parallelism.map(|p| p.to_string()), Some(settings.parallelism.to_string()));
    diff("parallelism_per_kpu".into(), state.parallelism_per_kpu.map(|p| p.to_string()), Some(settings.parallelism_per_kpu.to_string()));
    diff("auto_scaling".into(), state.auto_scaling.map(|p| p.to_string()), Some(settings.auto_scaling.to_string()));
    diff("checkpointing".into(), state.checkpointing.map(|p| p.to_string()), Some("true".into()));
    diff(
        "checkpoint_interval_ms".into(),
        state.checkpoint_interval_ms.map(|p| p.to_string()),
        Some(settings.checkpoint_interval_ms.to_string()),
    );
    // No key asked for leaves the state's encryption as it is; an application that describes none uses the service's.
    if let Some(key) = &settings.state_key {
        let now = state.state_key.clone().unwrap_or(StateKey::AwsOwned);
        diff(STATE_KEY.into(), Some(now.to_string()), Some(key.to_string()));
    }
    // No log stream asked for leaves the application's logging as it is.
    if let Some(arn) = &settings.log_stream_arn {
        diff(LOG_STREAM.into(), state.log_stream.as_ref().map(|l| l.arn.clone()), Some(arn.clone()));
    }
    out
}

fn diff_groups(current: &Groups, wanted: &Groups, diff: &mut impl FnMut(String, Option<String>, Option<String>)) {
    let ids: std::collections::BTreeSet<&String> = current.keys().chain(wanted.keys()).collect();
    for id in ids {
        let empty = Default::default();
        let (now, want) = (current.get(id).unwrap_or(&empty), wanted.get(id).unwrap_or(&empty));
        let keys: std::collections::BTreeSet<&String> = now.keys().chain(want.keys()).collect();
        for key in keys {
            diff(format!("{id}.{key}"), now.get(key).cloned(), want.get(key).cloned());
        }
    }
}

impl Plan {
    /// The plan again, after the application changed under this one (a ConcurrentModificationException): decided
    /// afresh from `now`, the application as it is after the other change. Refused when the other change touched what
    /// this plan changes, or something the new plan would undo: deploying then would silently overwrite it.
    pub fn replan(&self, settings: &Settings, code: &CodeLocation, now: &AppState) -> Result<Plan, DeployError> {
        let again = decide(settings, (&self.jar, &self.jar_sha256, self.jar_bytes), code, !self.upload, Some(now))?;
        let (before, after) = (self.changes(), again.changes());
        // What each setting was when this plan was made: a changed one's `from`, an unchanged one's wanted value.
        let was = |c: &Change| before.iter().find(|b| b.what == c.what).map_or_else(|| c.to.clone(), |b| b.from.clone());
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
        let overlap: Vec<String> = after
            .iter()
            .filter(|c| was(c) != c.from)
            .map(|c| format!("{} was {}, is now {}, this deploy wants {}", c.what, show(&was(c)), show(&c.from), show(&c.to)))
            .collect();
        if !overlap.is_empty() {
            return Err(DeployError::ConcurrentChange { application: self.application.clone(), changes: overlap.join("; ") });
        }
        Ok(again)
    }

    /// What this plan changes in the application (nothing unless it updates it).
    fn changes(&self) -> &[Change] {
        match &self.app {
            AppAction::Update { changes, .. } => changes,
            _ => &[],
        }
    }

    /// The status the application settles in after this plan's update: RUNNING when it was running.
    pub fn settles_in(&self) -> &'static str {
        match &self.app {
            AppAction::Update { restore_from_latest_snapshot: true, .. } => "RUNNING",
            AppAction::Unchanged { status, .. } if status == "RUNNING" => "RUNNING",
            _ => "READY",
        }
    }

    /// The update call for this plan's changes (only what differs is sent, so an unchanged part is never touched).
    pub fn update(&self, settings: &Settings, code: &CodeLocation) -> Option<Update> {
        let AppAction::Update { changes, restore_from_latest_snapshot, log_stream_id, .. } = &self.app else { return None };
        let any = |prefix: &str| changes.iter().any(|c| c.what.starts_with(prefix));
        let group_changed = changes.iter().any(|c| c.what.contains('.'));
        Some(Update {
            code: any("code").then(|| code.clone()),
            property_groups: group_changed.then(|| settings.property_groups.clone()),
            parallelism: any("parallelism") || any("auto_scaling"),
            checkpointing: any("checkpoint"),
            restore_from_latest_snapshot: *restore_from_latest_snapshot,
            runtime: changes.iter().find(|c| c.what == RUNTIME_CHANGE).and_then(|c| c.to.clone()),
            state_key: settings.state_key.clone().filter(|_| any(STATE_KEY)),
            log_stream: settings.log_stream_arn.clone().filter(|_| any(LOG_STREAM)).map(|arn| match log_stream_id {
                Some(id) => LogStreamChange::Replace { id: id.clone(), arn },
                None => LogStreamChange::Add { arn },
            }),
        })
    }

    /// The plan for people, one step per line.
    pub fn to_text(&self, dry_run: bool) -> String {
        let mut s = String::new();
        let head = if dry_run { "dry run, nothing changed: " } else { "" };
        s.push_str(&format!("{head}plan for Managed Flink application `{}`\n", self.application));
        s.push_str(&format!("  jar      {} ({} bytes, sha256 {})\n", self.jar, self.jar_bytes, self.jar_sha256));
        if self.upload {
            s.push_str(&format!("  upload   {}\n", self.s3_uri));
        } else {
            s.push_str(&format!("  skip     {} already holds these bytes\n", self.s3_uri));
        }
        match &self.app {
            AppAction::Create => s.push_str(&format!("  create   {} ({})\n", self.application, self.runtime)),
            AppAction::Unchanged { version_id, status } => {
                s.push_str(&format!("  keep     {} version {version_id} ({status}): nothing to change\n", self.application))
            }
            AppAction::Update { version_id, status, changes, restore_from_latest_snapshot, .. } => {
                let restore = if *restore_from_latest_snapshot { ", restarts from its latest snapshot" } else { "" };
                s.push_str(&format!("  update   {} version {version_id} ({status}{restore}):\n", self.application));
                for c in changes {
                    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
                    s.push_str(&format!("             {}: {} → {}\n", c.what, show(&c.from), show(&c.to)));
                }
            }
        }
        if self.start {
            s.push_str(&format!("  start    {}\n", self.application));
        }
        s.push_str(&format!("  wait     until {}\n", self.target_status));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FileConfig;
    use crate::deploy::settings::DeployArgs;

    pub(crate) fn settings() -> Settings {
        DeployArgs {
            application_name: Some("app".into()),
            bucket: Some("bucket".into()),
            service_role_arn: Some("arn:aws:iam::1:role/r".into()),
            source_stream_arn: Some("arn:aws:kinesis:us-east-1:1:stream/in".into()),
            anomalies_stream_arn: Some("arn:aws:kinesis:us-east-1:1:stream/out".into()),
            dead_letters_stream_arn: Some("arn:aws:kinesis:us-east-1:1:stream/dl".into()),
            ..Default::default()
        }
        .resolve(&FileConfig::default())
        .unwrap()
    }

    fn code() -> CodeLocation {
        CodeLocation { bucket_arn: "arn:aws:s3:::bucket".into(), key: "flink/anomaly-detector-abc.jar".into(), object_version: None }
    }

    fn deployed(s: &Settings, status: &str) -> AppState {
        AppState {
            status: status.into(),
            version_id: 7,
            runtime: s.runtime.clone(),
            code: Some(code()),
            property_groups: s.property_groups.clone(),
            parallelism: Some(1),
            parallelism_per_kpu: Some(1),
            auto_scaling: Some(false),
            checkpointing: Some(true),
            checkpoint_interval_ms: Some(60_000),
            log_stream: None,
            state_key: None,
        }
    }

    #[test]
    fn an_identical_deployment_changes_nothing() {
        let s = settings();
        let plan = decide(&s, ("a.jar", "abc", 10), &code(), true, Some(&deployed(&s, "RUNNING"))).unwrap();
        assert_eq!(plan.app, AppAction::Unchanged { version_id: 7, status: "RUNNING".into() });
        assert!(!plan.upload);
        assert!(plan.to_text(true).contains("nothing to change"));
    }

    #[test]
    fn a_new_jar_and_threshold_on_a_running_app_update_both_and_restore_the_snapshot() {
        let mut s = settings();
        s.property_groups.get_mut("detector").unwrap().insert("threshold_multiplier".into(), "4".into());
        let new_code = CodeLocation { key: "flink/anomaly-detector-def.jar".into(), ..code() };
        let plan = decide(&s, ("a.jar", "def", 10), &new_code, false, Some(&deployed(&settings(), "RUNNING"))).unwrap();
        let AppAction::Update { changes, restore_from_latest_snapshot, .. } = &plan.app else { panic!("{plan:?}") };
        assert!(restore_from_latest_snapshot);
        let what: Vec<&str> = changes.iter().map(|c| c.what.as_str()).collect();
        assert_eq!(what, ["code", "detector.threshold_multiplier"]);
        let text = plan.to_text(true);
        assert!(text.contains("detector.threshold_multiplier: 3.0 → 4"), "{text}");
        assert!(text.contains("upload   s3://bucket/flink/anomaly-detector-def.jar"), "{text}");
        let update = plan.update(&s, &new_code).unwrap();
        assert!(update.code.is_some() && update.property_groups.is_some() && !update.parallelism && !update.checkpointing);
    }

    #[test]
    fn an_application_on_the_right_key_is_pinned_to_the_object_version_that_holds_the_jar() {
        let s = settings();
        let pinned = CodeLocation { object_version: Some("v1".into()), ..code() };
        // Deployed before the pin (same key, no version): the update pins it, and sends that version.
        let plan = decide(&s, ("a.jar", "abc", 10), &pinned, true, Some(&deployed(&s, "RUNNING"))).unwrap();
        let AppAction::Update { changes, .. } = &plan.app else { panic!("{plan:?}") };
        assert_eq!(changes[0].to.as_deref(), Some("arn:aws:s3:::bucket/flink/anomaly-detector-abc.jar version v1"));
        assert_eq!(plan.update(&s, &pinned).unwrap().code.unwrap().object_version.as_deref(), Some("v1"));
        // Already pinned to it: nothing to change.
        let state = AppState { code: Some(pinned.clone()), ..deployed(&s, "RUNNING") };
        assert!(matches!(decide(&s, ("a.jar", "abc", 10), &pinned, true, Some(&state)).unwrap().app, AppAction::Unchanged { .. }));
    }

    #[test]
    fn missing_role_wrong_runtime_and_busy_status_are_refused() {
        let mut s = settings();
        s.service_role_arn = None;
        assert!(matches!(decide(&s, ("a", "b", 1), &code(), false, None), Err(DeployError::RoleMissing { .. })));
        let s = settings();
        let old = AppState { runtime: "FLINK-1_15".into(), ..deployed(&s, "READY") };
        let err = decide(&s, ("a", "b", 1), &code(), false, Some(&old)).unwrap_err();
        assert_eq!(err.to_string(), "application `app` runs FLINK-1_15, but this jar is built for FLINK-2_2");
        let busy = AppState { code: None, ..deployed(&s, "UPDATING") };
        let err = decide(&s, ("a", "b", 1), &code(), false, Some(&busy)).unwrap_err();
        assert_eq!(err.to_string(), "application `app` is UPDATING, which does not allow an update");
    }

    fn help(err: &DeployError) -> String {
        miette::Diagnostic::help(err).unwrap().to_string()
    }

    #[test]
    fn a_jar_for_another_runtime_is_refused_with_the_rebuild_and_the_upgrade() {
        let s = settings();
        let on_1_20 = AppState { runtime: "FLINK-1_20".into(), ..deployed(&s, "RUNNING") };
        let err = decide(&s, ("a", "b", 1), &code(), false, Some(&on_1_20)).unwrap_err();
        assert_eq!(err.to_string(), "application `app` runs FLINK-1_20, but this jar is built for FLINK-2_2");
        assert!(help(&err).contains("packager build --flink-version 1.20") && help(&err).contains("--upgrade-runtime"), "{}", help(&err));

        let old_jar = Settings { runtime: "FLINK-1_20".into(), ..settings() };
        let on_2_2 = deployed(&s, "RUNNING");
        let err = decide(&old_jar, ("a", "b", 1), &code(), false, Some(&on_2_2)).unwrap_err();
        assert!(help(&err).contains("--flink-version 2.2") && help(&err).contains("cannot move from FLINK-2_2 back"), "{}", help(&err));
        let err = decide(&Settings { upgrade_runtime: true, ..old_jar }, ("a", "b", 1), &code(), false, Some(&on_2_2)).unwrap_err();
        assert!(matches!(err, DeployError::WrongRuntime { .. }), "--upgrade-runtime never downgrades: {err}");
    }

    #[test]
    fn upgrade_runtime_moves_a_running_1_20_application_to_2_2_from_its_snapshot() {
        let s = Settings { upgrade_runtime: true, ..settings() };
        let on_1_20 = AppState { runtime: "FLINK-1_20".into(), ..deployed(&s, "RUNNING") };
        let new_code = CodeLocation { key: "flink/anomaly-detector-def.jar".into(), ..code() };
        let plan = decide(&s, ("a", "def", 1), &new_code, false, Some(&on_1_20)).unwrap();
        let AppAction::Update { changes, restore_from_latest_snapshot, .. } = &plan.app else { panic!("{plan:?}") };
        assert!(restore_from_latest_snapshot);
        assert_eq!(changes[0], Change { what: "runtime".into(), from: Some("FLINK-1_20".into()), to: Some("FLINK-2_2".into()) });
        let update = plan.update(&s, &new_code).unwrap();
        assert_eq!(update.runtime.as_deref(), Some("FLINK-2_2"));
        assert!(update.code.is_some() && update.needs_update_call());
        assert!(plan.to_text(true).contains("runtime: FLINK-1_20 → FLINK-2_2"), "{}", plan.to_text(true));
        // Already there: nothing to upgrade.
        let same = decide(&s, ("a", "abc", 1), &code(), true, Some(&deployed(&s, "RUNNING"))).unwrap();
        assert!(matches!(same.app, AppAction::Unchanged { .. }), "{same:?}");
    }

    #[test]
    fn a_new_application_gets_the_jars_runtime() {
        let s = Settings { runtime: "FLINK-1_20".into(), ..settings() };
        let plan = decide(&s, ("a", "b", 1), &code(), true, None).unwrap();
        assert!(plan.to_text(true).contains("create   app (FLINK-1_20)"), "{}", plan.to_text(true));
    }

    #[test]
    fn start_goes_for_running_and_only_from_ready() {
        let mut s = settings();
        s.start = true;
        let plan = decide(&s, ("a", "b", 1), &code(), true, Some(&deployed(&s, "READY"))).unwrap();
        assert!(plan.start);
        assert_eq!(plan.target_status, "RUNNING");
        let plan = decide(&s, ("a", "b", 1), &code(), true, None).unwrap();
        assert_eq!((plan.app.clone(), plan.start), (AppAction::Create, true));
        let err = decide(&s, ("a", "b", 1), &code(), true, Some(&deployed(&s, "STOPPING"))).unwrap_err();
        assert!(err.to_string().contains("does not allow a start"), "{err}");
    }

    #[test]
    fn a_log_stream_is_replaced_when_different_added_when_missing_and_left_alone_when_not_asked_for() {
        use crate::deploy::flink::LogStream;
        let arn = "arn:aws:logs:us-east-1:1:log-group:flink:log-stream:new";
        let mut s = settings();
        let logging = AppState {
            log_stream: Some(LogStream { id: Some("1.1".into()), arn: "arn:aws:logs:us-east-1:1:log-group:flink:log-stream:old".into() }),
            ..deployed(&s, "RUNNING")
        };
        let plan = decide(&s, ("a", "abc", 1), &code(), true, Some(&logging)).unwrap();
        assert!(matches!(plan.app, AppAction::Unchanged { .. }), "no --log-stream-arn leaves the logging as it is: {plan:?}");

        s.log_stream_arn = Some(arn.into());
        let plan = decide(&s, ("a", "abc", 1), &code(), true, Some(&logging)).unwrap();
        let AppAction::Update { changes, .. } = &plan.app else { panic!("{plan:?}") };
        assert_eq!(
            changes,
            &[Change {
                what: "cloudwatch_log_stream".into(),
                from: Some("arn:aws:logs:us-east-1:1:log-group:flink:log-stream:old".into()),
                to: Some(arn.into())
            }]
        );
        let update = plan.update(&s, &code()).unwrap();
        assert_eq!(update.log_stream, Some(LogStreamChange::Replace { id: "1.1".into(), arn: arn.into() }));
        assert!(update.needs_update_call() && update.log_stream_to_add().is_none() && update.code.is_none());

        let plan = decide(&s, ("a", "abc", 1), &code(), true, Some(&deployed(&s, "READY"))).unwrap();
        assert!(plan.to_text(true).contains(&format!("cloudwatch_log_stream: (none) → {arn}")), "{}", plan.to_text(true));
        let update = plan.update(&s, &code()).unwrap();
        assert_eq!(update.log_stream_to_add(), Some(arn));
        assert!(!update.needs_update_call(), "adding a log stream is a call of its own");

        let same = AppState { log_stream: Some(LogStream { id: Some("1.1".into()), arn: arn.into() }), ..deployed(&s, "READY") };
        assert!(matches!(decide(&s, ("a", "abc", 1), &code(), true, Some(&same)).unwrap().app, AppAction::Unchanged { .. }));
    }
}

#!/usr/bin/env bash
# Scores the detector on the Numenta Anomaly Benchmark with NAB's own scorer.
#
#   benchmarks/nab.sh NAB_DIR [packager run flags...]
#
# NAB_DIR is a checkout of the public numenta/NAB repository (fetch it yourself: it is never vendored here). Every
# NAB series is replayed through `packager run FILE --emit all` with the default detector configuration; only the
# event's shape is configured (key, value, time and id fields; NAB has negative values, so allow_negative). Extra
# arguments go to `packager run` (e.g. `--set detector=zscore` to score another detector). Each event's `score`
# (larger = more anomalous, our default alarm line at 3) becomes NAB's anomaly_score = score / (score + 3), a
# monotone map, so NAB's threshold optimizer sees exactly our ranking; 0.5 is our default alarm line.
# Then NAB's run.py optimizes one global threshold per profile, scores and normalizes, and a second scoring pass
# at anomaly_score 0.5 gives the score of our default alarm line. Prints the three profiles, both ways, and per
# folder, with the tuned folders (artificial*, realAWSCloudwatch, realKnownCause) and the held-out ones apart.
# Needs python3 (NAB's scorer runs in its own venv, .tools/nab-venv: pandas 1.5.3, numpy 1.26.4, simplejson);
# the NAB checkout is only read. Takes 3-5 minutes.
set -euo pipefail

nab="${1:?usage: benchmarks/nab.sh NAB_DIR [packager run flags...]}"
shift
nab="$(cd "$nab" && pwd)"
[[ -f "$nab/run.py" && -d "$nab/data" && -f "$nab/labels/combined_windows.json" ]] \
    || { echo "nab.sh: $nab is not a NAB checkout (run.py, data/, labels/combined_windows.json)" >&2; exit 2; }
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${NAB_WORK:-$repo/target/nab}"
detector=adaptive-wasm
rm -rf "$work"
mkdir -p "$work/results" "$work/events"

venv="$repo/.tools/nab-venv"
pins="pandas==1.5.3 numpy==1.26.4 simplejson==3.19.3"
if [[ ! -x "$venv/bin/python" || "$(cat "$venv/.installed" 2>/dev/null)" != "$pins" ]]; then
    echo "nab.sh: NAB scorer's Python packages into ${venv#"$repo"/}: $pins" >&2
    python3 -m venv "$venv"
    # shellcheck disable=SC2086
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $pins >&2
    echo "$pins" >"$venv/.installed"
fi

packager="${PACKAGER:-}"
if [[ -z "$packager" ]]; then
    echo "nab.sh: building packager (tests/debug-build.sh)" >&2
    packager="$("$repo/tests/debug-build.sh")/packager"
fi

echo "nab.sh: NAB series -> JSON lines -> packager run --emit all -> NAB results" >&2
"$venv/bin/python" - "$nab" "$work" "$packager" "$detector" "$@" <<'EOF'
import csv, json, math, os, subprocess, sys
from datetime import datetime, timezone
nab, work, packager, detector = sys.argv[1:5]
extra = sys.argv[5:]
windows = json.load(open(f"{nab}/labels/combined_windows.json"))
ms = lambda t: int(datetime.strptime(t[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc).timestamp() * 1000)
for name in sorted(windows):
    rows = list(csv.DictReader(open(f"{nab}/data/{name}")))
    events = f"{work}/events/{name.replace('/', '__')}.jsonl"
    with open(events, "w") as f:
        for i, r in enumerate(rows):
            f.write(json.dumps({"series": name, "value": float(r["value"]), "timestamp": ms(r["timestamp"]), "id": str(i)}) + "\n")
    out = subprocess.run(
        [packager, "run", events, "--emit", "all", "--output", "json", "--config", os.devnull,
         "--set", "key_field=series", "--set", "value_field=value", "--set", "event_id_field=id",
         "--set", "label_field=", "--set", "attribute_fields=", "--set", "allow_negative=true", *extra],
        capture_output=True, text=True, check=True)
    scores = {}
    for line in out.stdout.splitlines():
        v = json.loads(line)
        scores[v["eventId"]] = v["score"] or 0.0
    missing = len(rows) - len(scores)
    if missing:
        print(f"nab.sh: {name}: {missing} rows without a verdict (dead letters) score 0", file=sys.stderr)
    spans = [(ms(a), ms(b)) for a, b in windows[name]]
    folder, file = name.split("/")
    os.makedirs(f"{work}/results/{detector}/{folder}", exist_ok=True)
    with open(f"{work}/results/{detector}/{folder}/{detector}_{file}", "w") as f:
        f.write("timestamp,value,anomaly_score,label\n")
        for i, r in enumerate(rows):
            s = max(scores.get(str(i), 0.0), 0.0)
            t = ms(r["timestamp"])
            label = int(any(a <= t <= b for a, b in spans))
            f.write(f"{r['timestamp']},{r['value']},{s / (s + 3.0):.12f},{label}\n")
EOF

# NAB normalizes against its null detector's results; its run.py writes the thresholds it finds into a copy.
cp -r "$nab/results/null" "$work/results/null"
cp "$nab/config/thresholds.json" "$work/thresholds.json"
(cd "$nab" && "$venv/bin/python" run.py -d "$detector" --optimize --score --normalize --skipConfirmation \
    --resultsDir "$work/results" --thresholdsFile "$work/thresholds.json" -n 2 >"$work/optimized.log" 2>&1) \
    || { cat "$work/optimized.log" >&2; exit 1; }
cp -r "$work/results" "$work/results-optimized"
"$venv/bin/python" - "$work/thresholds.json" "$detector" <<'EOF'
import json, sys
path, det = sys.argv[1:3]
t = json.load(open(path))
for profile in t[det]:
    t[det][profile]["threshold"] = 0.5
json.dump(t, open(path, "w"), indent=2)
EOF
(cd "$nab" && "$venv/bin/python" run.py -d "$detector" --score --normalize --skipConfirmation \
    --resultsDir "$work/results" --thresholdsFile "$work/thresholds.json" -n 2 >"$work/default.log" 2>&1) \
    || { cat "$work/default.log" >&2; exit 1; }

"$venv/bin/python" - "$work" "$detector" "$nab" <<'EOF'
import csv, json, sys
work, det, nab = sys.argv[1:4]
windows = json.load(open(f"{nab}/labels/combined_windows.json"))
profiles = [("standard", 1.0), ("reward_low_FP_rate", 1.0), ("reward_low_FN_rate", 2.0)]
tuned = lambda folder: folder.startswith("artificial") or folder in ("realAWSCloudwatch", "realKnownCause")

def table(results, title):
    per = {}
    for profile, fn in profiles:
        rows = list(csv.DictReader(open(f"{results}/{det}/{det}_{profile}_scores.csv")))
        for r in rows:
            if r["File"] in ("", None) or r["Detector"] == "Totals":
                continue
            folder = r["File"].split("/")[0]
            per.setdefault(folder, {}).setdefault(profile, 0.0)
            per[folder][profile] += float(r["Score"])
    def norm(folders, profile, fn):
        n = sum(len(v) for k, v in windows.items() if k.split("/")[0] in folders)
        if n == 0:
            return float("nan")
        raw = sum(per[f][profile] for f in folders)
        return 100 * (raw + fn * n) / (n + fn * n)
    final = json.load(open(f"{results}/final_results.json"))[det]
    print(f"\n{title}")
    print(f"{'':28} {'standard':>9} {'low FP':>9} {'low FN':>9}")
    print(f"{'NAB (all 58 series)':28} " + " ".join(f"{final[p]:9.1f}" for p, _ in profiles))
    for name, pick in (("tuned folders", tuned), ("held-out folders", lambda f: not tuned(f))):
        folders = sorted(f for f in per if pick(f))
        print(f"{name:28} " + " ".join(f"{norm(folders, p, fn):9.1f}" for p, fn in profiles))
        for folder in folders:
            if any(k.split("/")[0] == folder and v for k, v in windows.items()):
                print(f"  {folder:26} " + " ".join(f"{norm([folder], p, fn):9.1f}" for p, fn in profiles))
            else:
                print(f"  {folder:26} " + " ".join(f"{per[folder][p]:9.2f}" for p, _ in profiles) + "   (no anomalies: raw score, 0 = no false alarm)")

table(f"{work}/results-optimized", "NAB, one global threshold per profile chosen by NAB's optimizer:")
table(f"{work}/results", "NAB at our default alarm line (score 3, anomaly_score 0.5), no optimizer:")
print("\n(per-folder rows: each folder's share of the raw score, normalized by that folder's windows; the held-out"
      " folders were never used to choose the detector's constants)")
EOF

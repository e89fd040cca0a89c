#!/usr/bin/env python3
"""Re-derives the numbers in the hand-checked golden files from first principles, independently of the kernel.

For every judged event: the baseline (mean, standard deviation, count) of what came before, the band
mean ± t·sd·sqrt(1 + 1/n) with t the Student-t quantile matching threshold_multiplier's normal tail, the signed
deviation, the score (deviation scaled so it equals threshold_multiplier at the band's edge), the status; and for
the velocity case the Poisson tail of the events in the window. Needs scipy. Exits non-zero on any mismatch.
"""
import json, math, sys
from pathlib import Path
from scipy import stats

HERE = Path(__file__).parent
K = 3.0
failures = 0


def close(a, b, what, tol=1e-9):
    global failures
    if a is None or b is None:
        ok = a is None and b is None
    else:
        ok = abs(a - b) <= tol * max(1.0, abs(b))
    if not ok:
        failures += 1
        print(f"MISMATCH {what}: golden {a} vs derived {b}")


def band_multiplier(n_eff):
    return stats.t.isf(stats.norm.sf(K), n_eff - 1) * math.sqrt(1 + 1 / n_eff)


def zscore_by_hand():
    rows = [json.loads(l) for l in open(HERE / "zscore-by-hand/expected.jsonl")]
    learned = []  # anomaly_update = skip: anomalies are not learned
    for v in rows:
        x = v["value"]
        n = len(learned)
        if n < 4:
            assert v["status"] == "warmup", v
            learned.append(x)
            continue
        mean = sum(learned) / n
        sd = math.sqrt(sum((y - mean) ** 2 for y in learned) / (n - 1))
        z = (x - mean) / sd
        m = band_multiplier(n)
        score = abs(z) * K / m  # direction = both
        close(v["baseline"]["mean"], mean, f"zscore mean before {x}")
        close(v["baseline"]["stddev"], sd, f"zscore sd before {x}")
        close(v["valueScore"], z, f"zscore z of {x}")
        close(v["expectedLow"], mean - m * sd, f"zscore low for {x}", 1e-7)
        close(v["expectedHigh"], mean + m * sd, f"zscore high for {x}", 1e-7)
        close(v["score"], score, f"zscore score of {x}", 1e-7)
        status = "anomaly" if score > K else "normal"
        assert v["status"] == status, (v, status)
        if status == "normal":
            learned.append(x)


def ewma_by_hand():
    rows = [json.loads(l) for l in open(HERE / "ewma-by-hand/expected.jsonl")]
    alpha = 0.5  # half_life_events = 1
    mean = var = 0.0
    for n, v in enumerate(rows):
        x = v["value"]
        if n >= 3:
            sd = math.sqrt(var)
            n_eff = min(n, (2 - alpha) / alpha)
            m = band_multiplier(n_eff)
            z = (x - mean) / sd
            close(v["baseline"]["mean"], mean, f"ewma mean before {x}")
            close(v["baseline"]["stddev"], sd, f"ewma sd before {x}")
            close(v["valueScore"], z, f"ewma z of {x}")
            close(v["expectedHigh"], mean + m * sd, f"ewma high for {x}", 1e-7)
            close(v["score"], z * K / m, f"ewma score of {x}", 1e-7)
            assert v["status"] == ("anomaly" if z * K / m > K else "normal"), v
        else:
            assert v["status"] == "warmup", v
        # anomaly_update = full; the first events weigh 1/(n+1) until the half-life takes over
        a = max(alpha, 1 / (n + 1))
        d = x - mean
        mean += a * d
        var = (1 - a) * (var + d * a * d)


def velocity_burst():
    rows = [json.loads(l) for l in open(HERE / "velocity-burst/expected.jsonl")]
    last = rows[-1]
    vel = last["velocity"]
    # 4 earlier events in the 300 s window; the usual pace predicts window/usual_gap of them.
    lam = 300 / vel["usualGapSecs"]
    p = stats.poisson.sf(4 - 1, lam)  # P(N >= 4)
    close(vel["expectedInWindow"], lam, "expected events in window")
    close(vel["score"], stats.norm.isf(p), "velocity score", 1e-6)
    assert vel["eventsInWindow"] == 5 and last["status"] == "anomaly" and last["trigger"] == "velocity", last
    assert all(r["status"] != "anomaly" for r in rows[:-1])


def adaptive_stream(case, key_field, value_field, tol_t):
    """Every judged event of the case, recomputed by tests/golden/adaptive.py (an independent Python implementation
    of the adaptive detector's description). `tol_t` is the tolerance on numbers that go through a Student-t
    quantile: the kernel's is exact below 60 degrees of freedom and a Cornish-Fisher expansion above (1e-4)."""
    import adaptive
    key = adaptive.Key()
    inputs = [json.loads(l) for l in open(HERE / case / "input.jsonl")]
    rows = [json.loads(l) for l in open(HERE / case / "expected.jsonl")]
    assert len(rows) == len(inputs)
    for r, v in zip(inputs, rows):
        x = r[value_field]
        out = key.step(x, r["timestamp"])
        if out is None:
            assert v["status"] == "warmup", v
            continue
        what = f"{case} {r[key_field]} {x} at {r['timestamp']}"
        assert v["status"] == out["status"], (what, v["status"], out)
        assert v.get("pattern") == out["pattern"], (what, v.get("pattern"), out["pattern"])
        close(v["score"], out["score"], f"{what}: score", tol_t)
        close(v["valueScore"], out["valueScore"], f"{what}: valueScore", tol_t)
        close(v["expectedLow"], out["expectedLow"], f"{what}: expectedLow", tol_t)
        close(v["expectedHigh"], out["expectedHigh"], f"{what}: expectedHigh", tol_t)
        close(v["baseline"]["mean"], out["mean"], f"{what}: baseline mean", 1e-9)
        close(v["baseline"]["stddev"], out["stddev"], f"{what}: baseline sd", 1e-9)
        assert v["baseline"]["scale"] == out["scale"] and v["baseline"]["count"] == out["count"], (what, v["baseline"], out)


zscore_by_hand()
ewma_by_hand()
velocity_burst()
sys.path.insert(0, str(HERE))
adaptive_stream("adaptive-money", "userId", "amount", 1e-8)
adaptive_stream("adaptive-metric", "host", "cpu", 2e-4)
if failures:
    sys.exit(f"{failures} golden values do not match their derivation")
print("golden values match their independent derivation")

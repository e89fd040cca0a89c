"""The adaptive detector written again from its description (detector-wasm/src/detector/adaptive.rs module doc and
detector-wasm/README.md), in plain Python with scipy for the Student-t quantiles, to re-derive the golden streams
`adaptive-money` and `adaptive-metric` independently of the kernel. Used by derive.py.
"""
import math
import struct
from scipy import stats

SIGNIFICANCE = 3.5        # standard deviations at the default alarm line
RECORD_MARGIN = 1.1       # a surprise must beat the record by 10 %
MATURE = 200              # events before records are used
RECORDS_FROM = 30         # events before records are kept
RANGE_TOL = 0.01          # a new extreme leaves the range by 1 % of it
NEW_RANGE_STEP = 0.1      # ... and moves the edge 10 % of the range past itself when it alarms
RECORD_HALF_LIFE = 20000
SUSTAINED_HALF_LIFE = 5
SURPRISE_CAP = 10
ERROR_HALF_LIFE = 200
LEARN_CLIP = 3
PERSISTENCE = 0.8
IRREGULAR = 0.8
GAP_HALF_LIFE = 50
PRIOR_EVENTS, PRIOR_SPREAD, PRIOR_CV, YOUNG_CV = 8, 0.6, 0.8, 0.2
BINS, BIN_VISITS, BINS_READY, BIN_RATE = 48, 3, 44, 0.3
SHIFT_RUN, SHIFT_SIGMAS, SHIFT_SPAN_GAPS = 6, 3, 2


def alpha(half_life, n):
    return max(1 - 2 ** (-1 / half_life), 1 / (n + 1))


def t_mult(df):
    return stats.t.isf(stats.norm.sf(SIGNIFICANCE), max(df, 1))


class Key:
    def __init__(self, k=3.0, min_events=3, log_transform=True, half_life=50.0, min_stddev=0.05):
        self.k, self.min_events, self.log_transform, self.half_life, self.min_stddev = k, min_events, log_transform, half_life, min_stddev
        self.n = 0
        self.gap_mean = self.gap_var = 0.0
        self.gaps = 0
        self.last_ts = None
        self.usual_gap = 0.0      # the velocity check's usual gap (seconds): mean of gaps, weight max(1/(n+1), 0.02)
        self.usual_gaps = 0
        self.nonneg = True
        self.armed = [True, True]
        self.bins = [None] * BINS
        self.visits = [0] * BINS
        self.ready = 0
        self.repeats = self.repeat_record = 0
        self.flat_reported = False

    def step(self, x, ts):
        """Judges x at ts (ms) and learns it; returns a dict like the verdict's numbers, or None in warm-up."""
        ly = math.log1p(x) if x > 0 else 0.0
        if x < 0:
            self.nonneg = False
        if self.last_ts is not None and ts > self.last_ts:
            lg = math.log((ts - self.last_ts) / 1000)
            g = alpha(GAP_HALF_LIFE, self.gaps)
            d = lg - self.gap_mean
            self.gap_mean += g * d
            self.gap_var = (1 - g) * (self.gap_var + g * d * d)
            self.gaps += 1
        if self.n == 0:
            self.level, self.var, self.llevel, self.lvar = x, 0.0, ly, 0.0
            self.last, self.low, self.high = x, x, x
            self.level_count = 1
            self.mae = [0.0, 0.0, 0.0]
            self.record = 0.0
            self.sustained, self.sustained_record = [0.0, 0.0], [0.0, 0.0]
            self.run, self.run_start = 0, 0
            self.recent, self.recent_log = [x] * 4, [ly] * 4
            self.n = 1
            self._learn_time(ts)
            return None
        b = (ts % 86_400_000) // (86_400_000 // BINS)
        seasonal = self.bins[b] if self.visits[b] >= BIN_VISITS and self.ready >= BINS_READY else None
        half = (self.high - self.low) / 2
        floor = 2e-3 * half + 1e-12
        preds = [self.level, seasonal, self.last]
        u = [abs(x - p) / max(self.mae[i], floor) if p is not None else math.inf for i, p in enumerate(preds)]
        best = 1 if seasonal is not None and self.mae[1] < self.mae[0] else 0
        persistent = self.mae[2] < PERSISTENCE * self.mae[best]
        surprise = min(u[best], u[2]) if persistent else u[best]
        bw = 1 - 2 ** (-1 / SUSTAINED_HALF_LIFE)
        sustained = [self.sustained[i] + bw * (min(u[i], SURPRISE_CAP) - self.sustained[i]) if u[i] != math.inf else self.sustained[i] for i in (0, 1)]
        n = self.n
        mature = n >= MATURE and self.record > 0
        warm = n >= self.min_events
        pred = preds[best]
        out = None
        anomaly = False
        pattern = None
        independent = False
        if warm:
            kk = self.k / 3
            nl = min(self.level_count, n)
            record, rec_pattern, rec_band = math.inf, "spike", None
            if mature:
                record = surprise / (self.record * RECORD_MARGIN)
                for i in (0, 1):
                    if u[i] != math.inf and self.sustained_record[i] > 0 and self.armed[i]:
                        s = sustained[i] / (self.sustained_record[i] * RECORD_MARGIN)
                        if s > record:
                            record, rec_pattern = s, "level_shift"
                tol = 2 * half * RANGE_TOL
                beyond = x - (self.high + tol) if x > self.high + tol else (self.low - tol) - x if x < self.low - tol else 0
                if beyond > 0:
                    record = max(record, min(1 + beyond / (2 * half), 1000))
                    rec_pattern = "new_range"
                w = kk * RECORD_MARGIN * self.record * max(self.mae[best], floor)
                rec_band = (pred - w, pred + w)
            irregular = self.gaps < 2 or math.sqrt(self.gap_var) > IRREGULAR
            dual = self.log_transform and self.nonneg and irregular
            independent = dual and not persistent
            if dual:
                lin_sd = max(math.sqrt((PRIOR_EVENTS * (PRIOR_CV * pred) ** 2 + n * self.var) / (PRIOR_EVENTS + n)), floor)
                lin_w = t_mult(n - 1 + PRIOR_EVENTS) * math.sqrt(1 + 1 / nl)
            else:
                # the best model's spread: the level's variance, or the profile's typical error (x sqrt(pi/2))
                lin_sd = max(1.2533 * self.mae[1] if best == 1 else math.sqrt(self.var), floor)
                if not mature:
                    # a young metric's spread starts from a prior coefficient of variation of the prediction
                    lin_sd = max(math.sqrt((PRIOR_EVENTS * (YOUNG_CV * pred) ** 2 + n * lin_sd ** 2) / (PRIOR_EVENTS + n)), floor)
                lin_w = t_mult(n - 1) * math.sqrt(1 + 1 / nl)
            dev = x - pred
            lin_e = abs(dev) / lin_sd / lin_w
            baseline = (pred, max(math.sqrt(self.var), floor), "linear")
            if mature and persistent:
                evidence, pattern, band, z = record, rec_pattern, rec_band, dev / lin_sd
            else:
                lin_band = (pred - kk * lin_w * lin_sd, pred + kk * lin_w * lin_sd)
                if dual:
                    log_sd = max(math.sqrt((PRIOR_EVENTS * PRIOR_SPREAD ** 2 + n * self.lvar) / (PRIOR_EVENTS + n)), self.min_stddev)
                    log_w = t_mult(n - 1 + PRIOR_EVENTS) * math.sqrt(1 + 1 / nl)
                    log_e = abs(ly - self.llevel) / log_sd / log_w
                    z = (ly - self.llevel) / log_sd
                    baseline = (self.llevel, log_sd, "log1p")
                    sig = min(lin_e, log_e) if x > pred else log_e
                    view_band = (max(math.expm1(self.llevel - kk * log_w * log_sd), 0.0), max(lin_band[1], math.expm1(self.llevel + kk * log_w * log_sd)))
                else:
                    sig, z, view_band = lin_e, dev / lin_sd, lin_band
                evidence = min(sig, record)
                pattern = rec_pattern if record < sig else "spike"
                band = view_band if rec_band is None else (min(view_band[0], rec_band[0]), max(view_band[1], rec_band[1]))
            # a flat-line: exact repeats, twice the longest run before (at least 5), on a regularly sampled mature key
            if x == self.last and mature and not irregular and not self.flat_reported:
                run = self.repeats + 1
                e = run / max(2 * self.repeat_record, 5)
                if e >= 1 and e > evidence:
                    evidence, pattern = e, "flatline"
            anomaly = 3 * evidence > self.k
            out = {"score": min(3 * evidence, 1000), "valueScore": z, "expectedLow": band[0], "expectedHigh": band[1],
                   "mean": baseline[0], "stddev": baseline[1], "scale": baseline[2], "count": n}
        # change point
        sd_lin = max(math.sqrt(self.var), floor)
        zl = (x - self.level) / sd_lin
        side = 1 if zl > SHIFT_SIGMAS else -1 if zl < -SHIFT_SIGMAS else 0
        self.run = 0 if side == 0 else self.run + side if side == (self.run > 0) - (self.run < 0) else side
        if abs(self.run) == 1:
            self.run_start = ts
        self.recent = self.recent[1:] + [x]
        self.recent_log = self.recent_log[1:] + [ly]
        shifted = warm and abs(self.run) >= SHIFT_RUN and ts - self.run_start >= int(SHIFT_SPAN_GAPS * self.usual_gap * 1000)
        if shifted and anomaly:
            pattern = "level_shift"
        if out is not None:
            out["status"] = "anomaly" if anomaly else "normal"
            out["pattern"] = pattern if anomaly else None
        # learn
        for i in (0, 1):
            if anomaly and pattern == "level_shift":
                self.armed[i] = False
            elif sustained[i] <= self.sustained_record[i]:
                self.armed[i] = True
        if n >= RECORDS_FROM:
            keep = 1 - (1 - 2 ** (-1 / RECORD_HALF_LIFE))
            # an alarm on an independent event does not raise the record
            self.record = max(self.record, 0.0 if anomaly and independent else surprise) * keep
            self.sustained_record = [max(self.sustained_record[i], sustained[i]) * keep for i in (0, 1)]
        self.sustained = sustained
        e = alpha(ERROR_HALF_LIFE, n)
        profile = self.bins[b] if self.visits[b] > 0 else None
        if profile is not None and self.mae[1] == 0:
            self.mae[1] = self.mae[0]
        for i, p in enumerate([self.level, profile, self.last]):
            if p is not None:
                self.mae[i] += e * (abs(x - p) - self.mae[i])
        if shifted:
            self.level = min(max(sum(self.recent) / 4, min(self.low, x)), max(self.high, x))
            self.llevel = sum(self.recent_log) / 4
            self.level_count = 4
            self.run = 0
        elif not (anomaly and independent):  # an independent event that alarmed teaches nothing (clip)
            clip = LEARN_CLIP if warm else math.inf
            l = alpha(self.half_life, self.level_count)
            v = alpha(ERROR_HALF_LIFE, n)
            d = max(-clip * sd_lin, min(clip * sd_lin, x - self.level))
            self.level = min(max(self.level + l * d, min(self.low, x)), max(self.high, x))
            self.var = (1 - v) * (self.var + v * d * d)
            lsd = max(math.sqrt(self.lvar), 1e-9)
            ld = max(-clip * lsd, min(clip * lsd, ly - self.llevel))
            self.llevel += l * ld
            self.lvar = (1 - v) * (self.lvar + v * ld * ld)
            self.level_count += 1
        # a bin learns BIN_RATE per day whatever the sampling, a deviation at most 3 of the profile's sd; stored as f32
        f32 = lambda v: struct.unpack("f", struct.pack("f", v))[0]
        if self.visits[b] == 0:
            self.bins[b] = f32(x)
        else:
            per_day = max(1800 / self.usual_gap, 1.0) if self.usual_gap > 0 else 1.0
            reach = LEARN_CLIP * max(1.2533 * self.mae[1], floor)
            self.bins[b] = f32(self.bins[b] + BIN_RATE / per_day * max(-reach, min(reach, x - self.bins[b])))
        self.visits[b] += 1
        if self.visits[b] == BIN_VISITS:
            self.ready += 1
        step = NEW_RANGE_STEP * 2 * half if anomaly and pattern == "new_range" else 0
        if x > self.high:
            self.high = x + step
        if x < self.low:
            self.low = x - step
        if x == self.last:
            self.repeats += 1
            if anomaly and pattern == "flatline":
                self.flat_reported = True
        else:
            if not self.flat_reported:
                self.repeat_record = max(self.repeat_record, self.repeats)
            self.repeats = 0
            self.flat_reported = False
        self.last = x
        self.n += 1
        self._learn_time(ts)
        return out

    def _learn_time(self, ts):
        # The velocity check's usual gap (no bursts in the golden streams, so every gap is learned).
        if self.last_ts is not None and ts >= self.last_ts:
            gap = min((ts - self.last_ts) / 1000, 30 * 86400)
            a = max(1 / (self.usual_gaps + 1), 0.02)
            self.usual_gap += a * (gap - self.usual_gap)
            self.usual_gaps += 1
        self.last_ts = max(ts, self.last_ts or ts)

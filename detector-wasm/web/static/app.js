// The playground page: controls → config JSON → the kernel (wasm-bindgen build of detector-wasm) → chart and lists.
// All detection happens in the kernel; this file only gathers settings and draws what comes back.

import init, { replay, export_settings, default_config, kernel_version, generate } from "./pkg/detector_web.js";

const $ = (id) => document.getElementById(id);
const SLIDERS = ["threshold_multiplier", "min_events", "half_life_events", "burst_window_secs", "burst_min_events"];
const SELECTS = ["detector", "direction", "anomaly_update"];
const CHECKS = ["log_transform", "velocity"];
const FIELDS = ["key_field", "value_field", "timestamp_field", "event_id_field", "label_field"];
const MAX_ROWS = 500;

let input = { text: "", name: "" };
let result = null;
let pending = false;

function config() {
  const c = {};
  for (const id of SLIDERS) c[id] = Number($(id).value);
  for (const id of SELECTS) c[id] = $(id).value;
  for (const id of CHECKS) c[id] = $(id).checked;
  for (const id of FIELDS) c[id] = $(id).value;
  return c;
}

function showOutputs() {
  for (const id of SLIDERS) document.querySelector(`output[for=${id}]`).textContent = $(id).value;
}

// Coalesce a flurry of slider events into one replay per frame.
function schedule() {
  showOutputs();
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    rerun();
  });
}

function rerun() {
  $("error").textContent = "";
  if (!input.text) return;
  try {
    const answer = JSON.parse(replay(JSON.stringify(config()), input.text, "auto"));
    if (answer.error) {
      $("error").textContent = answer.error;
      return;
    }
    result = answer;
    render();
  } catch (e) {
    // The kernel never panics by design; if something still goes wrong, say so and keep the page alive.
    $("error").textContent = `the kernel failed on this input: ${e}`;
  }
}

function outcome(flags) {
  const anomaly = flags & 1, labeled = flags & 4, positive = flags & 8;
  if (anomaly) return labeled ? (positive ? "hit" : "false-alarm") : "anomaly";
  return labeled && positive ? "miss" : null;
}

function render() {
  const r = result;
  const t = r.totals;
  $("count-anomalies").textContent = t.anomalies;
  $("count-events").textContent = t.events;
  $("count-keys").textContent = t.keys;
  $("count-invalid").textContent = t.invalid;
  $("count-warmup").textContent = t.warmup;
  $("scores").hidden = !r.labels;
  if (r.labels) {
    $("precision").textContent = r.labels.precision.toFixed(3);
    $("recall").textContent = r.labels.recall.toFixed(3);
    $("f1").textContent = r.labels.f1.toFixed(3);
    $("count-hits").textContent = r.labels.truePositives;
    $("count-false-alarms").textContent = r.labels.falsePositives;
    $("count-misses").textContent = r.labels.falseNegatives;
  }
  // Keys with the most anomalies first: those are the ones worth looking at.
  const select = $("key");
  const previous = select.value;
  const order = r.keys.map((k, i) => ({ ...k, i })).sort((a, b) => b.anomalies - a.anomalies || b.events - a.events);
  select.replaceChildren(...order.map((k) => new Option(`${k.key} (${k.events} events, ${k.anomalies} anomalies)`, k.key)));
  if (order.some((k) => k.key === previous)) select.value = previous;
  drawChart();
  listAnomalies();
  listInvalid();
}

function listAnomalies() {
  const rows = result.anomalies.map((a) => ({ ...a, outcome: a.label == null ? "anomaly" : a.label === "normal" ? "false-alarm" : "hit" }));
  const misses = result.misses.map((m) => ({ ...m, score: null, reason: `labeled ${m.label}, not flagged`, outcome: "miss" }));
  const all = rows.concat(misses).sort((a, b) => a.line - b.line);
  const body = $("anomalies").tBodies[0];
  body.replaceChildren(...all.slice(0, MAX_ROWS).map((a) => {
    const tr = document.createElement("tr");
    tr.className = a.outcome;
    for (const text of [a.line, a.key, a.eventId, a.value, a.score == null ? "–" : a.score.toFixed(2), a.outcome.replace("-", " "), a.reason]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    return tr;
  }));
  $("anomalies-note").textContent = all.length > MAX_ROWS ? `showing ${MAX_ROWS} of ${all.length} rows` : "";
}

function listInvalid() {
  const items = result.invalid.map((e) => {
    const li = document.createElement("li");
    li.textContent = `line ${e.line}: ${e.field ? `field \`${e.field}\`: ` : ""}${e.reason}`;
    return li;
  });
  if (result.invalidLeftOut > 0) {
    const li = document.createElement("li");
    li.textContent = `… and ${result.invalidLeftOut} more`;
    items.push(li);
  }
  $("invalid").replaceChildren(...items);
}

function drawChart() {
  const canvas = $("chart");
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const r = result;
  const keyIndex = r.keys.findIndex((k) => k.key === $("key").value);
  if (keyIndex < 0) return;
  const e = r.events;
  const idx = [];
  for (let i = 0; i < e.key.length; i += 1) if (e.key[i] === keyIndex) idx.push(i);
  if (!idx.length) return;
  const log = $("log_transform").checked;
  const scale = (v) => (log ? Math.log1p(Math.max(v, 0)) : v);
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const i of idx) {
    x0 = Math.min(x0, e.x[i]); x1 = Math.max(x1, e.x[i]);
    for (const v of [e.value[i], e.low[i], e.high[i]]) {
      if (v != null && Number.isFinite(v)) { y0 = Math.min(y0, scale(v)); y1 = Math.max(y1, scale(v)); }
    }
  }
  if (x1 <= x0) x1 = x0 + 1;
  if (y1 <= y0) y1 = y0 + 1;
  const pad = { l: 60, r: 10, t: 10, b: 24 };
  const W = canvas.width - pad.l - pad.r, H = canvas.height - pad.t - pad.b;
  const px = (x) => pad.l + ((x - x0) / (x1 - x0)) * W;
  const py = (v) => pad.t + (1 - (scale(v) - y0) / (y1 - y0)) * H;
  ctx.font = "11px sans-serif";
  ctx.fillStyle = "#555";
  for (let k = 0; k <= 4; k += 1) {
    const y = y0 + ((y1 - y0) * k) / 4;
    const v = log ? Math.expm1(y) : y;
    const yy = pad.t + (1 - k / 4) * H;
    ctx.strokeStyle = "#eee"; ctx.beginPath(); ctx.moveTo(pad.l, yy); ctx.lineTo(pad.l + W, yy); ctx.stroke();
    ctx.fillText(v >= 100 ? v.toFixed(0) : v.toFixed(1), 4, yy + 4);
  }
  // Expected band, one filled run per stretch of events that have one.
  ctx.fillStyle = "rgba(31,119,180,0.15)";
  let run = [];
  const flush = () => {
    if (run.length > 1) {
      ctx.beginPath();
      run.forEach((i, n) => (n ? ctx.lineTo(px(e.x[i]), py(e.high[i])) : ctx.moveTo(px(e.x[i]), py(e.high[i]))));
      for (let n = run.length - 1; n >= 0; n -= 1) ctx.lineTo(px(e.x[run[n]]), py(e.low[run[n]]));
      ctx.closePath();
      ctx.fill();
    }
    run = [];
  };
  for (const i of idx) (e.low[i] != null && e.high[i] != null ? run.push(i) : flush());
  flush();
  ctx.strokeStyle = "#1f77b4"; ctx.lineWidth = 1.2; ctx.beginPath();
  idx.forEach((i, n) => (n ? ctx.lineTo(px(e.x[i]), py(e.value[i])) : ctx.moveTo(px(e.x[i]), py(e.value[i]))));
  ctx.stroke();
  if (idx.length === 1) {
    ctx.fillStyle = "#1f77b4";
    ctx.beginPath(); ctx.arc(px(e.x[idx[0]]), py(e.value[idx[0]]), 3, 0, 2 * Math.PI); ctx.fill();
  }
  for (const i of idx) {
    const o = outcome(e.flags[i]);
    if (!o) continue;
    const x = px(e.x[i]), y = py(e.value[i]);
    ctx.lineWidth = 2;
    if (o === "hit" || o === "anomaly") {
      ctx.fillStyle = o === "hit" ? "#2ca02c" : "#d62728";
      ctx.beginPath(); ctx.arc(x, y, 5, 0, 2 * Math.PI); ctx.fill();
    } else if (o === "false-alarm") {
      ctx.strokeStyle = "#ff7f0e"; ctx.beginPath();
      ctx.moveTo(x - 5, y - 5); ctx.lineTo(x + 5, y + 5); ctx.moveTo(x + 5, y - 5); ctx.lineTo(x - 5, y + 5); ctx.stroke();
    } else {
      ctx.strokeStyle = "#9467bd"; ctx.beginPath();
      ctx.moveTo(x, y - 6); ctx.lineTo(x + 6, y + 5); ctx.lineTo(x - 6, y + 5); ctx.closePath(); ctx.stroke();
    }
  }
  ctx.lineWidth = 1;
}

function exportSettings() {
  const answer = JSON.parse(export_settings(JSON.stringify(config())));
  if (answer.error) {
    $("error").textContent = answer.error;
    return;
  }
  $("export-toml").value = answer.toml;
  $("export-tf").value = answer.terraform;
  $("download-toml").href = URL.createObjectURL(new Blob([answer.toml], { type: "text/plain" }));
  $("download-tf").href = URL.createObjectURL(new Blob([answer.terraform], { type: "text/plain" }));
}

function load(text, name) {
  input = { text, name };
  $("input-name").textContent = `${name}: ${text.length.toLocaleString()} bytes`;
  rerun();
}

async function loadFile(file) {
  try {
    load(await file.text(), file.name);
  } catch (e) {
    $("error").textContent = `cannot read ${file.name}: ${e}`;
  }
}

async function main() {
  await init();
  const defaults = JSON.parse(default_config());
  for (const id of SLIDERS) $(id).value = defaults[id];
  for (const id of SELECTS) $(id).value = defaults[id];
  for (const id of CHECKS) $(id).checked = defaults[id];
  for (const id of FIELDS) $(id).value = defaults[id];
  showOutputs();
  for (const id of [...SLIDERS, ...SELECTS, ...CHECKS]) $(id).addEventListener("input", schedule);
  for (const id of FIELDS) $(id).addEventListener("change", schedule);
  $("key").addEventListener("change", drawChart);
  $("export").addEventListener("click", exportSettings);
  $("file").addEventListener("change", (ev) => ev.target.files[0] && loadFile(ev.target.files[0]));
  const drop = $("drop");
  drop.addEventListener("dragover", (ev) => { ev.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (ev) => {
    ev.preventDefault();
    drop.classList.remove("over");
    if (ev.dataTransfer.files[0]) loadFile(ev.dataTransfer.files[0]);
  });
  $("load-sample").addEventListener("click", async () => {
    const response = await fetch("sample.jsonl");
    load(await response.text(), "the labeled sample (packager generate --seed 42 --users 60 --events 4000)");
  });
  $("generate").addEventListener("click", () => {
    const opts = { seed: Number($("gen-seed").value), users: Number($("gen-users").value), events: Number($("gen-events").value) };
    // The packager's own generator, compiled to WebAssembly: `packager generate --seed S --users U --events E`.
    const stream = generate(JSON.stringify(opts));
    if (stream.startsWith("{\"error\"")) {
      $("status").textContent = `cannot generate: ${JSON.parse(stream).error}`;
      return;
    }
    load(stream, `generated: packager generate --seed ${opts.seed} --users ${opts.users} --events ${opts.events}`);
  });
  $("status").textContent = `Kernel detector-wasm ${kernel_version()} loaded (WebAssembly). Load a file, the sample, or generate a stream.`;
  document.body.dataset.ready = "true";
}

main().catch((e) => {
  $("status").textContent = `the kernel could not be loaded: ${e}. Serve this folder over http (e.g. python3 -m http.server), not file://.`;
});

// The operator dashboard: one page per hash route (#/overview, #/sensors, #/sensor/ID, #/alerts, #/runs).
// Each page builds its frame once and then updates it in place every REFRESH_MS, so a wall screen never flickers.

import { ApiError, get, getAll, send, setToken, token } from "./api.js";
import { detailChart, sparkline } from "./charts.js";

// Seconds between updates: 20 by default, or /dashboard?refresh=N (at least 2).
const REFRESH_MS = Math.max(2, Number(new URLSearchParams(location.search).get("refresh")) || 20) * 1000;
const HOUR_MS = 3600 * 1000;
const SPARK_HOURS = 24;
const STATUSES = ["ok", "alerting", "silent", "unknown"];
const IN_PROGRESS = new Set(["QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"]);

// --- small helpers -------------------------------------------------------------------------------------------
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  el.append(...children.flat().filter((child) => child !== null && child !== undefined));
  return el;
}

function num(value, digits = 2) {
  return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
}

function when(iso) {
  if (!iso) return "–";
  return new Date(iso).toISOString().replace("T", " ").slice(0, 19) + "Z";
}

function ago(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function hourStart(ms) {
  return Math.floor(ms / HOUR_MS) * HOUR_MS;
}

function isoHour(ms) {
  return new Date(ms).toISOString().slice(0, 13) + ":00:00Z";
}

export function partitionKey(ms) {
  return new Date(ms).toISOString().slice(0, 13).replace("T", "-") + ":00";
}

function badge(status) {
  return h("span", { class: `badge ${status}` }, status);
}

function table(head, rows) {
  return h("table", {}, h("thead", {}, h("tr", {}, head.map((cell) => h("th", {}, cell)))), h("tbody", {}, rows));
}

function message(error) {
  return error instanceof ApiError ? error.detail : String(error);
}

function select(name, label, values, selected, onchange) {
  return h(
    "label",
    {},
    `${label} `,
    h(
      "select",
      { name, onchange },
      h("option", { value: "" }, "all"),
      values.map((value) => h("option", { value, selected: value === selected }, value)),
    ),
  );
}

// --- overview -------------------------------------------------------------------------------------------------
const overview = {
  mount(root) {
    this.cards = {
      freshness: h("section", { class: "card", id: "freshness" }),
      cluster: h("section", { class: "card", id: "cluster" }),
      alerts: h("section", { class: "card", id: "open-alerts" }),
      sensors: h("section", { class: "card", id: "sensor-status" }),
      runs: h("section", { class: "card wide", id: "recent-runs" }),
    };
    this.lagList = h("div", { id: "ingestion-lag" }); // a group of the freshness list, filled when the lag answers
    root.append(h("div", { class: "cards" }, Object.values(this.cards)));
  },
  async update() {
    // The lag asks Kafka, which may take seconds to fail: it fills its own list when it answers.
    const lag = get("/dashboard/lag");
    lag.then((value) => this.lag({ status: "fulfilled", value }), (reason) => this.lag({ status: "rejected", reason }));
    const [fresh, cluster, apps, alerts, sensors, runs] = await Promise.allSettled([
      get("/dashboard/freshness"),
      get("/cluster/status"),
      get("/jobs/apps"),
      getAll("/alerts", { state: "open", limit: 10000 }, 1),
      get("/sensors"),
      get("/dashboard/runs", { limit: 8 }),
    ]);
    this.freshness(fresh);
    this.cluster(cluster, apps);
    this.alerts(alerts);
    this.sensors(sensors);
    this.runs(runs, fresh);
  },
  freshness(result) {
    const card = this.cards.freshness;
    if (result.status === "rejected") return card.replaceChildren(h("h2", {}, "Freshness"), unavailable(result));
    const f = result.value;
    const last = f.last_ingestion;
    card.replaceChildren(
      h("h2", {}, "Freshness"),
      h(
        "dl",
        {},
        h("dt", {}, "Last ingestion"),
        h("dd", {}, last ? h("a", { href: last.dagster_url, target: "_blank" }, when(last.ended_at)) : "none yet"),
        h("dt", {}, "Ingestion age"),
        h("dd", { dataset: { value: f.ingestion_age_s ?? "" } }, ago(f.ingestion_age_s)),
        this.lagList,
        h("dt", {}, "Last hour built"),
        h("dd", { id: "last-hour-built" }, f.last_hour_built || "none yet"),
        h("dt", {}, "Complete hours not built"),
        h("dd", {}, f.hours_behind ?? "–"),
        h("dt", {}, "Late updates (24 h)"),
        h("dd", {}, String(f.late_updates_last_day)),
        h("dt", {}, "Runs in progress / failed (24 h)"),
        h("dd", {}, `${f.runs_in_progress} / ${f.runs_failed_last_day}`),
      ),
      h("a", { href: f.dagster_url, target: "_blank", class: "dagster" }, "Open the Dagster UI"),
    );
  },
  lag(result) {
    if (result.status === "rejected") {
      return this.lagList.replaceChildren(h("dt", {}, "Lag behind the topic"), h("dd", {}, message(result.reason)));
    }
    const lag = result.value;
    const partitions = lag.partitions.map((p) => `${p.partition}: ${p.lag}`).join(", ");
    this.lagList.replaceChildren(
      h("dt", {}, "Lag behind the topic"),
      h("dd", { id: "lag-records", dataset: { value: lag.lag_records }, title: `per partition: ${partitions}` }, `${lag.lag_records} records`),
      h("dt", {}, "Newest reading"),
      h("dd", { id: "newest-reading", dataset: { value: lag.newest_reading_age_s ?? "" } }, lag.newest_reading_at ? `${ago(lag.newest_reading_age_s)} (${when(lag.newest_reading_at)})` : "none yet"),
    );
  },
  cluster(result, apps) {
    const card = this.cards.cluster;
    if (result.status === "rejected") return card.replaceChildren(h("h2", {}, "Spark cluster"), unavailable(result));
    const c = result.value;
    const server = apps.status === "fulfilled" ? apps.value.find((app) => app.shared) : null;
    card.replaceChildren(
      h("h2", {}, "Spark cluster ", badge(c.status === "ALIVE" ? "ok" : "alerting")),
      h(
        "dl",
        {},
        h("dt", {}, "Workers"),
        h("dd", { id: "workers" }, String(c.worker_count)),
        h("dt", {}, "Cores in use"),
        h("dd", {}, `${c.used_cores} / ${c.total_cores}`),
        h("dt", {}, "Memory in use"),
        h("dd", {}, `${c.used_memory} / ${c.total_memory} MiB`),
        h("dt", {}, "Applications"),
        h("dd", {}, String(c.active_app_count)),
        h("dt", {}, "Warm Spark server"),
        h(
          "dd",
          { id: "warm-server" },
          apps.status === "rejected"
            ? message(apps.reason)
            : server
              ? `${server.state} (${server.app_id}), ${server.runs.length} run(s) on it`
              : "not running",
        ),
      ),
    );
  },
  alerts(result) {
    const card = this.cards.alerts;
    if (result.status === "rejected") return card.replaceChildren(h("h2", {}, "Open alerts"), unavailable(result));
    const counts = {};
    for (const alert of result.value) counts[alert.severity] = (counts[alert.severity] || 0) + 1;
    card.replaceChildren(
      h("h2", {}, h("a", { href: "#/alerts" }, "Open alerts")),
      h(
        "div",
        { class: "counts" },
        ["critical", "warning", "info"].map((severity) =>
          h("div", { class: `count ${severity}`, dataset: { severity } }, h("b", {}, String(counts[severity] || 0)), severity),
        ),
      ),
    );
  },
  sensors(result) {
    const card = this.cards.sensors;
    if (result.status === "rejected") return card.replaceChildren(h("h2", {}, "Sensors"), unavailable(result));
    const counts = {};
    for (const sensor of result.value) counts[sensor.status] = (counts[sensor.status] || 0) + 1;
    card.replaceChildren(
      h("h2", {}, h("a", { href: "#/sensors" }, `Sensors (${result.value.length})`)),
      h(
        "div",
        { class: "counts" },
        STATUSES.map((status) =>
          h("div", { class: `count ${status}`, dataset: { status } }, h("b", {}, String(counts[status] || 0)), status),
        ),
      ),
    );
  },
  runs(result) {
    const card = this.cards.runs;
    if (result.status === "rejected") return card.replaceChildren(h("h2", {}, "Recent runs"), unavailable(result));
    card.replaceChildren(h("h2", {}, h("a", { href: "#/runs" }, "Recent runs")), runsTable(result.value, false));
  },
};

function unavailable(result) {
  return h("p", { class: "unavailable" }, message(result.reason));
}

// --- sensors ----------------------------------------------------------------------------------------------------
const sensors = {
  mount(root, params) {
    this.filters = { sensor_type: params.get("type") || "", location: params.get("location") || "", status: "" };
    this.tiles = new Map();
    this.filterBar = h("div", { class: "filters" });
    this.summary = h("span", { class: "muted", id: "sensor-count" });
    this.grid = h("div", { class: "tiles", id: "tiles" });
    this.observer = new IntersectionObserver((entries) => {
      for (const entry of entries) if (entry.isIntersecting) this.draw(entry.target._tile);
    });
    root.append(h("h2", {}, "Sensors ", this.summary), this.filterBar, this.grid);
  },
  unmount() {
    this.observer.disconnect();
  },
  async update() {
    const [list, lines] = await Promise.all([get("/sensors"), get("/dashboard/sparklines", { hours: SPARK_HOURS })]);
    const first = Date.parse(lines.start);
    const xs = Array.from({ length: lines.hours }, (_, i) => (first + i * HOUR_MS) / 1000);
    const byId = new Map(lines.sensors.map((line) => [line.sensor_id, line]));
    this.renderFilters(list);
    for (const sensor of list) {
      const line = byId.get(sensor.sensor_id);
      const spark = {
        sensor_id: sensor.sensor_id,
        x: xs,
        avg: line ? line.avg : new Array(lines.hours).fill(null),
        min: line ? line.threshold_min : null,
        max: line ? line.threshold_max : null,
      };
      this.tile(sensor, spark);
    }
    this.applyFilters();
  },
  renderFilters(list) {
    const types = [...new Set(list.map((s) => s.sensor_type).filter(Boolean))].sort();
    const locations = [...new Set(list.map((s) => s.location).filter(Boolean))].sort();
    const signature = JSON.stringify([types, locations]);
    if (signature === this.filterSignature) return;
    this.filterSignature = signature;
    const change = (key) => (event) => {
      this.filters[key] = event.target.value;
      this.applyFilters();
    };
    this.filterBar.replaceChildren(
      select("sensor_type", "Type", types, this.filters.sensor_type, change("sensor_type")),
      select("location", "Location", locations, this.filters.location, change("location")),
      select("status", "Status", STATUSES, this.filters.status, change("status")),
    );
  },
  tile(sensor, spark) {
    let tile = this.tiles.get(sensor.sensor_id);
    if (!tile) {
      tile = {
        status: h("span", { class: "badge" }),
        value: h("span", { class: "value" }),
        when: h("span", { class: "muted" }),
        chart: h("div", { class: "spark" }),
      };
      tile.el = h(
        "a",
        { class: "tile", href: `#/sensor/${encodeURIComponent(sensor.sensor_id)}`, dataset: { sensorId: sensor.sensor_id } },
        h("div", { class: "tile-head" }, h("b", {}, sensor.sensor_id), tile.status),
        h("div", { class: "muted" }, `${sensor.sensor_type || "?"} · ${sensor.location || "?"}`),
        h("div", {}, tile.value, " ", tile.when),
        tile.chart,
      );
      tile.el._tile = tile;
      this.tiles.set(sensor.sensor_id, tile);
      this.grid.append(tile.el);
      this.observer.observe(tile.el);
    }
    tile.sensor = sensor;
    tile.spark = spark;
    tile.el.dataset.status = sensor.status;
    tile.el.dataset.type = sensor.sensor_type || "";
    tile.el.dataset.location = sensor.location || "";
    tile.el.className = `tile ${sensor.status}`;
    tile.status.className = `badge ${sensor.status}`;
    tile.status.textContent = sensor.status;
    tile.value.textContent = sensor.last_value === null ? "no reading" : `${num(sensor.last_value)} ${sensor.unit || ""}`;
    tile.when.textContent = sensor.last_reading_at ? when(sensor.last_reading_at).slice(11) : "";
    if (tile.drawn) this.draw(tile);
  },
  draw(tile) {
    if (!tile || !tile.spark) return;
    sparkline(tile.chart, `spark:${tile.sensor.sensor_id}`, tile.spark);
    tile.drawn = true;
  },
  applyFilters() {
    let shown = 0;
    for (const tile of this.tiles.values()) {
      const s = tile.sensor;
      const visible =
        (!this.filters.sensor_type || s.sensor_type === this.filters.sensor_type) &&
        (!this.filters.location || s.location === this.filters.location) &&
        (!this.filters.status || s.status === this.filters.status);
      tile.el.hidden = !visible;
      if (visible) shown += 1;
    }
    this.summary.textContent = `${shown} of ${this.tiles.size}`;
  },
};

// --- sensor detail ----------------------------------------------------------------------------------------------
const RANGES = { "24h": 24, "7d": 7 * 24, "30d": 30 * 24 };
const LATEST_READINGS = 20;

const sensorDetail = {
  mount(root, params, sensorId) {
    this.sensorId = sensorId;
    const at = params.get("at");
    if (at) {
      const centre = hourStart(Date.parse(at));
      this.start = centre - 12 * HOUR_MS;
      this.end = centre + 13 * HOUR_MS;
    } else if (params.get("start") && params.get("end") && Date.parse(params.get("start")) < Date.parse(params.get("end"))) {
      this.start = Date.parse(params.get("start"));
      this.end = Date.parse(params.get("end"));
    } else {
      this.setRange(RANGES[params.get("range")] || 48);
    }
    this.head = h("div", { class: "detail-head" });
    this.chart = h("div", { class: "chart", id: "detail-chart" });
    this.latest = h("section", { class: "card wide", id: "latest" });
    this.episodes = h("section", { class: "card wide", id: "episodes" });
    this.readings = h("section", { class: "card wide", id: "latest-readings" });
    const ranges = Object.entries(RANGES).map(([label, hours]) =>
      h("button", { type: "button", onclick: () => this.changeRange(hours) }, label),
    );
    this.from = h("input", { type: "datetime-local", name: "start", value: this.local(this.start) });
    this.to = h("input", { type: "datetime-local", name: "end", value: this.local(this.end) });
    root.append(
      h("h2", {}, h("a", { href: "#/sensors" }, "Sensors"), ` / ${sensorId}`),
      this.head,
      h(
        "div",
        { class: "filters" },
        ranges,
        h("label", {}, " from (UTC) ", this.from),
        h("label", {}, " to ", this.to),
        h("button", { type: "button", onclick: () => this.customRange() }, "Show"),
      ),
      this.chart,
      h("div", { class: "cards" }, this.latest, this.readings, this.episodes),
    );
  },
  local(ms) {
    return new Date(ms).toISOString().slice(0, 16);
  },
  setRange(hours) {
    this.end = hourStart(Date.now()) + HOUR_MS;
    this.start = this.end - hours * HOUR_MS;
    this.live = true;
  },
  changeRange(hours) {
    this.setRange(hours);
    this.from.value = this.local(this.start);
    this.to.value = this.local(this.end);
    refreshNow();
  },
  customRange() {
    const [start, end] = [Date.parse(`${this.from.value}Z`), Date.parse(`${this.to.value}Z`)];
    if (!(start < end)) return;
    [this.start, this.end] = [start, end];
    this.live = false;
    refreshNow();
  },
  async update() {
    if (this.live) this.setRange((this.end - this.start) / HOUR_MS);
    const id = encodeURIComponent(this.sensorId);
    const [sensor, rows, alerts, readings] = await Promise.all([
      get(`/sensors/${id}`),
      getAll("/stats/hourly", { sensor_id: this.sensorId, start: isoHour(this.start), end: isoHour(this.end), limit: 10000 }),
      getAll("/alerts", { sensor_id: this.sensorId, end: new Date(this.end).toISOString(), limit: 1000 }, 1),
      // The readings card shows its own error: the rest of the page does not depend on it.
      get(`/sensors/${id}/readings`, { limit: LATEST_READINGS }).catch((error) => error),
    ]);
    const episodes = alerts.filter((a) => !a.resolved_at || Date.parse(a.resolved_at) >= this.start);
    const rules = sensor.rules || {};
    this.renderHead(sensor, rules);
    const series = {
      sensor_id: this.sensorId,
      unit: sensor.unit,
      x: rows.map((r) => Date.parse(r.window_start) / 1000),
      avg: rows.map((r) => r.avg_value),
      minValue: rows.map((r) => r.min_value),
      maxValue: rows.map((r) => r.max_value),
      stddev: rows.map((r) => r.stddev_value),
      count: rows.map((r) => r.reading_count),
      min: rules.threshold_min ?? null,
      max: rules.threshold_max ?? null,
      episodes: episodes.map((a) => ({
        alert_id: a.alert_id,
        rule: a.rule,
        severity: a.severity,
        from: Date.parse(a.started_at) / 1000,
        to: Date.parse(a.resolved_at || a.last_seen_at || new Date().toISOString()) / 1000,
      })),
    };
    detailChart(this.chart, "detail", series, Math.max(this.chart.clientWidth, 480));
    this.chart.dataset.rows = String(rows.length);
    this.latest.replaceChildren(
      h("h2", {}, "Latest hours"),
      table(
        ["hour", "avg", "min", "max", "stddev", "readings"],
        rows
          .slice(-12)
          .reverse()
          .map((r) =>
            h(
              "tr",
              {},
              h("td", {}, when(r.window_start)),
              h("td", {}, num(r.avg_value)),
              h("td", {}, num(r.min_value)),
              h("td", {}, num(r.max_value)),
              h("td", {}, num(r.stddev_value, 3)),
              h("td", {}, String(r.reading_count)),
            ),
          ),
      ),
    );
    this.episodes.replaceChildren(h("h2", {}, `Alert episodes in range (${episodes.length})`), alertsTable(episodes));
    if (readings instanceof Error) {
      this.readings.replaceChildren(h("h2", {}, "Latest readings"), h("p", { class: "unavailable" }, message(readings)));
      return;
    }
    this.readings.replaceChildren(
      h("h2", {}, `Latest readings (${readings.length})`),
      table(
        ["event time", "value", "ingested", "partition / offset"],
        readings.map((r) =>
          h(
            "tr",
            {},
            h("td", {}, when(r.event_time)),
            h("td", { dataset: { value: r.value ?? "" } }, r.value === null ? "–" : `${num(r.value)} ${r.unit || ""}`),
            h("td", {}, when(r.ingested_at)),
            h("td", {}, `${r.kafka_partition ?? "–"} / ${r.kafka_offset ?? "–"}`),
          ),
        ),
      ),
    );
  },
  renderHead(sensor, rules) {
    this.head.replaceChildren(
      badge(sensor.status),
      h("span", { class: "value", id: "last-value" }, sensor.last_value === null ? "no reading" : `${num(sensor.last_value)} ${sensor.unit || ""}`),
      h("span", { class: "muted" }, ` at ${when(sensor.last_reading_at)} · ${sensor.sensor_type} · ${sensor.location}`),
      h("span", { class: "muted" }, ` · thresholds ${num(rules.threshold_min, 1)} .. ${num(rules.threshold_max, 1)}`),
      h("span", { class: "muted" }, ` · ${sensor.readings_last_hour} readings in the last hour, ${sensor.open_alerts} open alert(s)`),
    );
  },
};

// --- alerts -----------------------------------------------------------------------------------------------------
function alertsTable(alerts) {
  return table(
    ["state", "severity", "rule", "sensor", "started", "last seen", "resolved", "peak", "threshold", "readings"],
    alerts.map((a) =>
      h(
        "tr",
        { class: a.state, dataset: { alertId: a.alert_id, sensorId: a.sensor_id } },
        h("td", {}, a.state),
        h("td", {}, badge(a.severity)),
        h("td", {}, a.rule),
        h(
          "td",
          {},
          h("a", { href: `#/sensor/${encodeURIComponent(a.sensor_id)}?at=${encodeURIComponent(a.started_at)}` }, a.sensor_id),
        ),
        h("td", {}, when(a.started_at)),
        h("td", {}, when(a.last_seen_at)),
        h("td", {}, when(a.resolved_at)),
        h("td", {}, num(a.peak_value)),
        h("td", {}, num(a.threshold)),
        h("td", {}, String(a.readings ?? "–")),
      ),
    ),
  );
}

const alertsPage = {
  mount(root, params) {
    this.filters = { state: params.get("state") || "open", rule: "", severity: "", sensor_type: "", location: "" };
    const change = (key) => (event) => {
      this.filters[key] = event.target.value;
      refreshNow();
    };
    this.list = h("div", { id: "alerts" });
    root.append(
      h("h2", {}, "Alerts"),
      h(
        "div",
        { class: "filters" },
        h(
          "label",
          {},
          "State ",
          h(
            "select",
            { name: "state", onchange: change("state") },
            ["open", "resolved", "all"].map((s) => h("option", { value: s, selected: s === this.filters.state }, s)),
          ),
        ),
        select("rule", "Rule", ["threshold", "stuck", "silent", "rate_of_change", "unknown_sensor", "rejected_burst"], "", change("rule")),
        select("severity", "Severity", ["critical", "warning", "info"], "", change("severity")),
        h("label", {}, "Type ", h("input", { name: "sensor_type", size: 12, onchange: change("sensor_type") })),
        h("label", {}, "Location ", h("input", { name: "location", size: 12, onchange: change("location") })),
      ),
      this.list,
    );
  },
  async update() {
    const rows = await getAll("/alerts", { ...this.filters, limit: 500 }, 1);
    rows.sort((a, b) => Date.parse(b.started_at) - Date.parse(a.started_at));
    this.list.replaceChildren(h("p", { class: "muted" }, `${rows.length} alert(s)`), alertsTable(rows));
  },
};

// --- runs -------------------------------------------------------------------------------------------------------
function runsTable(runs, actions) {
  return table(
    ["status", "job", "partition", "created", "duration", "Dagster", ...(actions ? [""] : [])],
    runs.map((run) =>
      h(
        "tr",
        { dataset: { runId: run.run_id, status: run.status } },
        h("td", {}, badge(run.status.toLowerCase())),
        h("td", {}, run.job_name),
        h("td", {}, run.partition || (run.start ? `${run.start} .. ${run.end}` : "–")),
        h("td", {}, when(run.created_at)),
        h("td", {}, ago(run.duration_s)),
        h("td", {}, h("a", { href: run.dagster_url, target: "_blank" }, run.run_id.slice(0, 8))),
        actions
          ? h(
              "td",
              {},
              IN_PROGRESS.has(run.status)
                ? h("button", { type: "button", class: "cancel", onclick: () => runsPage.cancel(run.run_id) }, "Cancel")
                : "",
            )
          : null,
      ),
    ),
  );
}

const runsPage = {
  mount(root) {
    const lastHour = partitionKey(hourStart(Date.now()) - HOUR_MS);
    this.tokenInput = h("input", { type: "password", name: "token", autocomplete: "off", size: 28 });
    this.tokenState = h("span", { class: "muted", id: "token-state" });
    this.partition = h("input", { name: "partition", value: lastHour, size: 18 });
    this.start = h("input", { name: "start", value: partitionKey(hourStart(Date.now()) - 3 * HOUR_MS), size: 18 });
    this.end = h("input", { name: "end", value: lastHour, size: 18 });
    this.result = h("p", { id: "action-result", "aria-live": "polite" });
    this.list = h("div", { id: "runs" });
    root.append(
      h("h2", {}, "Runs"),
      h(
        "form",
        { class: "filters", id: "token-form", onsubmit: (e) => this.saveToken(e) },
        h("label", {}, "API token ", this.tokenInput),
        h("button", { type: "submit" }, "Use for this session"),
        h("button", { type: "button", onclick: () => this.forgetToken() }, "Forget"),
        this.tokenState,
      ),
      h(
        "form",
        { class: "filters", id: "submit-hour", onsubmit: (e) => this.submit(e, { partition: this.partition.value }) },
        h("label", {}, "Hour ", this.partition),
        h("button", { type: "submit" }, "Build hourly statistics"),
      ),
      h(
        "form",
        { class: "filters", id: "submit-range", onsubmit: (e) => this.submit(e, { start: this.start.value, end: this.end.value }) },
        h("label", {}, "From ", this.start),
        h("label", {}, " to ", this.end),
        h("button", { type: "submit" }, "Backfill the range"),
      ),
      this.result,
      this.list,
    );
    this.showToken();
  },
  showToken() {
    this.tokenState.textContent = token() ? "a token is set for this browser session" : "no token: actions are refused";
  },
  saveToken(event) {
    event.preventDefault();
    setToken(this.tokenInput.value.trim());
    this.tokenInput.value = "";
    this.showToken();
  },
  forgetToken() {
    setToken("");
    this.showToken();
  },
  report(ok, text) {
    this.result.className = ok ? "ok" : "refused";
    this.result.textContent = text;
  },
  async submit(event, fields) {
    event.preventDefault();
    try {
      const answer = await send("POST", "/jobs/submit", { job: "hourly_stats", ...fields });
      this.result.dataset.runId = answer.run_id || "";
      this.result.dataset.backfillId = answer.backfill_id || "";
      this.report(true, answer.message);
    } catch (error) {
      this.report(false, `refused: ${message(error)}`);
    }
    refreshNow();
  },
  async cancel(runId) {
    try {
      const answer = await send("DELETE", `/jobs/runs/${runId}`);
      this.report(true, answer.message || `run ${runId}: ${answer.status}`);
    } catch (error) {
      this.report(false, `refused: ${message(error)}`);
    }
    refreshNow();
  },
  async update() {
    this.list.replaceChildren(runsTable(await get("/dashboard/runs", { limit: 25 }), true));
  },
};

// --- routing and refresh ----------------------------------------------------------------------------------------
const PAGES = { overview, sensors, alerts: alertsPage, runs: runsPage, sensor: sensorDetail };
let current = null;
let timer = null;
let updates = 0;

function route() {
  const [path, query] = (location.hash.slice(1) || "/overview").split("?");
  const [, name, ...rest] = path.split("/");
  const page = PAGES[name] ? name : "overview";
  return { page, arg: rest.length ? decodeURIComponent(rest.join("/")) : null, params: new URLSearchParams(query || "") };
}

async function refresh(page) {
  const main = document.getElementById("page");
  const banner = document.getElementById("error");
  try {
    await page.update();
    if (page !== current) return;
    banner.hidden = true;
    updates += 1;
    main.dataset.state = "ready";
    main.dataset.updates = String(updates);
    document.getElementById("refreshed").textContent = `updated ${new Date().toISOString().slice(11, 19)}Z`;
  } catch (error) {
    if (page !== current) return;
    banner.hidden = false;
    banner.textContent = `Could not update: ${message(error)}`;
    main.dataset.state = "error";
  }
}

function refreshNow() {
  if (current) refresh(current);
}

function show() {
  const { page, arg, params } = route();
  if (current && current.unmount) current.unmount();
  const main = document.getElementById("page");
  main.replaceChildren();
  main.dataset.page = page;
  main.dataset.state = "loading";
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("active", link.dataset.page === page || (page === "sensor" && link.dataset.page === "sensors"));
  }
  current = PAGES[page];
  current.mount(main, params, arg);
  clearInterval(timer);
  timer = setInterval(refreshNow, REFRESH_MS);
  refreshNow();
}

window.addEventListener("hashchange", show);
show();

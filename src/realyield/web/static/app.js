// realyield dashboard: charts (Plotly, served locally) and the screener table.
// No build step, no framework. Each page embeds its data as JSON (#page-data); the
// screener and job forms call the same REST API as any client.
"use strict";

const RY = {
  real: "#2e7d32",
  emission: "#ef6c00",
  total: "#1f4e79",
  price: "#7b8794",
  income: "#2e7d32",
  drawdown: "#c62828",
  palette: ["#1f4e79", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#c62828", "#827717",
            "#4e342e", "#37474f", "#ad1457"],
};
const PLOT_CONFIG = { displaylogo: false, responsive: true };
const BASE_LAYOUT = {
  margin: { l: 50, r: 20, t: 40, b: 40 },
  font: { family: "system-ui, sans-serif", size: 12 },
  paper_bgcolor: "rgba(0,0,0,0)",
  plot_bgcolor: "rgba(0,0,0,0)",
  legend: { orientation: "h", y: -0.15 },
};

function pageData() {
  const el = document.getElementById("page-data");
  return el ? JSON.parse(el.textContent) : {};
}

function pct(v, digits = 2) {
  return v === null || v === undefined ? "-" : `${v.toFixed(digits)}%`;
}

function usd(v) {
  if (v === null || v === undefined) return "-";
  for (const [unit, size] of [["B", 1e9], ["M", 1e6], ["k", 1e3]]) {
    if (Math.abs(v) >= size) return `$${(v / size).toFixed(1)}${unit}`;
  }
  return `$${v.toFixed(0)}`;
}

function layout(extra) {
  return Object.assign({}, BASE_LAYOUT, extra);
}

// --- reusable charts (also for the planner and backtest pages) ----------------------
function ryDonut(el, title, shares) {
  const labels = Object.keys(shares);
  Plotly.newPlot(el, [{
    type: "pie", hole: 0.55, labels, values: labels.map((k) => shares[k]),
    sort: false, textinfo: "percent", textposition: "inside", hovertemplate: "%{label}: %{percent}<extra></extra>",
    marker: { colors: RY.palette },
  }], layout({ title: { text: title }, showlegend: true, height: 320,
               uniformtext: { minsize: 10, mode: "hide" },
               margin: { l: 10, r: 10, t: 40, b: 10 }, legend: { orientation: "v" } }),
  PLOT_CONFIG);
}

function ryLines(el, title, dates, series, yTitle, extra) {
  const traces = series.map((s) => ({
    type: "scatter", mode: "lines", name: s.name, x: dates, y: s.values,
    line: { color: s.color, width: s.width || 2 }, yaxis: s.yaxis || "y",
    fill: s.fill, fillcolor: s.fillcolor,
  }));
  Plotly.newPlot(el, traces, layout(Object.assign({
    title: { text: title }, height: 380, yaxis: { title: { text: yTitle } },
  }, extra || {})), PLOT_CONFIG);
}

// A fan chart: median line with shaded percentile bands, e.g. bands = [{lo, hi, label}]
// of arrays aligned with x (outermost first). For the planner's Monte Carlo paths.
function ryFan(el, title, x, median, bands, yTitle) {
  const traces = [];
  bands.forEach((b, i) => {
    const alpha = 0.15 + 0.15 * i;
    traces.push({ type: "scatter", mode: "lines", x, y: b.lo, line: { width: 0 },
                  showlegend: false, hoverinfo: "skip" });
    traces.push({ type: "scatter", mode: "lines", x, y: b.hi, fill: "tonexty",
                  fillcolor: `rgba(31,78,121,${alpha})`, line: { width: 0 }, name: b.label });
  });
  traces.push({ type: "scatter", mode: "lines", x, y: median, name: "median",
                line: { color: RY.total, width: 2 } });
  Plotly.newPlot(el, traces, layout({ title: { text: title }, height: 380,
                                      yaxis: { title: { text: yTitle } } }), PLOT_CONFIG);
}

// Submit a job with the page's dashboard token and poll it; resolves to the result.
async function ryJob(path, body, onStatus) {
  const token = document.querySelector('meta[name="dashboard-token"]').content;
  const headers = { "Content-Type": "application/json", "X-Dashboard-Token": token };
  const submitted = await fetch(path, { method: "POST", headers, body: JSON.stringify(body) });
  let job = await submitted.json();
  if (!submitted.ok) throw new Error(errorText(job));
  for (let wait = 250; ; wait = Math.min(wait * 1.5, 2000)) {
    if (onStatus) onStatus(job.status);
    if (job.status === "succeeded") return job.result;
    if (job.status === "failed" || job.status === "cancelled") throw new Error(job.error);
    await new Promise((r) => setTimeout(r, wait));
    const polled = await fetch(`${path}/${job.id}`, { headers });
    job = await polled.json();
    if (!polled.ok) throw new Error(errorText(job));
  }
}

function errorText(body) {
  if (body && body.message) return body.message;
  if (body && typeof body.detail === "string") return body.detail;
  return JSON.stringify(body);
}

// --- pages --------------------------------------------------------------------------
function overviewPage() {
  const indices = pageData().indices.filter((i) => !i.error);
  const names = indices.map((i) => i.title);
  Plotly.newPlot("yield-split", [
    { type: "bar", orientation: "h", name: "real", y: names,
      x: indices.map((i) => i.expected_real_apy), marker: { color: RY.real } },
    { type: "bar", orientation: "h", name: "emissions", y: names,
      x: indices.map((i) => i.expected_emission_apy), marker: { color: RY.emission } },
  ], layout({ barmode: "stack", title: { text: "Expected yield: real vs emissions" },
              xaxis: { title: { text: "APY, %" } }, yaxis: { automargin: true }, height: 320 }),
  PLOT_CONFIG);
}

function levelsChart(el, title, history) {
  const d = history.levels.map((p) => p.date);
  ryLines(el, title, d, [
    { name: "total return", values: history.levels.map((p) => p.level_total), color: RY.total },
    { name: "price", values: history.levels.map((p) => p.level_price), color: RY.price, width: 1 },
    { name: "income", values: history.levels.map((p) => p.level_income), color: RY.income, width: 1 },
    { name: "drawdown", values: history.levels.map((p) => 100 * p.drawdown), color: RY.drawdown,
      width: 1, yaxis: "y2", fill: "tozeroy", fillcolor: "rgba(198,40,40,0.12)" },
  ], "level (base 100)", {
    height: 460,
    yaxis: { title: { text: "level (base 100)" }, domain: [0.34, 1] },
    yaxis2: { title: { text: "drawdown, %" }, domain: [0, 0.26], anchor: "x" },
  });
}

function indexPage() {
  const index = pageData().index;
  if (index.summary.error) return;
  for (const by of ["chain", "protocol", "kind"]) {
    ryDonut(`donut-${by}`, `by ${by}`, index.allocation[by]);
  }
  if (index.history) levelsChart("levels", "Index levels", index.history);
  const form = document.getElementById("replay-form");
  const status = document.getElementById("replay-status");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    const body = { index: index.summary.name, start: data.get("start") };
    if (data.get("end")) body.end = data.get("end");
    status.textContent = "submitting...";
    try {
      const result = await ryJob("/v1/index-levels", body, (s) => { status.textContent = s; });
      const chart = document.getElementById("replay-chart");
      chart.hidden = false;
      levelsChart(chart, `Replay ${result.history.start} to ${result.history.end}`, result.history);
      status.textContent = `done: total return ${pct(100 * result.history.summary.total_return)}`;
    } catch (err) {
      status.textContent = `failed: ${err.message}`;
      status.classList.add("error");
    }
  });
}

function opportunityPage() {
  const opp = pageData().opp;
  for (const score of [opp.sustainability, opp.risk]) {
    const f = score.factors.slice().reverse();
    Plotly.newPlot(`factors-${score.kind}`, [{
      type: "bar", orientation: "h", y: f.map((x) => x.name), x: f.map((x) => x.effect),
      text: f.map((x) => x.explanation), textposition: "none", hovertemplate: "%{y}: %{x:+.2f}<br>%{text}<extra></extra>",
      marker: { color: score.kind === "risk" ? RY.drawdown : RY.real },
    }], layout({ title: { text: `${score.kind} factors (points)` }, height: 70 + 22 * f.length,
                 yaxis: { automargin: true } }), PLOT_CONFIG);
  }
  const h = opp.history;
  const d = h.map((p) => p.date);
  ryLines("apy-history", "Daily APY", d, [
    { name: "base", values: h.map((p) => p.apy_base), color: RY.real, fill: "tozeroy",
      fillcolor: "rgba(46,125,50,0.15)" },
    { name: "reward", values: h.map((p) => p.apy_reward), color: RY.emission },
    { name: "APY", values: h.map((p) => p.apy), color: RY.total, width: 1 },
  ], "APY, %");
}

function screenerPage() {
  const form = document.getElementById("screener-form");
  const body = document.querySelector("#screener-table tbody");
  const more = document.getElementById("screener-more");
  const count = document.getElementById("screener-count");
  let sort = "sustainable";
  let order = null;
  let next = null;

  function query(cursor) {
    const params = new URLSearchParams({ sort, limit: "100" });
    if (order) params.set("order", order);
    const data = new FormData(form);
    for (const name of ["kind", "chain", "min_sustainability", "max_risk"]) {
      if (data.get(name)) params.set(name, data.get(name));
    }
    if (data.get("include_excluded")) params.set("include_excluded", "true");
    if (cursor) params.set("cursor", cursor);
    return params;
  }

  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }

  async function load(append) {
    const res = await fetch(`/v1/opportunities?${query(append ? next : null)}`);
    const page = await res.json();
    if (!res.ok) { count.textContent = errorText(page); return; }
    if (!append) body.replaceChildren();
    for (const r of page.data) {
      const tr = document.createElement("tr");
      const name = document.createElement("td");
      const a = document.createElement("a");
      a.href = `/opportunities/${encodeURIComponent(r.id)}`;
      a.textContent = `${r.protocol} ${r.symbol}`;
      name.appendChild(a);
      tr.append(name, cell(r.kind), cell(r.chain), cell(pct(r.apy), "num"),
                cell(pct(r.apy_sustainable), "num real"), cell(pct(r.forecast_apy_30d), "num"),
                cell(`${r.sustainability.toFixed(0)} ${r.sustainability_grade}`, "num"),
                cell(`${r.risk.toFixed(0)} ${r.risk_grade}`, "num"), cell(usd(r.tvl_usd), "num"),
                cell(r.excluded_reason || "passes", r.excluded ? "error" : "hint"));
      body.appendChild(tr);
    }
    next = page.next_cursor;
    more.hidden = !next;
    count.textContent = `${body.children.length} of ${page.total} shown, sorted by ${sort}` +
      (order ? ` (${order})` : "");
  }

  form.addEventListener("submit", (ev) => { ev.preventDefault(); load(false); });
  more.addEventListener("click", () => load(true));
  for (const th of document.querySelectorAll("#screener-table th[data-sort]")) {
    th.addEventListener("click", () => {
      if (sort === th.dataset.sort) {
        order = order === "asc" ? "desc" : "asc";
      } else {
        sort = th.dataset.sort;
        order = null;
      }
      for (const other of document.querySelectorAll("#screener-table th")) {
        other.classList.remove("sorted");
      }
      th.classList.add("sorted");
      load(false);
    });
  }
  load(false);
}

function plannerPage() {
  const form = document.getElementById("plan-form");
  const status = document.getElementById("plan-status");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    const num = (k) => Number(f.get(k));
    const body = {
      risk: f.get("risk"), horizon_years: num("horizon_years"),
      start_in_years: num("start_in_years"), withdrawal: f.get("withdrawal"),
      tax_income: num("tax_income") / 100, inflation: num("inflation") / 100,
      paths: num("paths"), seed: num("seed"),
    };
    if (f.get("preset")) {
      body.preset = f.get("preset");
      delete body.horizon_years; delete body.start_in_years; delete body.withdrawal;
    } else {
      body.capital = num("capital"); body.income_per_year = num("income_per_year");
    }
    status.textContent = "submitting...";
    status.classList.remove("error");
    try {
      const plan = await ryJob("/v1/plan", body, (s) => { status.textContent = s; });
      document.getElementById("plan-result").hidden = false;
      const v = plan.verdict;
      // the verdict sentence is the library's (planning.goal.verdict_sentence), as the CLI prints it
      const said = document.createElement("strong");
      said.className = `verdict-${v.level}`;
      said.textContent = v.sentence;
      const figures = document.createElement("span");
      figures.innerHTML = ` Blended APY ` +
        `${pct(plan.blended_apy.headline)} (real ${pct(plan.blended_apy.real)}, emissions ` +
        `${pct(plan.blended_apy.emission)}). Success probability ` +
        `<strong id="plan-success">${pct(100 * plan.outcomes.success_probability, 1)}</strong> ` +
        `of ${plan.outcomes.paths} paths.`;
      document.getElementById("plan-verdict").replaceChildren(said, figures);
      const list = (id, items) => {
        const ul = document.getElementById(id);
        ul.replaceChildren(...items.map((t) => { const li = document.createElement("li"); li.textContent = t; return li; }));
      };
      list("plan-reasons", v.reasons);
      list("plan-notes", plan.notes);
      ryDonut("plan-allocation", "Allocation", plan.allocation);
      const o = plan.outcomes;
      ryFan("plan-fan", "Capital, today's dollars", o.years, o.capital_real.p50, [
        { label: "5-95%", lo: o.capital_real.p5, hi: o.capital_real.p95 },
        { label: "25-75%", lo: o.capital_real.p25, hi: o.capital_real.p75 },
      ], "USD");
      Plotly.relayout("plan-fan", { "yaxis.range": [0, o.capital_real_chart_top] });  // median visible
      Plotly.newPlot("plan-income", [
        { type: "bar", x: o.years, y: o.income_from_yield, name: "from yield", marker: { color: RY.income } },
        { type: "bar", x: o.years, y: o.income_from_principal, name: "from principal", marker: { color: RY.emission } },
        { type: "scatter", mode: "lines", x: o.years, y: o.goal_by_year, name: "goal", line: { color: "#000" } },
      ], layout({ barmode: "stack", title: { text: "Income a year (mean, nominal USD)" }, height: 320 }), PLOT_CONFIG);
      status.textContent = "done";
    } catch (err) {
      status.textContent = `failed: ${err.message}`;
      status.classList.add("error");
    }
  });
}

function backtestPage() {
  const form = document.getElementById("backtest-form");
  const status = document.getElementById("backtest-status");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    const body = { index: f.get("index") };
    for (const k of ["start", "end", "rebalance"]) if (f.get(k)) body[k] = f.get(k);
    status.textContent = "submitting...";
    status.classList.remove("error");
    try {
      const bt = await ryJob("/v1/backtest", body, (s) => { status.textContent = s; });
      document.getElementById("backtest-result").hidden = false;
      const rows = Object.entries(bt.metrics).map(([k, v]) => {
        const tr = document.createElement("tr");
        const a = document.createElement("td"); a.textContent = k;
        const b = document.createElement("td"); b.className = "num";
        b.textContent = typeof v === "number" ? v.toFixed(4) : String(v);
        tr.append(a, b); return tr;
      });
      document.querySelector("#backtest-metrics tbody").replaceChildren(...rows);
      const d = bt.daily.map((p) => p.date);
      ryLines("backtest-equity", `${bt.name} ${bt.start} to ${bt.end}`, d, [
        { name: "value", values: bt.daily.map((p) => p.value), color: RY.total },
        { name: "drawdown, %", values: bt.daily.map((p) => 100 * p.drawdown), color: RY.drawdown,
          width: 1, yaxis: "y2", fill: "tozeroy", fillcolor: "rgba(198,40,40,0.12)" },
      ], "USD", {
        height: 460,
        yaxis: { title: { text: "USD" }, domain: [0.34, 1] },
        yaxis2: { title: { text: "drawdown, %" }, domain: [0, 0.26], anchor: "x" },
      });
      const ul = document.getElementById("backtest-notes");
      ul.replaceChildren(...bt.notes.map((t) => { const li = document.createElement("li"); li.textContent = t; return li; }));
      status.textContent = "done";
    } catch (err) {
      status.textContent = `failed: ${err.message}`;
      status.classList.add("error");
    }
  });
}

function reviewPage() {
  const form = document.getElementById("review-form");
  const status = document.getElementById("review-status");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    const body = { quarter: f.get("quarter"), index: f.get("index"),
                   capital_usd: Number(f.get("capital_usd")) };
    status.textContent = "submitting...";
    status.classList.remove("error");
    try {
      const r = await ryJob("/v1/review", body, (s) => { status.textContent = s; });
      document.getElementById("review-result").hidden = false;
      document.getElementById("review-summary").textContent =
        `${r.quarter} (${r.start} to ${r.end}): earned ${usd(r.earned_usd)} against ` +
        `${usd(r.expected_usd)} expected (${r.earned_basis}).`;
      const h = r.holdings;
      Plotly.newPlot("review-chart", [
        { type: "bar", x: h.map((x) => x.label), y: h.map((x) => x.expected_usd), name: "expected", marker: { color: RY.price } },
        { type: "bar", x: h.map((x) => x.label), y: h.map((x) => x.earned_usd), name: "earned", marker: { color: RY.income } },
      ], layout({ barmode: "group", title: { text: "Yield by holding, USD" }, height: 380 }), PLOT_CONFIG);
      document.getElementById("review-markdown").textContent = r.markdown;
      status.textContent = "done";
    } catch (err) {
      status.textContent = `failed: ${err.message}`;
      status.classList.add("error");
    }
  });
}

function portfolioPage() {
  const ledger = pageData().ledger;
  if (!ledger) return;
  // the year picker reloads the page (no inline handler: the CSP allows no inline script)
  const years = document.getElementById("year-form");
  years.elements.year.addEventListener("change", () => years.submit());
  const cost = {};
  for (const h of ledger.holdings) if (Number(h.cost) > 0) cost[h.asset] = Number(h.cost);
  ryDonut("holdings-donut", "Holdings by cost basis", cost);
  const cats = Object.keys(ledger.income.categories);
  Plotly.newPlot("income-bars", [{
    type: "bar", x: cats, y: cats.map((k) => Number(ledger.income.categories[k].value)),
    marker: { color: RY.income }, name: "income",
  }], layout({ title: { text: `Income ${ledger.year}, ${ledger.income.fiat}` }, height: 320 }), PLOT_CONFIG);
}

const PAGES = {
  overview: overviewPage,
  index: indexPage,
  opportunity: opportunityPage,
  screener: screenerPage,
  planner: plannerPage,
  backtest: backtestPage,
  review: reviewPage,
  portfolio: portfolioPage,
};

document.addEventListener("DOMContentLoaded", () => {
  const run = PAGES[document.body.dataset.page];
  if (run) run();
});

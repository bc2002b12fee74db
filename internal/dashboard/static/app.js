// shoal's dashboard: renders the state the server streams (/events),
// follows a task's output (/logs/{id}), shows the stack file's diff
// (/api/stack) before deploying it, and posts the actions to /api/… (faults:
// POST and DELETE /api/faults). The token travels in the cookie the page's
// first load set. A reconnected stream sends the recent events again.
"use strict";

const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
let state = null;
// history keeps a minute of each group's ("g|name") and target's
// ("t|group|address") rates, one {r, e4, e5} a second, for the charts.
const history = {};
const HISTORY = 60;
let logStream = null; // the EventSource of the task whose logs are shown

function render() {
  if (!state) return;
  $("stack").textContent = state.stack;
  $("listeners").innerHTML = state.listeners.map((l) => `
    <div class="box" data-listener="${esc(l.name)}">
      <h3>${esc(l.name)}</h3>
      <div class="dim">${esc(l.protocol)}://${esc(l.address)}</div>
      <div class="arrow">→ ${l.target_groups.map(esc).join(", ") || "no target group"}</div>
    </div>`).join("");
  const taskAt = {}; // group|address → task
  for (const t of state.tasks) if (t.target_group && t.address) taskAt[t.target_group + "|" + t.address] = t;
  const targetOf = {}; // task id → target
  const faultOn = faultsOn(state.faults || []);
  $("groups").innerHTML = state.target_groups.map((g) => `
    <div class="box" data-group="${esc(g.name)}"${marked(faultOn["group|" + g.name])}>
      <h3>${esc(g.name)}
        <button data-inject="errors" title="answer half the requests with 503 for 30 s">errors 50% 30s</button>
        <button data-inject="latency" title="delay every request by 500 ms for 30 s">latency 500ms 30s</button></h3>
      <div class="metrics">${stats(g)}
        <canvas class="spark" width="120" height="26" data-spark="g|${esc(g.name)}"
          title="last minute: requests/s (blue), 4xx/s (orange), 5xx/s (red)"></canvas>
      </div>
      ${g.targets.map((t) => {
        const task = taskAt[g.name + "|" + t.target];
        if (task) targetOf[task.id] = t;
        const ts = (g.target_stats || {})[t.target];
        return `<div class="target" data-target="${esc(t.target)}" data-state="${esc(t.state)}" title="${esc(t.description)}"${marked(faultOn["target|" + g.name + "|" + t.target])}>
          <div class="row"><span>${esc(t.target)}${task ? ` <span class="dim">${esc(task.id.slice(0, 12))}</span>` : ""}</span>
          <span><span class="state ${esc(t.state)}">${esc(t.state)}</span> <span class="dim">${esc(t.reason)}</span>
            <button data-inject="fail-health" title="fail this target's health checks for 30 s">fail health 30s</button></span></div>
          ${ts ? `<div class="metrics small">${stats(ts)}
            <canvas class="spark" width="80" height="16" data-spark="t|${esc(g.name)}|${esc(t.target)}"></canvas></div>` : ""}
        </div>`;
      }).join("") || `<div class="dim">no targets</div>`}
    </div>`).join("");
  $("instances").innerHTML = state.instances.map((i) => `
    <div class="box instance" data-instance="${esc(i.name)}" data-status="${esc(i.status)}">
      <h3>${esc(i.name)} <span class="dim">${esc(i.address)}</span> <span class="state ${esc(i.status)}">${esc(i.status)}</span>
        ${["drain", "activate", "stop"].map((a) => `<button data-instance-action="${a}">${a}</button>`).join(" ")}</h3>
      <div class="tasks">${state.tasks.filter((t) => t.instance === i.name).map((t) => {
        const tg = targetOf[t.id];
        const health = tg ? tg.state : (t.health || "");
        return `<div class="task" data-task="${esc(t.id)}" data-status="${esc(t.last_status)}" data-health="${esc(health)}"${marked(faultOn["task|" + t.id])}>
          <div><b>${esc(t.service)}</b> <span class="id" title="${esc(t.id)}">${esc(t.id.slice(0, 12))}</span></div>
          <div><span class="state ${esc(t.last_status)}">${esc(t.last_status)}</span>
            ${health ? `<span class="state ${esc(health)}">${esc(health)}</span>` : ""}
            ${tg && tg.reason ? `<span class="dim">${esc(tg.reason)}</span>` : ""}</div>
          <div class="dim">${esc(t.address)}</div>
          <button class="stop" data-stop="${esc(t.id)}">stop</button>
          <button data-logs="${esc(t.id)}" title="follow this task's output">logs</button>
          <button data-inject="kill-task" title="SIGKILL: it exits at once, without a drain">kill</button>
          <button data-inject="pause-task" title="SIGSTOP for 30 s, then SIGCONT">pause 30s</button>
        </div>`;
      }).join("") || `<span class="dim">no tasks</span>`}</div>
    </div>`).join("");
  renderSecurityGroups();
  renderFaults();
  renderServices();
  drawSparks();
}

// stats is a group's or a target's numbers: rates over the last second,
// response time percentiles over the last few.
function stats(s) {
  const ms = (v) => v ? `${v < 10 ? v.toFixed(1) : Math.round(v)} ms` : "–";
  return `<span title="requests per second"><b data-rps>${s.requests_per_second}</b> req/s</span>
    <span title="4xx per second" class="${s.errors_4xx_per_second > 0 ? "warn" : ""}"><b data-4xx>${s.errors_4xx_per_second}</b> 4xx/s</span>
    <span title="5xx per second (the targets' and the load balancer's)" class="${s.errors_5xx_per_second > 0 ? "unhealthy" : ""}"><b data-5xx>${s.errors_5xx_per_second}</b> 5xx/s</span>
    <span title="target response time: median, 99th percentile (last 5 s)" data-latency>p50 ${ms(s.p50_ms)} · p99 ${ms(s.p99_ms)}</span>`;
}

// renderSecurityGroups shows each group with its rules and what it
// guards, and puts a badge on the listeners it guards.
function renderSecurityGroups() {
  const groups = state.security_groups || [];
  for (const g of groups) {
    for (const l of g.listeners) {
      const el = $("listeners").querySelector(`[data-listener="${CSS.escape(l)}"] h3`);
      if (el) el.insertAdjacentHTML("beforeend", ` <span class="sg" title="security group">${esc(g.name)}</span>`);
    }
  }
  $("secgroups").innerHTML = groups.map((g) => `
    <div class="box" data-secgroup="${esc(g.name)}">
      <h3><span class="sg">${esc(g.name)}</span>
        <span class="dim">${[...g.listeners.map((l) => "listener " + l), ...(g.instances ? ["the instances" + (state.isolated ? "" : " (not enforced: isolation none)")] : [])].map(esc).join(", ") || "guards nothing"}</span></h3>
      ${g.rules.map((r) => `<div class="dim">${esc(r)}</div>`).join("") || `<div class="dim">no rule: nothing may connect</div>`}
    </div>`).join("") || `<span class="dim">none: anyone may connect</span>`;
}

// faultsOn maps what the active faults act on to their ids:
// "task|id", "target|group|address" and "group|name".
function faultsOn(faults) {
  const on = {};
  for (const f of faults) {
    if (f.kind === "pause-task") on["task|" + f.task] = f.id;
    else if (f.kind === "fail-health") on["target|" + f.target_group + "|" + f.target] = f.id;
    else if (f.kind === "latency" || f.kind === "errors") on["group|" + f.target_group] = f.id;
  }
  return on;
}

// marked is the attributes of something under fault id (none without).
const marked = (id) => id ? ` data-fault="${esc(id)}"` : "";

// describe says what a fault does, in the words of its event.
function describe(f) {
  const pct = `${Math.round((f.fraction || 1) * 10000) / 100}%`;
  switch (f.kind) {
    case "pause-task": return `task ${f.task.slice(0, 12)} paused (SIGSTOP)`;
    case "stop-instance": return `container instance ${f.instance} stopped, as a failed host`;
    case "fail-health": return `target ${f.target} in target-group ${f.target_group} fails its health checks`;
    case "latency": return `target-group ${f.target_group} delays ${pct} of its requests by ${f.delay}`;
    case "errors": return `target-group ${f.target_group} answers ${pct} of its requests with ${f.status}`;
  }
  return f.kind;
}

// renderFaults lists the active faults, each with an undo button.
function renderFaults() {
  $("faults").innerHTML = (state.faults || []).map((f) => `
    <div class="box fault" data-fault-id="${esc(f.id)}">
      <b>${esc(f.id)}</b> ${esc(describe(f))}
      <div class="dim">${f.until ? `until ${esc(new Date(f.until).toLocaleTimeString())}` : "until activated"}
        <button data-undo="${esc(f.id)}">undo</button></div>
    </div>`).join("") || `<span class="dim">none</span>`;
}

// faultRequest is the fault.Request of an inject button, from what it
// sits in.
function faultRequest(b) {
  const kind = b.dataset.inject;
  const group = b.closest("[data-group]")?.dataset.group;
  switch (kind) {
    case "kill-task": return {kind, task: b.closest("[data-task]").dataset.task};
    case "pause-task": return {kind, task: b.closest("[data-task]").dataset.task, for: "30s"};
    case "fail-health": return {kind, target_group: group, target: b.closest("[data-target]").dataset.target, for: "30s"};
    case "errors": return {kind, target_group: group, fraction: 0.5, status: 503, for: "30s"};
    case "latency": return {kind, target_group: group, delay: "500ms", for: "30s"};
  }
}

// renderServices keeps each service's box (and what is typed in its
// count) and updates its numbers and deployments.
function renderServices() {
  const root = $("services");
  const names = state.services.map((s) => s.name);
  for (const el of [...root.children]) if (!names.includes(el.dataset.service)) el.remove();
  for (const s of state.services) {
    let el = root.querySelector(`[data-service="${CSS.escape(s.name)}"]`);
    if (!el) {
      el = document.createElement("div");
      el.className = "box service";
      el.dataset.service = s.name;
      el.innerHTML = `<h3></h3><div class="counts dim"></div>
        <div class="row"><input type="number" min="0" max="1000" aria-label="desired count of ${esc(s.name)}">
        <button data-scale>scale</button></div><div class="deployments"></div>`;
      el.querySelector("input").value = s.desired;
      root.appendChild(el);
    }
    el.querySelector("h3").innerHTML = `${esc(s.name)} <span class="dim">${esc(s.task_definition)}</span>`;
    el.querySelector(".counts").textContent =
      `desired ${s.desired} · running ${s.running} · pending ${s.pending} · healthy ${s.healthy}${s.steady_state ? " · steady" : ""}`;
    el.querySelector(".deployments").innerHTML = (s.deployments || []).map((d) => {
      const pct = d.desired > 0 ? Math.min(100, Math.round(100 * d.running / d.desired)) : 100;
      return `<div class="deployment" data-deployment="${esc(d.id)}">
        <span class="state ${esc(d.status)}">${esc(d.status)}</span> ${esc(d.task_definition)}
        <span class="state ${esc(d.rollout)}">${esc(d.rollout)}</span>
        <span data-progress title="running of desired, and how many of them are healthy">${d.running}/${d.desired} running · ${d.healthy} healthy</span>
        ${d.failure_threshold ? `<span class="breaker ${d.failed_tasks > 0 ? "warn" : "dim"}" data-breaker
          title="the circuit breaker fails the deployment at ${d.failure_threshold} tasks failed in a row">circuit breaker ${d.failed_tasks}/${d.failure_threshold} failed</span>` : ""}
        <div class="bar"><div style="width:${pct}%"></div></div>
        ${d.reason ? `<div class="dim">${esc(d.reason)}</div>` : ""}</div>`;
    }).join("");
  }
  const filter = $("filter");
  for (const n of names) {
    if (![...filter.options].some((o) => o.value === n)) filter.add(new Option(n, n));
  }
}

// drawSparks draws each chart's minute: requests/s in blue, 4xx/s in
// orange, 5xx/s in red, on one scale.
function drawSparks() {
  for (const c of document.querySelectorAll("canvas[data-spark]")) {
    const h = history[c.dataset.spark] || [];
    const ctx = c.getContext("2d");
    ctx.clearRect(0, 0, c.width, c.height);
    const max = Math.max(1, ...h.map((p) => p.r));
    for (const [key, color] of [["r", "#2b6cb0"], ["e4", "#b7791f"], ["e5", "#c53030"]]) {
      if (key !== "r" && !h.some((p) => p[key] > 0)) continue;
      ctx.strokeStyle = color;
      ctx.beginPath();
      h.forEach((p, i) => {
        const x = c.width - (h.length - 1 - i) * (c.width / (HISTORY - 1));
        const y = c.height - 1 - (p[key] / max) * (c.height - 2);
        i ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
      });
      ctx.stroke();
    }
  }
}

// Once a second, each group's and target's rates go into their charts.
setInterval(() => {
  if (!state) return;
  const add = (key, s) => {
    const h = (history[key] ||= []);
    h.push({r: s.requests_per_second || 0, e4: s.errors_4xx_per_second || 0, e5: s.errors_5xx_per_second || 0});
    if (h.length > HISTORY) h.shift();
  };
  for (const g of state.target_groups) {
    add("g|" + g.name, g);
    for (const [addr, ts] of Object.entries(g.target_stats || {})) add(`t|${g.name}|${addr}`, ts);
  }
  drawSparks();
}, 1000);

// showLogs follows a task's output in the logs panel until it stops or
// another task's logs are asked for.
function showLogs(id) {
  if (logStream) logStream.close();
  const pre = $("log-text");
  pre.textContent = "";
  $("logs-title").textContent = `task ${id.slice(0, 12)}`;
  $("logs").hidden = false;
  logStream = new EventSource(`/logs/${encodeURIComponent(id)}`);
  logStream.addEventListener("logs", (m) => {
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.textContent = (pre.textContent + JSON.parse(m.data)).slice(-200000);
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  });
  logStream.addEventListener("end", (m) => {
    const e = JSON.parse(m.data);
    pre.textContent += `\n[${e.last_status}${e.exit ? ": " + e.exit : ""}${e.stopped_reason ? " · " + e.stopped_reason : ""}]\n`;
    logStream.close();
    logStream = null;
  });
}

function closeLogs() {
  if (logStream) logStream.close();
  logStream = null;
  $("logs").hidden = true;
}

// showDeploy fetches the diff deploying the stack file on disk would
// apply, and shows it with a deploy button.
let pending = null; // the StackChange shown
async function showDeploy() {
  $("deploy").hidden = false;
  $("deploy-diff").textContent = "reading the stack file…";
  $("deploy-go").disabled = true;
  $("deploy-result").textContent = "";
  const r = await fetch("/api/stack");
  const body = await r.json().catch(() => ({error: r.statusText}));
  if (!r.ok) {
    $("deploy-diff").textContent = body.error;
    return;
  }
  pending = body;
  $("deploy-file").textContent = body.file;
  if (!body.diff) {
    $("deploy-diff").textContent = "The file on disk is the stack that runs: nothing to deploy.";
    return;
  }
  $("deploy-diff").innerHTML = body.diff.split("\n").map((l) =>
    `<span class="${l.startsWith("@@") ? "hunk" : l.startsWith("+") ? "add" : l.startsWith("-") ? "del" : ""}">${esc(l)}</span>`).join("\n");
  $("deploy-go").disabled = false;
}

async function deploy() {
  $("deploy-go").disabled = true;
  const r = await fetch("/api/stack/deploy", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({digest: pending.digest})});
  const body = await r.json().catch(() => ({error: r.statusText}));
  if (!r.ok) {
    $("deploy-result").textContent = body.error;
    $("deploy-result").className = "error-text";
    return;
  }
  $("deploy-result").className = "";
  $("deploy-result").textContent = body.length
    ? "Started: " + body.map((d) => `${d.service} ${d.deployment} (${d.task_definition}${d.replaces ? ", replacing " + d.replaces : ""})`).join("; ")
    : "Applied: no service's task definition or target group changed, so no deployment started.";
}

function addEvent(ev) {
  const li = document.createElement("li");
  li.dataset.service = ev.service || "";
  const t = new Date(ev.time);
  li.innerHTML = `<time datetime="${esc(ev.time)}">${esc(t.toLocaleTimeString())}</time>${esc(ev.message)}`;
  li.hidden = !shown(li);
  const list = $("events");
  list.prepend(li);
  while (list.children.length > 500) list.lastChild.remove();
}

const shown = (li) => !$("filter").value || li.dataset.service === $("filter").value;
$("filter").addEventListener("change", () => {
  for (const li of $("events").children) li.hidden = !shown(li);
});

const post = (path, body) => send("POST", path, body);

async function send(method, path, body) {
  $("error").textContent = "";
  try {
    const r = await fetch(path, {method, headers: {"Content-Type": "application/json"}, body: JSON.stringify(body || {})});
    if (!r.ok) {
      const e = await r.json().catch(() => ({error: r.statusText}));
      $("error").textContent = e.error;
    }
  } catch (e) {
    $("error").textContent = String(e);
  }
}

document.addEventListener("click", (e) => {
  const b = e.target.closest("button");
  if (!b) return;
  if (b.dataset.stop) {
    b.disabled = true;
    post(`/api/tasks/${encodeURIComponent(b.dataset.stop)}/stop`);
  } else if (b.dataset.logs) {
    showLogs(b.dataset.logs);
  } else if (b.id === "logs-close") {
    closeLogs();
  } else if (b.id === "deploy-open") {
    showDeploy();
  } else if (b.id === "deploy-go") {
    deploy();
  } else if (b.id === "deploy-close") {
    $("deploy").hidden = true;
  } else if (b.dataset.instanceAction) {
    const name = b.closest("[data-instance]").dataset.instance;
    post(`/api/instances/${encodeURIComponent(name)}/${b.dataset.instanceAction}`);
  } else if (b.dataset.inject) {
    post("/api/faults", faultRequest(b));
  } else if (b.dataset.undo) {
    b.disabled = true;
    send("DELETE", `/api/faults/${encodeURIComponent(b.dataset.undo)}`);
  } else if ("scale" in b.dataset) {
    const el = b.closest("[data-service]");
    post(`/api/services/${encodeURIComponent(el.dataset.service)}/scale`, {desired: Number(el.querySelector("input").value)});
  }
});

function connect() {
  const es = new EventSource("/events");
  es.addEventListener("open", () => { $("events").replaceChildren(); $("conn").textContent = "live"; $("conn").className = "conn on"; });
  es.addEventListener("error", () => { $("conn").textContent = "reconnecting…"; $("conn").className = "conn off"; });
  es.addEventListener("state", (m) => { state = JSON.parse(m.data); render(); });
  es.addEventListener("event", (m) => addEvent(JSON.parse(m.data)));
}
connect();

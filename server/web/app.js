// SPDX-License-Identifier: Apache-2.0
// bootwave console: one page, the REST API of bootwaved with the token the
// operator signs in with (kept in sessionStorage, this tab only). No
// framework and nothing from the internet; every element is built with the
// DOM, so no text from the API is ever parsed as HTML.

const STATES = ["new", "provisioning", "active", "reimaging", "waiting_health",
  "rolled_back", "failed", "maintenance", "quarantined"];
const STATE_LABEL = {
  new: "new", provisioning: "provisioning", active: "active", reimaging: "reimaging",
  waiting_health: "waiting for health", rolled_back: "rolled back", failed: "failed",
  maintenance: "maintenance", quarantined: "quarantined",
};
const $ = (id) => document.getElementById(id);

// ---- API ----

class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `HTTP ${status}`);
    this.status = status;
  }
}

async function api(path, options = {}) {
  const headers = { Accept: "application/json", Authorization: `Bearer ${token()}` };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(`/api/v1${path}`, {
    method: options.method || "GET",
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await res.text();
  const body = text ? JSON.parse(text) : null;
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

// Every page of a list, in pages of the appliance's own size ([api] page_size).
async function listAll(path) {
  const items = [];
  let after = null;
  do {
    const page = await api(`/${path}${after ? `?after=${encodeURIComponent(after)}` : ""}`);
    items.push(...page.items);
    after = page.next;
  } while (after);
  return items;
}

const token = () => sessionStorage.getItem("bootwave.token") || "";

// ---- DOM helpers ----

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") e.textContent = v;
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

const SECTIONS = ["login", "fleet", "pools", "pool", "node", "images"];
const NAV = { fleet: "nav-fleet", pools: "nav-pools", pool: "nav-pools", node: "nav-fleet", images: "nav-images" };

function show(sectionId) {
  for (const id of SECTIONS) $(id).hidden = id !== sectionId;
  for (const a of document.querySelectorAll("nav a")) a.removeAttribute("aria-current");
  if (NAV[sectionId]) $(NAV[sectionId]).setAttribute("aria-current", "page");
}

const ROLE_RANK = { viewer: 1, operator: 2, admin: 3 };
const can = (role) => me && (ROLE_RANK[me.role] || 0) >= ROLE_RANK[role];

const when = (t) => (t ? new Date(typeof t === "number" ? t * 1000 : t).toISOString().replace(".000Z", "Z") : "");

function fail(err) {
  if (err instanceof ApiError && err.status === 401) {
    sessionStorage.removeItem("bootwave.token");
    signIn(err.message);
    return;
  }
  $("error").textContent = `Error: ${err.message}`;
}

// ---- sign in ----

let me = null; // whoami: {name, role}

function signIn(message) {
  stopLive();
  me = null;
  $("who").textContent = "";
  $("signout").hidden = true;
  $("login-error").textContent = message || "";
  show("login");
  $("token").focus();
}

async function start() {
  $("error").textContent = "";
  if (!token()) return signIn();
  try {
    me = await api("/whoami");
  } catch (err) {
    return fail(err);
  }
  $("who").textContent = `${me.name} (${me.role})`;
  $("signout").hidden = false;
  route();
}

$("login-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  sessionStorage.setItem("bootwave.token", $("token").value.trim());
  $("token").value = "";
  start();
});
$("signout").addEventListener("click", () => {
  stopLive();
  sessionStorage.removeItem("bootwave.token");
  signIn("Signed out.");
});

// ---- fleet ----

const fleet = { sites: [], zones: [], racks: [], nodes: [], pools: [] };

function nodeState(n) {
  return n.quarantined ? "quarantined" : n.state;
}

function fillSelect(select, values, label) {
  const keep = select.value;
  select.replaceChildren(el("option", { value: "", text: `all ${label}` }),
    ...values.map((v) => el("option", { value: v, text: STATE_LABEL[v] && label === "states" ? STATE_LABEL[v] : v })));
  if (values.includes(keep)) select.value = keep;
}

async function loadFleet() {
  const [sites, zones, racks, nodes, pools] = await Promise.all(
    ["sites", "zones", "racks", "nodes", "pools"].map(listAll));
  Object.assign(fleet, { sites, zones, racks, nodes, pools });
  fillSelect($("f-pool"), pools.map((p) => p.name), "pools");
  fillSelect($("f-version"), [...new Set(nodes.map((n) => n.installed_version).filter(Boolean))].sort(), "versions");
  fillSelect($("f-state"), STATES, "states");
  drawFleet();
}

function nodeItem(n) {
  const st = nodeState(n);
  const version = n.installed_version ? `${n.installed_image || ""}@${n.installed_version}` : "no image";
  const fd = n.fault_domain === null || n.fault_domain === undefined ? "-" : n.fault_domain;
  return el("li", { class: "node", "data-state": st, "data-node": n.name },
    el("span", { class: "dot", "aria-hidden": "true" }),
    el("span", {},
      el("a", { class: "name", href: `#/node/${encodeURIComponent(n.name)}`, text: n.name }), " ",
      el("span", { class: "meta", text: `${version} · FD ${fd} · UD ${n.update_domain}${n.pool ? ` · pool ${n.pool}` : ""}` })),
    el("span", { class: "state", text: STATE_LABEL[st] || st }));
}

function rackBox(title, fd, nodes, label = `rack ${title}`) {
  return el("section", { class: "rack", "aria-label": label },
    el("h5", {}, title, el("span", { text: fd === null || fd === undefined ? "" : `FD ${fd}` })),
    el("ol", {}, ...nodes.map(nodeItem)));
}

function drawFleet() {
  const pool = $("f-pool").value, version = $("f-version").value, state = $("f-state").value;
  const shown = fleet.nodes.filter((n) => (!pool || n.pool === pool) &&
    (!version || n.installed_version === version) && (!state || nodeState(n) === state));
  $("fleet-count").textContent = `${shown.length} of ${fleet.nodes.length} nodes`;
  const byRack = new Map(), byZone = new Map();
  for (const n of shown) {
    if (n.rack) byRack.set(n.rack, [...(byRack.get(n.rack) || []), n]);
    else byZone.set(n.zone || "", [...(byZone.get(n.zone || "") || []), n]);
  }
  const zoneBlock = (z) => {
    const racks = fleet.racks.filter((r) => r.zone === z.name && byRack.has(r.name))
      .map((r) => rackBox(r.name, r.fault_domain, byRack.get(r.name)));
    const loose = byZone.get(z.name);
    if (loose) racks.push(rackBox("not in a rack", null, loose, `nodes of zone ${z.name} not in a rack`));
    return racks.length ? el("section", { class: "zone", "aria-label": `zone ${z.name}` },
      el("h4", { text: `zone ${z.name}` }), el("div", { class: "racks" }, ...racks)) : null;
  };
  const blocks = fleet.sites.map((s) => {
    const zones = fleet.zones.filter((z) => z.site === s.name).map(zoneBlock).filter(Boolean);
    return zones.length ? el("section", { class: "site", "aria-label": `site ${s.name}` },
      el("h3", { text: `site ${s.name}` }), ...zones) : null;
  }).filter(Boolean);
  const nowhere = byZone.get("");
  if (nowhere) blocks.push(el("section", { class: "site", "aria-label": "without a site" },
    el("h3", { text: "without a site" }), el("section", { class: "zone" }, el("h4", { text: "without a zone" }),
      el("div", { class: "racks" }, rackBox("not in a rack", null, nowhere, "nodes without a zone")))));
  $("fleet-sites").replaceChildren(...blocks);
}

for (const id of ["f-pool", "f-version", "f-state"]) $(id).addEventListener("change", drawFleet);

document.querySelector(".legend").replaceChildren(
  ...STATES.map((s) => el("li", { "data-state": s, text: STATE_LABEL[s] })));

// ---- pools ----

// A value as a definition list shows it: "-" for none, objects as JSON.
const dash = (v) => (v === null || v === undefined || v === "" ? "-" : typeof v === "object" ? JSON.stringify(v) : String(v));
const kv = (pairs) => pairs.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: dash(v) })]);

async function loadPools() {
  const [pools, nodes] = await Promise.all([listAll("pools"), listAll("nodes")]);
  $("pools-rows").replaceChildren(...pools.map((p) => el("tr", {},
    el("th", { scope: "row" }, el("a", { href: `#/pool/${encodeURIComponent(p.name)}`, text: p.name })),
    el("td", { text: p.image }), el("td", { text: p.image_version }),
    el("td", { text: p.auto_upgrade ? "on" : "off" }),
    el("td", { text: String(nodes.filter((n) => n.pool === p.name).length) }))));
}

// The live rollout of the pool on screen: a server-sent event stream read
// with fetch (an EventSource cannot send the token), opened again 2 s after
// it ends, until the view changes.
let live = null; // AbortController of the stream

function stopLive() {
  if (live) live.abort();
  live = null;
}

async function streamRollout(pool, ctl, onRollout) {
  while (!ctl.signal.aborted) {
    try {
      const res = await fetch(`/api/v1/pools/${encodeURIComponent(pool)}/rollout/events`,
        { headers: { Authorization: `Bearer ${token()}`, Accept: "text/event-stream" }, signal: ctl.signal });
      if (!res.ok) {
        const body = await res.json().catch(() => null);
        throw new ApiError(res.status, body);
      }
      $("live").textContent = "Live: updates as the rollout moves.";
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let end;
        while ((end = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          let event = "message", data = "";
          for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) event = line.slice(7);
            else if (line.startsWith("data: ")) data += line.slice(6);
          }
          if (event === "rollout") onRollout(JSON.parse(data));
        }
      }
    } catch (err) {
      if (ctl.signal.aborted) return;
      if (err instanceof ApiError) return fail(err);
    }
    if (ctl.signal.aborted) return;
    $("live").textContent = "Connection lost; connecting again.";
    await new Promise((r) => setTimeout(r, 2000));
  }
}

function drawRollout(pool, ro) {
  const box = $("rollout"), actions = $("rollout-actions");
  const running = ro && ro.status === "RollingForward";
  if (!ro) box.replaceChildren(el("p", { text: `Pool ${pool} has had no rollout.` }));
  else {
    const p = ro.progress, done = ro.nodes.filter((n) => n.finished_at).length;
    const nextBatch = running ? Math.max(0, ...ro.nodes.map((n) => n.batch)) : null;
    box.replaceChildren(
      el("p", {}, `Rollout ${ro.id} of ${ro.extension ? `extension ${ro.extension}` : ro.image} to ${ro.version}: `,
        el("span", { id: "rollout-status", class: `status-${ro.status}`, text: ro.status }),
        ro.cancel_requested && running ? " (cancel requested: the current batch finishes, no new one starts)" : "",
        ro.message ? ` - ${ro.message}` : ""),
      el("ul", { class: "counts", "aria-label": "Progress" },
        el("li", { "data-count": "successful", text: `${p.successful} done` }),
        el("li", { "data-count": "in_progress", text: `${p.in_progress} in progress` }),
        el("li", { "data-count": "pending", text: `${p.pending} waiting` }),
        el("li", { "data-count": "failed", text: `${p.failed} failed` }),
        el("li", { "data-count": "skipped", text: `${p.skipped} skipped` }),
        el("li", { text: `${ro.rollback.rolled_back} rolled back` })),
      el("p", { text: `Batches: ${ro.batches} started${running ? `, batch ${nextBatch} now` : ""}; ` +
        `${done} of ${ro.nodes.length} nodes finished` +
        (running && ro.eta ? `; about ${Math.round(ro.eta / 60)} min left` : "") +
        `. Started ${when(ro.started_at)} by ${ro.started_by_name || ro.started_by}` +
        (ro.completed_at ? `, ended ${when(ro.completed_at)}` : "") + "." }),
      el("table", {},
        el("thead", {}, el("tr", {}, ...["Node", "Batch", "Phase", "Since", "From version", "Reason"]
          .map((h) => el("th", { scope: "col", text: h })))),
        el("tbody", { id: "rollout-nodes" }, ...ro.nodes.map((n) => el("tr", { "data-node": n.node, "data-phase": n.phase },
          el("th", { scope: "row" }, n.node), el("td", { text: n.batch ? String(n.batch) : "" }),
          el("td", { text: n.phase }), el("td", { text: when(n.phase_at) }),
          el("td", { text: n.previous_version }), el("td", { text: n.reason }))))));
  }
  // The buttons follow the role: a viewer gets none, and is told why.
  if (!can("operator")) {
    actions.replaceChildren(el("p", { class: "help", text: `Your token's role (${me.role}) can look but not act.` }));
    return;
  }
  const buttons = [];
  if (!running) buttons.push(el("button", { type: "button", id: "start-rollout", text: "Start rollout" }));
  else if (!ro.cancel_requested) buttons.push(el("button", { type: "button", id: "cancel-rollout", text: "Cancel rollout" }));
  actions.replaceChildren(...buttons);
  $("start-rollout")?.addEventListener("click", () => act(pool, "/rollout", "Rollout started."));
  $("cancel-rollout")?.addEventListener("click", () => act(pool, "/rollout/cancel",
    "Cancel requested: the current batch finishes, no new one starts."));
}

async function act(pool, path, okText) {
  $("action-result").textContent = "";
  try {
    await api(`/pools/${encodeURIComponent(pool)}${path}`, { method: "POST" });
    $("action-result").textContent = okText;
    loadHistory(pool).catch(fail);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return fail(err);
    $("action-result").textContent = `Refused: ${err.message}`;
  }
}

async function loadHistory(pool) {
  const hist = await api(`/pools/${encodeURIComponent(pool)}/rollouts?limit=20`);
  const rows = (hist.items || hist).map((r) => el("tr", {},
    el("th", { scope: "row", text: String(r.id) }), el("td", { text: r.version }),
    el("td", {}, el("span", { class: `status-${r.status}`, text: r.status })),
    el("td", { text: when(r.started_at) }), el("td", { text: r.started_by_name || r.started_by }),
    el("td", { text: String(r.progress.successful) }), el("td", { text: String(r.progress.failed) }),
    el("td", { text: String(r.rollback.rolled_back) })));
  $("history-rows").replaceChildren(...rows);
}

async function loadPool(name) {
  const pool = await api(`/pools/${encodeURIComponent(name)}`);
  $("pool-title").textContent = `Pool ${pool.name}`;
  $("policy").replaceChildren(...kv(Object.entries(pool).filter(([k]) => k !== "name" && k !== "id")
    .map(([k, v]) => [k.replaceAll("_", " "), v])));
  $("action-result").textContent = "";
  $("live").textContent = "Connecting...";
  drawRollout(name, null);
  const ctl = new AbortController();
  live = ctl;
  streamRollout(name, ctl, (ro) => {
    drawRollout(name, ro);
    loadHistory(name).catch(fail);
  });
  await loadHistory(name);
}

// ---- node ----

const took = (a, b) => {
  if (!a || !b) return "";
  const s = Math.round((new Date(b) - new Date(a)) / 1000);
  return s < 120 ? `${s} s` : `${Math.round(s / 60)} min`;
};

async function loadPower(n) {
  if (n.bmc_driver === "none") return "no BMC";
  try {
    const p = await api(`/nodes/${encodeURIComponent(n.name)}/power`);
    return p.power;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) throw err;
    return `unknown (${err.message})`;
  }
}

async function drawBmc(n) {
  $("bmc").replaceChildren(...kv([["driver", n.bmc_driver], ["address", n.bmc_address ? `${n.bmc_address}${n.bmc_port ? `:${n.bmc_port}` : ""}` : ""],
    ["user", n.bmc_username]]), el("dt", { text: "power" }), el("dd", { id: "power-state", text: await loadPower(n) }));
  const actions = $("power-actions");
  if (n.bmc_driver === "none") return actions.replaceChildren();
  if (!can("operator")) {
    actions.replaceChildren(el("p", { class: "help", text: `Your token's role (${me.role}) can look but not act.` }));
    return;
  }
  const labels = { on: "Power on", off: "Power off", "soft-off": "Shut down", cycle: "Power cycle", reset: "Reset" };
  actions.replaceChildren(...Object.entries(labels).map(([action, label]) => {
    const b = el("button", { type: "button", "data-action": action, text: label });
    b.addEventListener("click", async () => {
      $("power-result").textContent = `${label}...`;
      try {
        await api(`/nodes/${encodeURIComponent(n.name)}/power`, { method: "POST", body: { action } });
        $("power-result").textContent = `${label}: done.`;
        const p = await api(`/nodes/${encodeURIComponent(n.name)}/power?fresh=true`);
        $("power-state").textContent = p.power;
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) return fail(err);
        $("power-result").textContent = `${label} refused: ${err.message}`;
      }
    });
    return b;
  }));
}

async function loadNode(name) {
  const q = encodeURIComponent(name);
  const [n, tasks, events, runs] = await Promise.all([api(`/nodes/${q}`), listAll(`nodes/${q}/tasks`),
    listAll(`nodes/${q}/events`), listAll(`nodes/${q}/extension-runs`)]);
  $("node-title").textContent = `Node ${n.name}`;
  $("ident").replaceChildren(...kv([["MAC", n.mac], ["zone", n.zone], ["rack", n.rack], ["pool", n.pool],
    ["fault domain", n.fault_domain], ["update domain", n.update_domain], ["model", n.hw_model], ["address", n.ip_address]]));
  $("os").replaceChildren(...kv([["state", STATE_LABEL[nodeState(n)] || n.state],
    ["installed", n.installed_version ? `${n.installed_image}@${n.installed_version}` : ""], ["active slot", n.active_slot],
    ["pending slot", n.pending_slot === "none" ? "" : `${n.pending_slot}: ${n.pending_image}@${n.pending_version}`],
    ["health", n.health], ["last heartbeat", when(n.last_heartbeat)], ["failed reimages in a row", n.reimage_failures],
    ["maintenance", n.maintenance ? "yes" : "no"], ["quarantined", n.quarantined ? "yes" : "no"]]));
  $("task-rows").replaceChildren(...tasks.slice().reverse().map((t) => el("tr", { "data-task": t.id },
    el("th", { scope: "row", text: `${t.id} (${t.kind})` }), el("td", { text: `${t.image}@${t.version}` }),
    el("td", { text: t.slot }), el("td", { text: t.state }), el("td", { text: t.stage }),
    el("td", { text: when(t.created_at) }), el("td", { text: when(t.finished_at) }),
    el("td", { text: took(t.created_at, t.finished_at) }), el("td", { text: t.reason }))));
  // Oldest first from the API: each phase's duration is the time to the next event.
  const ev = events;
  $("event-rows").replaceChildren(...ev.map((e, i) => el("tr", { "data-kind": e.kind },
    el("td", { text: when(e.ts) }), el("td", { text: i ? took(ev[i - 1].ts, e.ts) : "" }),
    el("td", { text: e.kind }), el("td", { text: e.message }))).reverse());
  $("ext-output").hidden = true;
  $("ext-rows").replaceChildren(...runs.slice().reverse().map((x) => {
    const b = el("button", { type: "button", text: "Show" });
    b.addEventListener("click", async () => {
      const res = await fetch(`/api/v1/extension-runs/${x.id}/output`, { headers: { Authorization: `Bearer ${token()}` } });
      $("ext-output").textContent = await res.text();
      $("ext-output").hidden = false;
      $("ext-output").focus();
    });
    return el("tr", {}, el("th", { scope: "row", text: String(x.id) }), el("td", { text: x.extension }),
      el("td", { text: x.version }), el("td", { text: x.trigger }), el("td", { text: x.state }),
      el("td", { text: dash(x.exit_status) }), el("td", { text: when(x.finished_at) }), el("td", {}, b));
  }));
  await drawBmc(n);
}

// ---- images ----

const size = (b) => (b >= 1073741824 ? `${(b / 1073741824).toFixed(1)} GiB` : b >= 1048576 ?
  `${(b / 1048576).toFixed(1)} MiB` : `${Math.ceil(b / 1024)} KiB`);

async function loadImages() {
  const [images, pools] = await Promise.all([listAll("images"), listAll("pools")]);
  const blocks = await Promise.all(images.map(async (img) => {
    const versions = await listAll(`images/${encodeURIComponent(img.name)}/versions`);
    const followers = (v) => pools.filter((p) => p.image === img.name &&
      (p.image_version === v.version || (p.image_version === "latest" && img.latest === v.version))).map((p) => p.name);
    return el("section", { class: "image", "aria-label": `image ${img.name}` },
      el("h3", { text: `${img.name}${img.description ? ` - ${img.description}` : ""}` }),
      el("p", {}, "latest: ", el("span", { class: "latest", text: dash(img.latest) })),
      el("table", {},
        el("thead", {}, el("tr", {}, ...["Version", "Format", "Size", "sha256", "Latest?", "Signature", "Published", "Pools on it"]
          .map((h) => el("th", { scope: "col", text: h })))),
        el("tbody", {}, ...versions.slice().reverse().map((v) => el("tr", { "data-version": v.version },
          el("th", { scope: "row", text: v.version }), el("td", { text: `${v.format}/${v.compression}` }),
          el("td", { text: size(v.size) }), el("td", {}, el("code", { title: v.sha256, text: v.sha256.slice(0, 12) })),
          el("td", { text: v.exclude_from_latest ? "excluded" : v.version === img.latest ? "latest" : "" }),
          el("td", { text: v.signing_key ? `signed (key ${v.signing_key})` : "unsigned" }),
          el("td", { text: when(v.created_at) }),
          el("td", { "data-pools": "", text: followers(v).join(", ") }))))));
  }));
  $("image-list").replaceChildren(...(blocks.length ? blocks : [el("p", { text: "No image yet." })]));
}

// ---- routing ----

function route() {
  if (!me) return;
  stopLive();
  $("error").textContent = "";
  const [, view, arg] = (location.hash || "#/fleet").split("/");
  if (view === "pools") {
    show("pools");
    loadPools().catch(fail);
  } else if (view === "pool" && arg) {
    show("pool");
    loadPool(decodeURIComponent(arg)).catch(fail);
  } else if (view === "node" && arg) {
    show("node");
    loadNode(decodeURIComponent(arg)).catch(fail);
  } else if (view === "images") {
    show("images");
    loadImages().catch(fail);
  } else {
    show("fleet");
    loadFleet().catch(fail);
  }
}

window.addEventListener("hashchange", route);
start();

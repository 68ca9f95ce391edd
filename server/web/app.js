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

// Every page of a list.
async function listAll(kind) {
  const items = [];
  let after = null;
  do {
    const page = await api(`/${kind}?limit=500${after ? `&after=${encodeURIComponent(after)}` : ""}`);
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

function show(sectionId) {
  for (const id of ["login", "fleet"]) $(id).hidden = id !== sectionId;
  $("nav-fleet").toggleAttribute("aria-current", sectionId === "fleet");
  if (sectionId === "fleet") $("nav-fleet").setAttribute("aria-current", "page");
}

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
      el("span", { class: "name", text: n.name }), " ",
      el("span", { class: "meta", text: `${version} · FD ${fd} · UD ${n.update_domain}${n.pool ? ` · pool ${n.pool}` : ""}` })),
    el("span", { class: "state", text: STATE_LABEL[st] || st }));
}

function rackBox(title, fd, nodes) {
  return el("section", { class: "rack", "aria-label": `rack ${title}` },
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
    if (loose) racks.push(rackBox("not in a rack", null, loose));
    return racks.length ? el("section", { class: "zone", "aria-label": `zone ${z.name}` },
      el("h4", { text: `zone ${z.name}` }), el("div", { class: "racks" }, ...racks)) : null;
  };
  const blocks = fleet.sites.map((s) => {
    const zones = fleet.zones.filter((z) => z.site === s.name).map(zoneBlock).filter(Boolean);
    return zones.length ? el("section", { class: "site", "aria-label": `site ${s.name}` },
      el("h3", { text: `site ${s.name}` }), ...zones) : null;
  }).filter(Boolean);
  const nowhere = byZone.get("");
  if (nowhere) blocks.push(el("section", { class: "site", "aria-label": "nodes without a zone" },
    el("h3", { text: "without a zone" }), el("div", { class: "racks" }, rackBox("not in a rack", null, nowhere))));
  $("fleet-sites").replaceChildren(...blocks);
}

for (const id of ["f-pool", "f-version", "f-state"]) $(id).addEventListener("change", drawFleet);

document.querySelector(".legend").replaceChildren(
  ...STATES.map((s) => el("li", { "data-state": s, text: STATE_LABEL[s] })));

// ---- routing ----

function route() {
  if (!me) return;
  show("fleet");
  loadFleet().catch(fail);
}

window.addEventListener("hashchange", route);
start();

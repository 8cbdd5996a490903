// arm-sim console: plain JavaScript, no build step, nothing loaded from elsewhere. Everything it shows comes from
// the simulator API (/_sim/graph, /_sim/events and its stream, /_sim/explain, /_sim/denials, /_sim/whatif/delete,
// /_sim/clock, /_sim/tokens/decode) with a token of the bootstrap principal, held in this tab's sessionStorage
// only. Secret values are never shown.
"use strict";

const S = {
  token: sessionStorage.getItem("armsim.token") || "",
  refresh: sessionStorage.getItem("armsim.refresh") || "",  // a one-time code for the next token
  subscription: sessionStorage.getItem("armsim.subscription") || "",
  graph: null, events: [], cursor: 0, names: new Map(), resourceOf: new Map(), appOf: new Map(),
  principalOfApp: new Map(), kinds: new Set(["grant.orphaned"]), timer: null, tab: "graph", orphans: [],
};

// ---- small DOM helpers (text only: nothing from the API is ever parsed as HTML) -----------------------------
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false)
    el.append(c instanceof Node ? c : String(c));
  return el;
}
const $ = (sel) => document.querySelector(sel);
const short = (id) => (id ? String(id).slice(0, 8) + "…" : "");
const lower = (s) => String(s || "").toLowerCase();
const lastSegment = (id) => String(id || "").replace(/\/+$/, "").split("/").pop();
function typeAndName(id) {
  const s = String(id || "");
  const i = s.toLowerCase().lastIndexOf("/providers/");
  return s.startsWith("/subscriptions/") && i >= 0 ? s.slice(i + 11) : s;
}

// ---- the API -----------------------------------------------------------------------------------------------
class ApiError extends Error {
  constructor(status, body) {
    const e = (body && (body.error || body)) || {};
    super((e.message || e.error_description || JSON.stringify(body)) + ` (HTTP ${status})`);
    this.status = status; this.body = body;
  }
}

async function raw(method, path, body, token) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = "Bearer " + token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body),
                                cache: "no-store", credentials: "omit" });
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { message: text }; }
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

async function api(method, path, body) {
  try {
    return await raw(method, path, body, S.token);
  } catch (e) {
    // an expired token (the simulated clock moved past it): the session's one-time code buys the next one
    if (e.status === 401 && S.refresh && await renew()) return raw(method, path, body, S.token);
    if (e.status === 401) showLogin("Your session ended (" + e.message + "). Sign in again.");
    throw e;
  }
}

async function renew() {
  const code = S.refresh;
  S.refresh = ""; sessionStorage.removeItem("armsim.refresh");
  try {
    const s = await raw("POST", "/_sim/console/session", { code });
    saveSession(s.accessToken, s.refreshCode, s.subscriptionId);
    return true;
  } catch { return false; }
}

function saveSession(token, refresh, subscription) {
  S.token = token || ""; S.refresh = refresh || "";
  if (subscription) S.subscription = subscription;
  sessionStorage.setItem("armsim.token", S.token);
  sessionStorage.setItem("armsim.refresh", S.refresh);
  sessionStorage.setItem("armsim.subscription", S.subscription);
}

// ---- signing in ----------------------------------------------------------------------------------------------
function showLogin(message) {
  stopPolling();
  $("#app").hidden = true; $("#login").hidden = false; $("#signout").hidden = true;
  $("#login-error").textContent = message || "";
}

async function afterToken() {
  if (!S.refresh) {  // signed in with the secret or a pasted token: ask for a one-time code to renew with later
    try {
      const link = await raw("POST", "/_sim/console/links", {}, S.token);
      S.refresh = (link.url.split("#code=")[1] || "");
    } catch { S.refresh = ""; }
  }
  if (!S.subscription) {
    const subs = await raw("GET", "/subscriptions?api-version=2022-12-01", undefined, S.token);
    S.subscription = ((subs.value || [])[0] || {}).subscriptionId || "";
  }
  saveSession(S.token, S.refresh, S.subscription);
  try {  // the caller's own claims (our token, read in the page only): the deployer is named, not a bare GUID
    const c = JSON.parse(atob(S.token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    if (c.oid) S.names.set(lower(c.oid), "deployer (bootstrap principal)");
    if (c.appid || c.azp) S.names.set(lower(c.appid || c.azp), "deployer (appId)");
  } catch { /* not a JWT: nothing to name */ }
  $("#login").hidden = true; $("#app").hidden = false; $("#signout").hidden = false;
  $("#who").textContent = "bootstrap principal · subscription " + S.subscription;
  await start();
}

async function loginWithSecret(ev) {
  ev.preventDefault();
  const tenant = $("#login-tenant").value.trim();
  const form = new URLSearchParams({ grant_type: "client_credentials", client_id: $("#login-client").value.trim(),
    client_secret: $("#login-secret").value, scope: "https://management.azure.com/.default" });
  $("#login-secret").value = "";  // not kept anywhere
  try {
    const r = await fetch("/" + encodeURIComponent(tenant) + "/oauth2/v2.0/token", { method: "POST", body: form,
      headers: { "Content-Type": "application/x-www-form-urlencoded" }, credentials: "omit", cache: "no-store" });
    const data = await r.json();
    if (!r.ok) throw new Error(data.error_description || data.error || ("HTTP " + r.status));
    saveSession(data.access_token, "", "");
    await afterToken();
  } catch (e) { $("#login-error").textContent = "Sign-in failed: " + e.message; }
}

async function loginWithToken(ev) {
  ev.preventDefault();
  saveSession($("#login-token").value.trim().replace(/^bearer\s+/i, ""), "", "");
  $("#login-token").value = "";
  try { await afterToken(); } catch (e) { showLogin("That token was refused: " + e.message); }
}

async function boot() {
  $("#login-form").addEventListener("submit", loginWithSecret);
  $("#token-form").addEventListener("submit", loginWithToken);
  $("#signout").addEventListener("click", () => { sessionStorage.clear(); saveSession("", "", ""); showLogin(); });
  for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => showTab(b.dataset.tab));
  wireGraph(); wireTimeline(); wireExplain(); wireClock(); wireTokens();
  const m = location.hash.match(/code=([A-Za-z0-9_-]+)/);
  if (m) {
    history.replaceState(null, "", location.pathname);  // the code is used once: drop it from the address bar
    try {
      const s = await raw("POST", "/_sim/console/session", { code: m[1] });
      saveSession(s.accessToken, s.refreshCode, s.subscriptionId);
    } catch (e) { return showLogin("The one-time link did not work: " + e.message); }
  }
  if (!S.token) return showLogin();
  try { await afterToken(); } catch (e) { showLogin(e.message); }
}

// ---- names beside ids ----------------------------------------------------------------------------------------
function learnPrincipal(p, resourceId) {
  if (!p || !p.objectId) return;
  const name = p.displayName || lastSegment(p.resourceId || resourceId || "");
  const oid = lower(p.objectId);
  if (name) S.names.set(oid, name + (p.exists === false ? " (deleted)" : ""));
  if (p.appId) { S.names.set(lower(p.appId), (name || "app") + " (appId)"); S.appOf.set(oid, lower(p.appId));
                 S.principalOfApp.set(lower(p.appId), oid); }
  if (p.resourceId || resourceId) S.resourceOf.set(oid, lower(p.resourceId || resourceId));
}

function learnFromGraph(g) {
  for (const r of g.resources || []) {
    S.names.set(lower(r.id), r.name);
    for (const p of r.principals || []) learnPrincipal(p, p.kind === "systemAssigned" ? r.id : p.identityId);
  }
  for (const o of g.orphans || []) learnPrincipal(o.principal);
}

function learnFromEvent(e) {
  const d = e.details || {};
  if (e.kind === "servicePrincipal.created" || e.kind === "servicePrincipal.deleted") {
    const oid = lower(d.principalId || e.subject);
    const rid = d.resourceId || "";
    const name = rid ? lastSegment(rid) : d.displayName;
    if (name && !S.names.has(oid)) S.names.set(oid, name);
    const app = lower(d.clientId || d.appId);
    if (app) { S.appOf.set(oid, app); S.principalOfApp.set(app, oid); if (name) S.names.set(app, name + " (appId)"); }
    if (rid) S.resourceOf.set(oid, lower(rid));
  }
  if (e.subject && e.subject.startsWith("/subscriptions/") && !S.names.has(lower(e.subject)))
    S.names.set(lower(e.subject), lastSegment(e.subject));
}

function named(id) {
  if (!id) return "";
  const n = S.names.get(lower(id));
  return n ? `${n} · ${short(id)}` : (String(id).startsWith("/") ? typeAndName(id) : id);
}

function fillDatalists() {
  const opts = (id, values) => $(id).replaceChildren(...[...values].map(([v, label]) => h("option", { value: v },
    label || "")));
  const g = S.graph || { resources: [], orphans: [] };
  const principals = new Map();
  for (const r of g.resources) for (const p of r.principals || [])
    if (p.objectId) principals.set(p.objectId, `${r.name} (${p.kind})`);
  for (const o of g.orphans) if (o.principal && o.principal.objectId)
    principals.set(o.principal.objectId, `${o.principal.displayName || "?"} (deleted)`);
  opts("#dl-principals", principals);
  opts("#dl-resources", new Map(g.resources.map((r) => [r.name, r.type])));
  const scopes = new Map();
  for (const r of g.resources) for (const p of r.principals || []) {
    for (const a of p.accessPolicies || []) scopes.set(a.vault, "vault " + a.vaultName);
    for (const a of p.roleAssignments || []) scopes.set(a.scope, a.roleName + " scope");
  }
  for (const o of g.orphans) scopes.set(o.vault || o.scope, o.vaultName ? "vault " + o.vaultName : "orphan's scope");
  opts("#dl-scopes", scopes);
  opts("#dl-kinds", new Map([...S.kinds].sort().map((k) => [k, ""])));
}

// ---- tabs ----------------------------------------------------------------------------------------------------
function showTab(tab) {
  S.tab = tab;
  for (const b of document.querySelectorAll("#tabs button")) b.setAttribute("aria-selected", b.dataset.tab === tab);
  for (const s of document.querySelectorAll(".tab")) s.hidden = s.id !== "tab-" + tab;
  if (tab === "graph") loadGraph();
  if (tab === "clock") loadClock();
  if (tab === "explain") loadDenials().catch(() => {});
}

async function start() {
  await loadScopes();
  await loadGraph();
  await pollEvents(true);
  await loadClock();
  startPolling();
  showTab(S.tab);
}
// The timeline follows the event stream (/_sim/events/stream, server-sent events). EventSource cannot send an
// Authorization header, and a token never goes in a URL: each connection opens with a one-time ticket bought with
// the token. A stream that ends (the server restarting, the network) is reopened with a new ticket after the last
// event seen; when tickets cannot be had, the page polls /_sim/events instead.
function startPolling() {
  stopPolling();
  S.live = true;
  openStream().catch(() => fallBackToPolling());
}
function stopPolling() {
  S.live = false;
  if (S.timer) clearInterval(S.timer);
  S.timer = null;
  if (S.stream) S.stream.close();
  S.stream = null;
  clearTimeout(S.reopen);
}
function fallBackToPolling() {
  if (!S.live || S.timer) return;
  S.mode = "polling";
  S.timer = setInterval(() => pollEvents(false).catch(() => {}), 1500);
  S.reopen = setTimeout(() => { clearInterval(S.timer); S.timer = null; startPolling(); }, 30000);  // try again
}

async function openStream() {
  const t = await api("POST", "/_sim/events/tickets", {});
  if (!S.live) return;
  const es = new EventSource(`/_sim/events/stream?ticket=${encodeURIComponent(t.ticket)}&after=${S.cursor}`);
  S.stream = es;
  es.onopen = () => { S.mode = "stream"; S.failures = 0; showLive(); };
  es.onmessage = (m) => {
    const e = JSON.parse(m.data);
    if (e.seq <= S.cursor) return;
    learnFromEvent(e); S.kinds.add(e.kind); S.events.push(e); S.cursor = e.seq;
    if (S.events.length > 20000) S.events = S.events.slice(-20000);
    clearTimeout(S.render);
    S.render = setTimeout(() => afterNewEvents().catch(() => {}), 150);  // a burst renders once
  };
  const reopen = () => {  // (the ticket was used: EventSource's own retry would be refused)
    es.close();
    if (S.stream !== es || !S.live) return;
    S.stream = null;
    S.failures = (S.failures || 0) + 1;
    if (S.failures > 3) return fallBackToPolling();
    S.reopen = setTimeout(() => openStream().catch(() => fallBackToPolling()), 1000 * S.failures);
  };
  es.addEventListener("end", reopen);
  es.onerror = reopen;
}

async function afterNewEvents() {
  const g = await api("GET", "/_sim/graph");  // the orphans of the whole subscription, for the timeline
  S.orphans = g.orphans || [];
  learnFromGraph(g);
  renderTimeline(); fillDatalists(); showLive();
  if (S.tab === "graph") loadGraph().catch(() => {});
  if (S.tab === "explain") loadDenials().catch(() => {});
}

function showLive() { $("#tl-status").textContent = `${S.events.length} events · live (${S.mode || "polling"})`; }

// ---- identity graph --------------------------------------------------------------------------------------------
function wireGraph() {
  $("#graph-scope").addEventListener("change", loadGraph);
  $("#graph-refresh").addEventListener("click", loadGraph);
}

async function loadScopes() {
  const sel = $("#graph-scope");
  const keep = sel.value;
  const sub = `/subscriptions/${S.subscription}`;
  const groups = await api("GET", `${sub}/resourcegroups?api-version=2021-04-01`);
  sel.replaceChildren(h("option", { value: "" }, `subscription ${S.subscription}`),
    ...(groups.value || []).map((g) => h("option", { value: g.id }, `resource group ${g.name}`)));
  if ([...sel.options].some((o) => o.value === keep)) sel.value = keep;
}

async function loadGraph() {
  const scope = $("#graph-scope").value;
  const g = await api("GET", "/_sim/graph" + (scope ? "?scope=" + encodeURIComponent(scope) : ""));
  S.graph = g;
  learnFromGraph(g);
  renderGraph(g);
  fillDatalists();
  return g;
}

function nodeEl(kind, key, json, ...content) {
  const el = h("span", { class: "node " + kind, tabindex: "0", dataset: { node: lower(key || "") } }, ...content);
  el.addEventListener("click", () => {
    document.querySelectorAll(".node.selected").forEach((n) => n.classList.remove("selected"));
    el.classList.add("selected");
    $("#node-json").textContent = JSON.stringify(json, null, 2);
  });
  return el;
}

function credentialNode(c) {
  const tags = [];
  if (c.signs) tags.push(h("span", { class: "tag good" }, "signs now"));
  if (c.expired) tags.push(h("span", { class: "tag bad" }, "expired"));
  return nodeEl("credential", c.keyId, c, h("span", { class: "k" }, c.kind === "password" ? "secret" : "certificate"),
    c.kind === "password" ? `hint ${c.hint || "?"}…` : h("span", { class: "mono" }, c.thumbprint || ""),
    ` valid ${String(c.notBefore).slice(0, 10)} → ${String(c.notAfter).slice(0, 10)}`,
    c.nextRotation ? ` · next rotation ${String(c.nextRotation).slice(0, 10)}` : "", ...tags);
}

function grantNodes(p) {
  const out = [];
  for (const a of p.roleAssignments || [])
    out.push(h("li", {}, nodeEl("grant", a.id, a, h("span", { class: "k" }, "role"), h("strong", {}, a.roleName),
      " at ", typeAndName(a.scope) || a.scope)));
  for (const a of p.accessPolicies || [])
    out.push(h("li", {}, nodeEl("grant", a.vault + "#" + p.objectId, a, h("span", { class: "k" }, "access policy"),
      "vault ", h("strong", {}, a.vaultName), ": ", permissionText(a.permissions))));
  return out;
}

function permissionText(perms) {
  return Object.entries(perms || {}).filter(([, v]) => v && v.length).map(([k, v]) => `${k} ${v.join(",")}`)
    .join("; ") || "no permissions";
}

function principalNode(p, r) {
  const label = p.kind === "userAssigned" ? "user-assigned" : "system-assigned";
  if (!p.objectId) return h("li", {}, nodeEl("principal gone", p.identityId, p, h("span", { class: "k" }, label),
    `identity ${lastSegment(p.identityId)} — gone`, p.dangling ? h("span", { class: "tag bad" }, "dangling") : ""));
  learnPrincipal(p, r.id);
  const head = nodeEl("principal" + (p.exists === false ? " gone" : ""), p.objectId, p,
    h("span", { class: "k" }, "principal"), h("strong", {}, p.displayName || r.name), ` (${label}) `,
    h("span", { class: "mono" }, "objectId " + p.objectId), " ", h("span", { class: "mono" }, "appId " + (p.appId || "?")),
    p.exists === false ? h("span", { class: "tag bad" }, "deleted") : "");
  const creds = (p.credentials || []).map((c) => h("li", {}, credentialNode(c)));
  if (!creds.length && p.exists !== false) creds.push(h("li", { class: "muted" },
    "no certificate yet (issued at its first token request)"));
  const grants = grantNodes(p);
  if (!grants.length) grants.push(h("li", { class: "muted" }, "no role assignments or access-policy entries"));
  return h("li", {}, head, h("ul", {}, ...creds, ...grants));
}

function orphanNode(o) {
  const p = o.principal || {};
  const who = p.displayName ? `${p.displayName}'s identity` : "a principal";
  const when = p.deletedAt ? `, deleted ${p.deletedAt}` : "";
  const what = o.kind === "roleAssignment" ? [h("strong", {}, o.roleName), " at ", typeAndName(o.scope)]
    : ["access policy on vault ", h("strong", {}, o.vaultName), ": ", permissionText(o.permissions)];
  return h("li", {}, nodeEl("orphan", (o.vault || o.scope) + "#" + lower(o.principalId), o,
    h("span", { class: "tag bad" }, "ORPHANED"), " ", ...what, ` — names ${o.principalId} (${who}${when})`));
}

function renderGraph(g) {
  const title = g.scope ? `resource group ${lastSegment(g.scope)}` : `subscription ${S.subscription}`;
  const items = (g.resources || []).map((r) => h("li", {},
    nodeEl("resource", r.id, r, h("span", { class: "k" }, lastSegment(r.type)), h("strong", {}, r.name),
      ` identity ${r.identityType || "None"}`),
    h("button", { class: "whatif", type: "button", dataset: { resource: r.id }, onclick: () => whatIfDelete(r) },
      "What if I delete it?"),
    h("ul", {}, ...(r.principals || []).map((p) => principalNode(p, r)))));
  const parts = [h("h3", {}, title), items.length ? h("ul", {}, ...items)
    : h("p", { class: "muted" }, "No resource with an identity here yet.")];
  if ((g.orphans || []).length) {
    parts.push(h("h3", { class: "orphans" }, `Orphaned grants (${g.orphans.length}): their principal no longer exists`));
    parts.push(h("ul", {}, ...g.orphans.map(orphanNode)));
  }
  for (const v of g.invariantViolations || []) parts.push(h("p", { class: "error" }, "Invariant violation: " + v.message));
  $("#graph").replaceChildren(...parts);
}

// What deleting a resource would do, as the server predicts it by running the delete and rolling it back
async function whatIfDelete(r) {
  const out = $("#whatif-result");
  out.replaceChildren(h("p", { class: "muted" }, `Asking what deleting ${r.name} would do…`));
  out.scrollIntoView({ block: "nearest" });
  let w;
  try { w = await api("GET", "/_sim/whatif/delete?resourceId=" + encodeURIComponent(r.id)); } catch (e) {
    return out.replaceChildren(h("p", { class: "error" }, e.message));
  }
  const items = [];
  const self = lower(r.id);
  for (const id of w.resourcesDeleted || []) if (lower(id) !== self)
    items.push(h("li", {}, "delete the child resource ", h("strong", {}, typeAndName(id))));
  for (const p of w.principalsDeleted || []) {
    const who = p.principal || {};
    items.push(h("li", { class: "gone" }, h("strong", {}, "delete principal "), `${who.displayName || r.name} `,
      h("span", { class: "mono" }, p.objectId), who.appId ? ` (appId ${who.appId})` : "",
      " — its credentials go with it"));
  }
  for (const o of w.grantsOrphaned || []) {
    const what = o.kind === "roleAssignment" ? [h("strong", {}, o.roleName), " at ", typeAndName(o.scope) || o.scope]
      : ["access policy on vault ", h("strong", {}, o.vaultName), ": ", permissionText(o.permissions)];
    items.push(h("li", { class: "orphaned" }, h("span", { class: "tag bad" }, "ORPHANED"), " ", ...what,
      " — it will name a deleted principal, grant nothing, and not follow a re-created resource"));
  }
  for (const d of w.userAssignedDetached || [])
    items.push(h("li", {}, `detach the user-assigned identity ${lastSegment(d.identityId)}`,
      d.kept ? " (kept: its principal and grants stay)" : " (deleted as well)"));
  for (const d of w.resourcesLeftDangling || [])
    items.push(h("li", {}, h("strong", {}, lastSegment(d.resourceId)), " would still name this identity (dangling)"));
  const head = w.wouldSucceed ? `Deleting ${r.name} would:`
    : `Deleting ${r.name} would be refused: ${(w.refusedWith || {}).code} — ${(w.refusedWith || {}).message}`;
  out.replaceChildren(h("div", { class: "summary", dataset: { resource: r.id } }, h("h4", {}, head),
    items.length ? h("ul", {}, ...items) : h("p", { class: "muted" }, w.wouldSucceed
      ? "delete only the resource: no principal or grant is affected." : ""),
    h("p", { class: "muted" }, "Predicted by running the delete and rolling it back: nothing has changed.")));
}

function focusNode(key) {
  showTab("graph");
  const sel = $("#graph-scope");
  const go = () => {
    const k = lower(key);
    const el = [...document.querySelectorAll(".node")].find((n) => n.dataset.node === k || n.dataset.node.startsWith(k)
      || n.dataset.node.endsWith("#" + k));
    if (el) { el.scrollIntoView({ block: "center" }); el.click(); el.classList.add("flash");
              setTimeout(() => el.classList.remove("flash"), 1600); }
  };
  if (sel.value) { sel.value = ""; }
  loadGraph().then(go);
}

// ---- timeline ------------------------------------------------------------------------------------------------
function wireTimeline() {
  for (const id of ["#tl-resource", "#tl-principal", "#tl-kind"]) $(id).addEventListener("input", renderTimeline);
  $("#tl-hide-tokens").addEventListener("change", renderTimeline);
}

async function pollEvents(first) {
  let more = true;
  let changed = false;
  while (more) {
    const page = await api("GET", `/_sim/events?after=${S.cursor}&top=1000`);
    const rows = page.value || [];
    for (const e of rows) { learnFromEvent(e); S.kinds.add(e.kind); S.events.push(e); S.cursor = e.seq; }
    changed = changed || rows.length > 0;
    more = rows.length === 1000;
  }
  if (S.events.length > 20000) S.events = S.events.slice(-20000);
  if (changed || first) {
    const g = await api("GET", "/_sim/graph");  // the orphans of the whole subscription, for the timeline
    S.orphans = g.orphans || [];
    learnFromGraph(g);
    renderTimeline(); fillDatalists();
  }
  showLive();
  if (changed && !first && S.tab === "graph") loadGraph().catch(() => {});
}

function principalsOfResource(text) {
  const t = lower(text);
  const rids = new Set();
  for (const [id, n] of S.names) if (id.startsWith("/subscriptions/") && (lower(n) === t || id === t)) rids.add(id);
  const oids = new Set();
  for (const [oid, rid] of S.resourceOf) if (rids.has(rid)) oids.add(oid);
  return { rids, oids };
}

function principalMatch(text) {
  const t = lower(text);
  const oids = new Set();
  for (const [id, n] of S.names) if (lower(n).replace(" (deleted)", "") === t || id === t) oids.add(id);
  if (!oids.size) oids.add(t);
  for (const o of [...oids]) if (S.appOf.has(o)) oids.add(S.appOf.get(o));  // credential events go by appId
  return oids;
}

function eventPrincipals(e) {
  const d = e.details || {};
  return [e.subject, e.actor, d.principalId, d.objectId].filter(Boolean).map(lower);
}

function kindMatches(pattern, kind) {
  const re = new RegExp("^" + pattern.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*") + "$",
    "i");
  return re.test(kind);
}

function isHandshake(e) {
  const d = e.details || {};
  return e.kind === "token.rejected" && /missing/i.test(String(d.reason || ""));
}

// a stored grant.orphaned event's grant, in words (domain/principal_deletion.py writes them)
function grantText(d) {
  if (d.grant === "roleAssignment") return `role assignment ${d.role || ""}`.trim();
  if (d.grant === "accessPolicy") return `access policy on vault ${d.vaultName || named(d.vault)}`;
  return d.grant || "grant";
}

function summary(e) {
  const d = e.details || {};
  if (isHandshake(e)) return "challenge: the client's first request carries no token — the normal handshake "
    + "(the client then asks for a token and tries again)";
  const parts = [];
  if (e.kind === "grant.orphaned") return `ORPHANED: the ${grantText(d)} still names ${named(d.principalId)}, `
    + "deleted here; it grants nothing now and does not follow a re-created resource"
    + (d.permissions ? " (" + permissionText(d.permissions) + ")" : "");
  if (e.kind === "credential.rolled") parts.push("certificate rolled: the new one signs from now on");
  for (const k of ["reason", "permission", "action", "principalId", "resourceId", "keyId", "previousKeyId",
    "thumbprint", "by", "code"]) {
    if (d[k] === undefined || d[k] === null || d[k] === "") continue;
    const v = k === "principalId" || k === "resourceId" ? named(d[k]) : String(d[k]);
    parts.push(`${k}=${v}`);
  }
  if (d.permissions) parts.push("permissions=" + permissionText(d.permissions));
  return parts.join("; ");
}

function renderTimeline() {
  const res = $("#tl-resource").value.trim();
  const prin = $("#tl-principal").value.trim();
  const kind = $("#tl-kind").value.trim();
  const hide = $("#tl-hide-tokens").checked;
  let rows = S.events;
  if (res) {
    const { rids, oids } = principalsOfResource(res);
    for (const o of [...oids]) if (S.appOf.has(o)) oids.add(S.appOf.get(o));
    rows = rows.filter((e) => {
      const subj = lower(e.subject);
      const d = e.details || {};
      return [...rids].some((r) => subj === r || subj.startsWith(r + "/") || lower(d.resourceId) === r)
        || eventPrincipals(e).some((p) => oids.has(p)) || (!rids.size && subj.includes(lower(res)));
    });
  }
  if (prin) { const oids = principalMatch(prin); rows = rows.filter((e) => eventPrincipals(e).some((p) => oids.has(p))); }
  if (kind) rows = rows.filter((e) => kindMatches(kind, e.kind));
  if (hide) rows = rows.filter((e) => !/^(token\.|clientAssertion\.|access\.allowed)/.test(e.kind));
  const shown = rows.slice(-500).reverse();  // newest first
  $("#timeline tbody").replaceChildren(...shown.map((e) => {
    const cls = isHandshake(e) ? "handshake" : e.kind === "grant.orphaned" ? "orphaned"
      : /^(servicePrincipal|credential|signingKey)\./.test(e.kind) ? "lifecycle" : "";
    const subject = h("a", { class: "link", title: e.subject, onclick: () => focusNode(e.subject) }, named(e.subject));
    return h("tr", { class: cls, dataset: { kind: e.kind, seq: e.seq } }, h("td", {}, e.seq),
      h("td", { class: "mono" }, String(e.time).slice(0, 19).replace("T", " ")),
      h("td", {}, isHandshake(e) ? "challenge (handshake)" : e.kind), h("td", {}, subject),
      h("td", {}, named(e.actor)), h("td", { class: "details" }, summary(e)));
  }));
}

// ---- explain ---------------------------------------------------------------------------------------------------
function wireExplain() {
  $("#explain-form").addEventListener("submit", runExplain);
  $("#denials-refresh").addEventListener("click", () => loadDenials().catch(() => {}));
  $("#federation-form").addEventListener("submit", explainFederation);
}

async function loadDenials() {
  const list = $("#denials");
  const d = await api("GET", "/_sim/denials");
  const rows = (d.value || []).map((x) => {
    const named_ = x.caller && x.caller.displayName ? `${x.caller.displayName} · ${short(x.principal)}` : named(x.principal) || "anonymous";
    const who = x.claimsUnverified ? `${named_} (as a refused token claims: unverified)` : named_;
    const what = x.missing ? ` lacks ${x.missing}` + (x.at ? ` at ${typeAndName(x.at)}` : "") : x.code ? ` (${x.code})` : x.reason ? ` (${x.reason})` : "";
    const link = x.explain ? h("a", { class: "link", href: "#", onclick: (ev) => { ev.preventDefault(); explainDenial(x.explain); } },
      "explain it") : "";
    return h("li", { dataset: { status: x.status } }, h("span", { class: "mono" }, `${x.time} ${x.method} ${x.path} → ${x.status}`),
      ` ${who}${what} `, link);
  });
  list.replaceChildren(...(rows.length ? rows : [h("li", { class: "muted" }, "Nothing refused lately.")]));
}

function explainDenial(q) {
  $("#ex-principal").value = q.principalId;
  $("#ex-action").value = q.action;
  $("#ex-scope").value = q.scope;
  runExplain();
}

async function explainFederation(ev) {
  ev.preventDefault();
  const out = $("#federation-result");
  const identity = $("#fed-identity").value.trim();
  let d;
  try { d = await api("GET", "/_sim/explain?identity=" + encodeURIComponent(identity)); } catch (e) {
    return out.replaceChildren(h("p", { class: "error" }, e.message));
  }
  const creds = (d.federatedCredentials || []).map((c) => h("li", {}, h("strong", {}, c.name), ` issuer ${c.issuer} · subject `,
    h("span", { class: "mono" }, c.subject), ` · audiences ${(c.audiences || []).join(", ")}`));
  const rows = (d.exchanges || []).map((x) => {
    const p = x.presented || {};
    let verdict;
    if (x.kind === "federation.exchanged") verdict = ["exchanged with ", lastSegment(x.credential)];
    else if (x.closestCredential) verdict = [`closest: ${lastSegment(x.closestCredential)}; differs on `, h("strong", {}, x.differingField),
      x.credentialDeleted ? " (that credential was deleted since)" : x.credentialHas !== undefined
        ? [": the credential has ", h("span", { class: "mono" }, JSON.stringify(x.credentialHas))] : ""];
    else verdict = ["the identity has no federated credential"];
    return h("tr", { class: x.kind === "federation.refused" ? "orphaned" : "", dataset: { kind: x.kind } },
      h("td", { class: "mono" }, String(x.time).slice(0, 19).replace("T", " ")), h("td", {}, x.kind === "federation.refused" ? "REFUSED" : "exchanged"),
      h("td", {}, x.reason || ""), h("td", { class: "mono" }, `iss=${p.issuer} sub=${p.subject} aud=${JSON.stringify(p.audience)}`),
      h("td", {}, ...verdict.flat()));
  });
  out.replaceChildren(h("p", {}, `Identity ${d.identity.displayName} · clientId `, h("span", { class: "mono" }, d.identity.clientId)),
    creds.length ? h("ul", {}, ...creds) : h("p", { class: "muted" }, "It has no federated credential."),
    rows.length ? h("table", { class: "events", id: "federation-exchanges" }, h("thead", {}, h("tr", {}, ...["Time (simulated)", "Outcome",
      "Code", "Presented", "Why"].map((t) => h("th", {}, t)))), h("tbody", {}, ...rows))
      : h("p", { class: "muted" }, "No federated exchange has been tried for this identity."));
}

function resolvePrincipal(text) {
  const t = lower(text.trim());
  if (/^[0-9a-f-]{36}$/.test(t)) return t;
  const g = S.graph || { resources: [] };
  for (const r of g.resources) if (lower(r.name) === t || lower(r.id) === t)
    for (const p of r.principals || []) if (p.objectId) return p.objectId;
  for (const [id, n] of S.names) if (lower(n) === t && /^[0-9a-f-]{36}$/.test(id)) return id;
  return text.trim();
}

async function runExplain(ev) {
  if (ev) ev.preventDefault();
  const q = new URLSearchParams({ principalId: resolvePrincipal($("#ex-principal").value),
    action: $("#ex-action").value.trim(), scope: $("#ex-scope").value.trim() });
  const out = $("#explain-result");
  out.replaceChildren(h("p", { class: "muted" }, "Asking…"));
  let d;
  try { d = await api("GET", "/_sim/explain?" + q); } catch (e) { return out.replaceChildren(h("p", { class: "error" }, e.message)); }
  const kv = d.keyVault;
  const parts = [h("p", { class: "decision " + (d.allowed ? "allowed" : "denied") },
    `${d.allowed ? "ALLOWED" : "DENIED"}: ${d.action}`),
    h("p", {}, "Principal: ", kv ? whoText(kv.principal) : named(d.principalId)),
    h("p", {}, "Scope: ", h("span", { class: "mono" }, d.scope)),
    kv ? h("p", {}, "Decided by Key Vault: ", kv.mode === "accessPolicy" ? "access policies" : kv.mode === "rbac"
      ? "Azure RBAC (access policies ignored)" : kv.mode, ` (${kv.permission})`) : "",
    h("p", {}, h("strong", {}, "Why: "), d.reason)];
  for (const miss of (kv && kv.nearMisses) || []) parts.push(h("div", { class: "nearmiss" }, h("strong", {}, "Near miss: "), miss));
  if (kv && (kv.entries || []).length) {
    parts.push(h("h3", {}, "Access-policy entries considered"));
    parts.push(h("table", { class: "grid" }, h("thead", {}, h("tr", {}, ...["Entry's principal", kv.permission.split(" ")[0],
      "Names the caller", "Grants it"].map((t) => h("th", {}, t)))),
      h("tbody", {}, ...kv.entries.map((e) => h("tr", {}, h("td", {}, whoText(e.principal)),
        h("td", {}, (e.permissions || []).join(",") || "-"), h("td", {}, e.matches ? "yes" : "no"),
        h("td", {}, e.grants ? "yes" : "no"))))));
  }
  const roles = [...(d.grantedBy || []).map((a) => [a, "grants"]), ...(d.considered || []).map((a) => [a, "does not grant"])];
  if (roles.length && (!kv || kv.mode === "rbac")) {
    parts.push(h("h3", {}, "Role assignments considered"));
    parts.push(h("table", { class: "grid" }, h("thead", {}, h("tr", {}, h("th", {}, "Role"), h("th", {}, "Scope"),
      h("th", {}, "Decision"))), h("tbody", {}, ...roles.map(([a, v]) => h("tr", {}, h("td", {}, a.roleName),
        h("td", { class: "mono" }, a.scope), h("td", {}, v))))));
  }
  if (!d.allowed && kv && kv.wouldGrant) parts.push(h("p", {}, h("strong", {}, "Would grant it: "), kv.wouldGrant));
  out.replaceChildren(...parts);
}

function whoText(p) {
  if (!p) return "";
  let t = p.objectId || "";
  if (p.displayName) t += ` (${p.displayName}` + (p.deletedAt ? `, deleted ${p.deletedAt})` : ")");
  else if (p.deletedAt) t += ` (deleted ${p.deletedAt})`;
  if (p.exists === false && !p.deletedAt) t += " (no such principal)";
  return t;
}

// ---- clock -------------------------------------------------------------------------------------------------------
function wireClock() {
  for (const b of document.querySelectorAll("#clock-form button[data-by]"))
    b.addEventListener("click", () => advance(b.dataset.by));
  $("#clock-form").addEventListener("submit", (ev) => { ev.preventDefault(); advance($("#clock-by").value.trim()); });
}

function credentialIndex(g) {
  const out = new Map();
  for (const r of (g && g.resources) || []) for (const p of r.principals || [])
    for (const c of p.credentials || []) out.set(c.keyId, { ...c, principal: p, resource: r });
  return out;
}

async function loadClock() {
  const c = await api("GET", "/_sim/clock");
  $("#clock-now").textContent = c.now;
  $("#clock-frozen").textContent = c.frozen ? "(frozen)" : "(running)";
  $("#clock-badge").textContent = "simulated time " + String(c.now).slice(0, 19).replace("T", " ") + " UTC";
  const rep = c.replication || { pending: [], delaySeconds: 0 };
  $("#clock-replication tbody").replaceChildren(...(rep.pending.length ? rep.pending.map((p) => h("tr", { class: "pending" },
    h("td", {}, p.displayName), h("td", { class: "mono" }, p.objectId), h("td", {}, p.createdAt), h("td", {}, p.replicatedAt),
    h("td", {}, `${Math.ceil(p.secondsLeft)} s`)))
    : [h("tr", {}, h("td", { colspan: "5", class: "muted" }, rep.delaySeconds > 0
      ? `Nothing pending: every principal is visible to role assignments (the directory replicates in ${rep.delaySeconds} s).`
      : "Nothing pending: the directory replicates at once (ARM_SIM_DIRECTORY_DELAY is 0)."))]));
  const g = S.graph && !S.graph.scope ? S.graph : await api("GET", "/_sim/graph");
  const rows = [];
  for (const r of g.resources || []) for (const p of r.principals || []) for (const c2 of p.credentials || [])
    if (c2.kind !== "password") rows.push(h("tr", {}, h("td", {}, `${p.displayName || r.name} (${p.kind})`),
      h("td", { class: "mono" }, c2.thumbprint), h("td", {}, c2.signs ? "yes" : "no"),
      h("td", {}, c2.nextRotation || "-"), h("td", {}, c2.notAfter + (c2.expired ? " (expired)" : ""))));
  $("#clock-due tbody").replaceChildren(...(rows.length ? rows
    : [h("tr", {}, h("td", { colspan: "5", class: "muted" }, "No managed-identity certificate yet."))]));
  return c;
}

async function advance(by) {
  if (!by) return;
  const out = $("#clock-summary");
  out.replaceChildren(h("p", { class: "muted" }, `Advancing by ${by}…`));
  const before = await api("GET", "/_sim/graph");
  const beforeCreds = credentialIndex(before);
  const seq = S.cursor;
  const was = await api("GET", "/_sim/clock");
  let now;
  try { now = await api("POST", "/_sim/clock/advance", { duration: by }); } catch (e) {
    return out.replaceChildren(h("p", { class: "error" }, e.message));
  }
  const after = await api("GET", "/_sim/graph");
  const afterCreds = credentialIndex(after);
  const changes = (await api("GET", `/_sim/events?after=${seq}&top=5000`)).value || [];
  await pollEvents(false);
  const items = [];
  for (const e of changes) {
    const d = e.details || {};
    if (e.kind === "credential.rolled") {
      const next = afterCreds.get(d.keyId) || {};
      const prev = afterCreds.get(d.previousKeyId) || beforeCreds.get(d.previousKeyId) || {};
      items.push(h("li", { class: "rolled" }, h("strong", {}, "Credential rolled: "),
        `${named(d.principalId)} — old certificate `, h("span", { class: "mono" }, prev.thumbprint || d.previousKeyId || "?"),
        " → new certificate ", h("span", { class: "mono" }, next.thumbprint || d.keyId),
        " (the new one signs now", next.nextRotation ? `; next rotation ${next.nextRotation}` : "", ")"));
    } else if (e.kind === "credential.expired") {
      items.push(h("li", {}, h("strong", {}, "Credential expired: "), `${named(d.principalId || e.subject)} `,
        h("span", { class: "mono" }, (afterCreds.get(d.keyId) || {}).thumbprint || d.keyId || "")));
    } else if (e.kind === "signingKey.rotated" || e.kind === "signingKey.created") {
      items.push(h("li", {}, h("strong", {}, "Token signing key: "), `${e.kind} ${summary(e)}`));
    } else if (/purged|replicat/i.test(e.kind)) {
      items.push(h("li", {}, h("strong", {}, e.kind + ": "), named(e.subject)));
    }
  }
  for (const p of now.replicationFinished || [])
    items.push(h("li", { class: "replicated" }, h("strong", {}, "Replication finished: "), `${p.displayName} `,
      h("span", { class: "mono" }, p.objectId), " is now visible to role assignments (since " + p.replicatedAt + ")"));
  const moved = (Number(now.epoch) - Number(was.epoch)) || 0;
  out.replaceChildren(h("div", { class: "summary" }, h("h3", {}, `Advanced by ${by}: ${was.now} → ${now.now}`),
    items.length ? h("ul", {}, ...items) : h("p", { class: "muted" }, "No credential rolled or expired; no replication finished."),
    moved >= 3600 ? h("p", {}, "Tokens issued before the jump have expired (tokens last 1–24 hours): clients that "
      + "hold cached tokens (az, SDK credentials) must sign in again; managed identities simply ask IMDS again.") : ""));
  await loadClock();
  if (S.tab === "graph") await loadGraph();
}

// ---- tokens --------------------------------------------------------------------------------------------------------
const CLAIMS = { aud: "audience (the resource the token is for)", iss: "issuer", tid: "tenant", oid: "object id of the principal",
  sub: "subject (= oid for apps)", appid: "client id (application)", azp: "client id (application)",
  xms_mirid: "the managed identity's resource", idtyp: "identity type", appidacr: "how the client authenticated (2: certificate)",
  iat: "issued at", nbf: "not before", exp: "expires", ver: "token version", roles: "application permissions" };

function wireTokens() { $("#token-decode-form").addEventListener("submit", decodeToken); }

async function decodeToken(ev) {
  ev.preventDefault();
  const token = $("#token-input").value.trim();
  const out = $("#token-result");
  let d;
  try { d = await api("POST", "/_sim/tokens/decode", { token }); } catch (e) {
    return out.replaceChildren(h("p", { class: "error" }, e.message));
  }
  const n = d.names || {};
  const meaning = (k, v) => {
    if (k === "oid" && n.oid) return "→ principal " + whoText(n.oid) + (n.oid.servicePrincipalType ? ` [${n.oid.servicePrincipalType}]` : "");
    if ((k === "appid" || k === "azp") && n.appid) return "→ application " + (n.appid.displayName || "(unknown)")
      + (n.appid.bootstrap ? " (the bootstrap principal)" : "") + (n.appid.exists ? "" : " (gone)");
    if (k === "xms_mirid" && n.xms_mirid) return `→ resource ${n.xms_mirid.name}` + (n.xms_mirid.exists ? "" : " (deleted)");
    if (d.times && d.times[k]) return d.times[k];
    return "";
  };
  out.replaceChildren(h("p", {}, d.expired ? h("span", { class: "tag bad" }, "expired") : h("span", { class: "tag good" }, "valid"),
    ` signed by ${d.signedBy}; simulated time ${d.now}`),
    h("table", { class: "grid", id: "token-claims" }, h("thead", {}, h("tr", {}, h("th", {}, "Claim"), h("th", {}, "Value"),
      h("th", {}, "Meaning"), h("th", {}, "Names"))),
    h("tbody", {}, ...Object.entries(d.claims).map(([k, v]) => h("tr", { dataset: { claim: k } }, h("td", {}, k),
      h("td", { class: "mono" }, typeof v === "object" ? JSON.stringify(v) : String(v)), h("td", {}, CLAIMS[k] || ""),
      h("td", {}, meaning(k, v)))))));
}

document.addEventListener("DOMContentLoaded", boot);

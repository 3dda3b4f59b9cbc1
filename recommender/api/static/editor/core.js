/* What every part of the review page shares: the view in the URL, the API call, messages, tabs. */
export var BASE = location.pathname.replace(/\/editor(\/.*)?$/, "");
export var LIMIT = 20;
export var FILTERS = ["q", "state", "topic", "from", "to", "confidence", "article", "editor", "action"];
var KEY = "dive-deeper-editor-token";
var TABS = ["unreviewed", "changed", "gaps", "all", "dashboard", "audit"];
var FIELDS = { q: "f-q", state: "f-state", topic: "f-topic", from: "f-from", to: "f-to", confidence: "f-confidence", article: "filter-article", editor: "f-editor", action: "f-action" };

// The page's URL holds the tab, the page and every filter: a link is shareable, a reload keeps them.
function fromUrl() {
  var params = new URLSearchParams(location.search);
  var state = { tab: params.get("tab") || "unreviewed", offset: Math.max(0, parseInt(params.get("offset"), 10) || 0) };
  if (TABS.indexOf(state.tab) < 0) state.tab = "unreviewed";
  FILTERS.forEach(function (name) { state[name] = params.get(name) || ""; });
  return state;
}

export var view = fromUrl();

function toUrl() {
  var params = new URLSearchParams();
  if (view.tab !== "unreviewed") params.set("tab", view.tab);
  if (view.offset) params.set("offset", String(view.offset));
  FILTERS.forEach(function (name) { if (view[name]) params.set(name, view[name]); });
  var search = params.toString();
  var url = location.pathname + (search ? "?" + search : "");
  if (url !== location.pathname + location.search) history.replaceState(null, "", url);
}

export function fillForm() {
  FILTERS.forEach(function (name) { $(FIELDS[name]).value = view[name]; });
}

export function readForm() {
  FILTERS.forEach(function (name) { view[name] = $(FIELDS[name]).value.trim(); });
}

export function $(id) { return document.getElementById(id); }
export function token() { return sessionStorage.getItem(KEY); }
export function keepToken(value) { sessionStorage.setItem(KEY, value); }

export function say(text, isError) {
  var box = $("message");
  box.textContent = text || "";
  box.className = "message" + (isError ? " error" : "");
}

export function query(params) {
  var parts = [];
  for (var name in params) {
    if (params[name] !== "" && params[name] !== undefined) parts.push(name + "=" + encodeURIComponent(params[name]));
  }
  return parts.join("&");
}

export function signOut(message) {
  sessionStorage.removeItem(KEY);
  $("who").hidden = true;
  $("app").hidden = true;
  $("sign-in").hidden = false;
  $("sign-in-error").textContent = message || "";
}

export function api(method, path, body, headers) {
  var options = { method: method, headers: { Authorization: "Bearer " + token() }, credentials: "omit", cache: "no-store" };
  for (var name in headers || {}) options.headers[name] = headers[name];
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  return fetch(BASE + path, options).then(function (response) {
    return response.json().catch(function () { return {}; }).then(function (data) {
      if (response.status === 401 || response.status === 403) {
        signOut(data.detail || "Please sign in again.");
        throw new Error(data.detail || "not signed in");
      }
      if (!response.ok) {
        var error = new Error(data.detail || "HTTP " + response.status);
        error.status = response.status;
        throw error;
      }
      return data;
    });
  });
}

// Each tab's loader registers here (queue.js, reports.js), so that showing a tab needs no import of them.
var loaders = {};

export function onTab(tabs, load) {
  tabs.forEach(function (tab) { loaders[tab] = load; });
}

export function show(tab) {
  view.tab = tab;
  var tabs = document.querySelectorAll("[data-tab]");
  for (var i = 0; i < tabs.length; i++) {
    tabs[i].setAttribute("aria-selected", String(tabs[i].getAttribute("data-tab") === tab));
  }
  $("queue-view").hidden = tab === "dashboard" || tab === "audit";
  $("dashboard-view").hidden = tab !== "dashboard";
  $("audit-view").hidden = tab !== "audit";
  $("filter").hidden = tab === "dashboard";
  $("filter").className = "filter" + (tab === "audit" ? " for-audit" : "");
  fillForm();
  toUrl();
  return loaders[tab]();
}

// After a decision: the same tab again, with what changed.
export function reload() { return show(view.tab); }

/* The review page: plain JavaScript modules, no build step. Every text goes in with textContent.
   core.js (view, API, tabs) ← undo.js ← keyboard.js, pin.js ← queue.js; reports.js; this file signs in and wires the page. */
import { $, LIMIT, FILTERS, api, fillForm, keepToken, readForm, say, show, signOut, token, view } from "./core.js";
import "./queue.js";
import "./reports.js";

function showSignedIn(name) {
  $("who-name").textContent = name;
  $("who").hidden = false;
  $("sign-in").hidden = true;
  $("app").hidden = false;
  show(view.tab);
}

$("sign-in-form").addEventListener("submit", function (event) {
  event.preventDefault();
  var value = $("token").value.trim();
  if (!value) return;
  keepToken(value);
  $("token").value = "";
  api("GET", "/v1/editors/me").then(function (me) { showSignedIn(me.name); }, function () {});
});
$("sign-out").addEventListener("click", function () { signOut(""); });

// -- tabs and filter -------------------------------------------------------------------------
var tabs = document.querySelectorAll("[data-tab]");
for (var t = 0; t < tabs.length; t++) {
  tabs[t].addEventListener("click", function (event) {
    view.offset = 0;
    say("");
    show(event.currentTarget.getAttribute("data-tab"));
  });
}
$("filter").addEventListener("submit", function (event) {
  event.preventDefault();
  readForm();
  view.offset = 0;
  show(view.tab);
});
$("filter-reset").addEventListener("click", function () {
  FILTERS.forEach(function (name) { view[name] = ""; });
  fillForm();
  view.offset = 0;
  show(view.tab);
});
$("prev").addEventListener("click", function () { view.offset = Math.max(0, view.offset - LIMIT); show(view.tab); });
$("next").addEventListener("click", function () { view.offset += LIMIT; show(view.tab); });

if (token()) {
  api("GET", "/v1/editors/me").then(function (me) { showSignedIn(me.name); }, function () {});
}

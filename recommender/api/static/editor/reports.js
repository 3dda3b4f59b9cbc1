/* The coverage dashboard and the audit log (with its CSV export): the two tabs that are not a queue. */
import { $, BASE, api, onTab, query, say, token, view } from "./core.js";

// -- coverage dashboard --------------------------------------------------------------------
function loadCoverage() {
  return api("GET", "/v1/coverage").then(renderCoverage, function (error) { say(error.message, true); });
}

function card(label, value, share) {
  var box = document.createElement("div");
  box.className = "card";
  var v = document.createElement("div");
  v.className = "value";
  var percent = share * 100;
  v.textContent = share === undefined ? String(value) : (percent > 0 && percent < 10 ? percent.toFixed(1) : Math.round(percent)) + "%";
  var l = document.createElement("div");
  l.className = "label";
  l.textContent = share === undefined ? label : label + " (" + value + ")";
  box.appendChild(v);
  box.appendChild(l);
  return box;
}

function renderCoverage(data) {
  var cards = $("cards");
  cards.textContent = "";
  cards.appendChild(card("questions", data.questions));
  [["answered", "answered"], ["approved", "approved or pinned"], ["rejected", "with a rejection"], ["gaps", "gaps"], ["hidden", "hidden"], ["unreviewed", "to review"], ["pending", "waiting for review (not shown)"]].forEach(
    function (pair) { cards.appendChild(card(pair[1], data.counts[pair[0]], data.shares[pair[0]])); }
  );
  var histogram = $("histogram");
  histogram.textContent = "";
  var most = 1;
  data.histogram.forEach(function (bin) { most = Math.max(most, bin.count); });
  data.histogram.forEach(function (bin) {
    var bar = document.createElement("div");
    bar.className = "bar" + (bin.end <= data.gap_threshold ? " below" : "");
    bar.style.height = (100 * bin.count) / most + "%";
    bar.title = bin.start.toFixed(1) + "–" + bin.end.toFixed(1) + ": " + bin.count;
    var count = document.createElement("b");
    count.textContent = String(bin.count);
    var label = document.createElement("span");
    label.textContent = bin.start.toFixed(1);
    bar.appendChild(count);
    bar.appendChild(label);
    histogram.appendChild(bar);
  });
  var hint = "Red bars: below the gap threshold (" + data.gap_threshold.toFixed(3) + "); such questions show nothing unless an editor pins or approves an answer.";
  if (data.review_threshold !== null && data.review_threshold !== undefined) {
    hint += " Calibrated: a gap below " + Math.round(data.review_threshold * 100) + "% confidence, live unreviewed from " +
      Math.round(data.auto_approve_threshold * 100) + "% (score " + data.live_threshold.toFixed(3) + "), waiting for review in between.";
  }
  $("histogram-hint").textContent = hint;
}

// -- audit log -----------------------------------------------------------------------------
function loadAudit() {
  var q = query({ limit: 100, article_id: view.article, editor: view.editor, action: view.action });
  csvLink(q);
  return api("GET", "/v1/audit?" + q).then(renderAudit, function (error) {
    say(error.message, true);
    $("audit-rows").textContent = "";
  });
}

function brief(state) {
  var parts = [];
  if (state.pinned) parts.push("pinned " + state.pinned);
  if (state.approved) parts.push("approved " + state.approved);
  if (state.rejected && state.rejected.length) parts.push("rejected " + state.rejected.join(", "));
  if (state.hidden) parts.push("hidden");
  if (state.gap) parts.push("gap");
  return parts.join("; ") || "—";
}

// The export carries the token in a header, as every call does: fetched, then saved from memory.
function csvLink(q) {
  var link = $("audit-csv");
  link.onclick = function (event) {
    event.preventDefault();
    fetch(BASE + "/v1/audit?" + q + "&format=csv", { headers: { Authorization: "Bearer " + token() }, credentials: "omit", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.blob();
      })
      .then(function (blob) {
        var save = document.createElement("a");
        save.href = URL.createObjectURL(blob);
        save.download = "audit.csv";
        document.body.appendChild(save);
        save.click();
        save.remove();
      }, function (error) { say(error.message, true); });
  };
}

function renderAudit(data) {
  var rows = $("audit-rows");
  rows.textContent = "";
  data.items.forEach(function (entry) {
    var tr = document.createElement("tr");
    var question = entry.question_text ? entry.question_text + " (" + (entry.article_title || entry.article_id) + ")" : entry.question_id;
    var target = entry.target_id ? (entry.target_title || entry.target_id) : "";
    [entry.at.replace("T", " ").slice(0, 19), entry.editor + (entry.role ? " (" + entry.role + ")" : ""), entry.action, question, target,
      brief(entry.before) + " → " + brief(entry.after)].forEach(function (text) {
      var td = document.createElement("td");
      td.textContent = text;
      tr.appendChild(td);
    });
    rows.appendChild(tr);
  });
  say(data.total + (data.total === 1 ? " decision" : " decisions") + (view.article ? " about " + view.article : "") +
    (view.editor ? " by " + view.editor : "") + (view.action ? " (" + view.action + ")" : ""));
}

onTab(["dashboard"], loadCoverage);
onTab(["audit"], loadAudit);

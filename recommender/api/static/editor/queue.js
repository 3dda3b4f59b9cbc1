/* The review queue (unreviewed, changed, gaps, all): cards with candidates, clusters and decisions. */
import { $, LIMIT, api, onTab, query, reload, say, view } from "./core.js";
import { keepMark } from "./keyboard.js";
import { pinSearch, showPreview } from "./pin.js";
import { offerUndo } from "./undo.js";

var latest = 0;

function loadQueue() {
  var q = query({
    kind: view.tab, limit: LIMIT, offset: view.offset, article_id: view.article, q: view.q, state: view.state,
    topic: view.topic, from: view.from, to: view.to, confidence: view.confidence
  });
  var ticket = ++latest;  // only the newest request renders: an older, slower one must not overwrite it
  return api("GET", "/v1/review?" + q).then(
    function (data) { if (ticket === latest) renderQueue(data); },
    function (error) {
      if (ticket !== latest) return;
      say(error.message, true);
      // never leave another list under a filter that failed: an empty list and the reason
      renderQueue({ kind: view.tab, total: 0, questions: 0, offset: 0, items: [] }, error.message);
    }
  );
}

var LABELS = {
  unreviewed: "suggestions to review (live or waiting), lowest confidence first",
  changed: "approved or pinned answers that changed since an editor confirmed them (fact check edited or deleted, or dropped by the model)",
  gaps: "gaps: questions nothing answers",
  all: "questions"
};
// What an empty list says: a whole sentence, not "0" and a label.
var EMPTY = {
  unreviewed: "Nothing to review: every suggestion has been reviewed.",
  changed: "Nothing changed: no approved or pinned answer was edited, deleted or dropped by the model since an editor confirmed it.",
  gaps: "No gaps: every question has an answer.",
  all: "No questions yet."
};

// Search or filters beyond the article (an article's own empty queue says what the tab says).
function filtered() {
  return ["q", "state", "topic", "from", "to", "confidence"].some(function (name) { return view[name]; });
}

function renderQueue(data, failure) {
  var list = $("queue");
  list.textContent = "";
  // Counted in questions, as the coverage dashboard and `recommender status` count them.
  var grouped = data.total !== data.questions ? " (" + data.total + " items: duplicates grouped)" : "";
  var empty = failure ? "Nothing listed: " + failure : filtered() ? "Nothing matches these filters." : EMPTY[data.kind];
  $("queue-summary").textContent = data.total ? data.questions + " " + LABELS[data.kind] + (filtered() ? " matching the filters" : "") + grouped : empty;
  var end = Math.min(data.offset + data.items.length, data.total);
  $("page").textContent = data.total ? data.offset + 1 + "–" + end + " of " + data.total : "";
  $("prev").disabled = data.offset === 0;
  $("next").disabled = end >= data.total;
  for (var i = 0; i < data.items.length; i++) list.appendChild(renderItem(data.items[i]));
  // what the list shows now (for scripts and tests that wait for a reload)
  list.setAttribute("data-kind", data.kind);
  list.setAttribute("data-article", view.article);
  list.setAttribute("data-query", query({ q: view.q, state: view.state, topic: view.topic, from: view.from, to: view.to, confidence: view.confidence }));
  keepMark(data.items.length);
}

function renderItem(item) {
  var node = $("item-template").content.firstElementChild.cloneNode(true);
  node.setAttribute("data-question-id", item.question.id);
  node.setAttribute("tabindex", "-1");  // j/k move the focus from card to card
  var badge = node.querySelector(".badge");
  badge.textContent = item.state + (item.decision.rejected.length ? " · " + item.decision.rejected.length + " rejected" : "");
  badge.classList.add(item.state);
  node.querySelector(".question").textContent = item.question.text;
  node.querySelector(".source").textContent =
    "From " + (item.source ? item.source.title + " (" + item.source.id + ")" : item.question.article_id);
  var reasons = node.querySelector(".reasons");
  for (var r = 0; r < item.reasons.length; r++) {
    var li = document.createElement("li");
    li.textContent = item.reasons[r];
    reasons.appendChild(li);
  }
  renderCluster(node, item);
  if (item.why) node.querySelector(".why-text").textContent = item.why;  // collapsed: open "why" to read
  else node.querySelector(".why").hidden = true;
  var body = node.querySelector(".candidates tbody");
  var shown = item.answer ? item.answer.id : null;
  var extra = [];
  for (var c = 0; c < item.candidates.length; c++) {
    var row = candidateRow(item, item.candidates[c], shown);
    if (c >= SHOWN_CANDIDATES) {
      row.hidden = true;
      extra.push(row);
    }
    body.appendChild(row);
  }
  if (extra.length) body.appendChild(moreToggle(extra));
  if (!item.candidates.length) node.querySelector(".candidates").hidden = true;
  node.querySelector('[data-action="hide"]').hidden = item.decision.hidden;
  node.querySelector('[data-action="unhide"]').hidden = !item.decision.hidden;
  node.querySelector('[data-action="gap"]').hidden = item.decision.gap;
  var buttons = node.querySelectorAll(".actions > button");
  for (var b = 0; b < buttons.length; b++) {
    buttons[b].addEventListener("click", function (event) {
      decide(item, event.currentTarget.getAttribute("data-action"), null);
    });
  }
  pinSearch(node, item, function (target) { decide(item, "pin", target); });
  return node;
}

// Duplicate questions: one queue item per cluster; an editor's decision on one is offered to the rest.
function renderCluster(node, item) {
  var box = node.querySelector(".cluster");
  if (!item.cluster) return;
  box.hidden = false;
  var members = item.cluster.members;
  box.querySelector(".cluster-text").textContent =
    "Also asked as (" + members.length + (members.length === 1 ? " other question" : " other questions") + "):";
  var list = box.querySelector(".cluster-members");
  for (var m = 0; m < members.length; m++) {
    var li = document.createElement("li");
    li.textContent = members[m].question.text + " — " + members[m].question.article_id + " (" + members[m].state + ")";
    list.appendChild(li);
  }
  var button = box.querySelector(".apply-cluster");
  var offer = item.cluster.offer;
  if (!offer.length) return;
  var questions = {};
  offer.forEach(function (o) { questions[o.question_id] = true; });
  var count = Object.keys(questions).length;
  button.hidden = false;
  button.textContent = "Apply the decision on " + item.cluster.offer_from + " to " + count + (count === 1 ? " other question" : " other questions");
  button.addEventListener("click", function () {
    api("POST", "/v1/clusters/" + encodeURIComponent(item.cluster.id) + "/apply", { from_question_id: item.cluster.offer_from }).then(
      function (result) { say("Applied to " + result.items.length + " questions of the cluster."); return reload(); },
      function (error) { say(error.message, true); }
    );
  });
}

var SHOWN_CANDIDATES = 2;  // compact cards: the rest behind "Show N more"

function moreToggle(rows) {
  var tr = document.createElement("tr");
  tr.className = "more-toggle";
  var td = document.createElement("td");
  td.colSpan = 4;
  var button = document.createElement("button");
  button.type = "button";
  button.textContent = "Show " + rows.length + " more";
  button.addEventListener("click", function () {
    for (var i = 0; i < rows.length; i++) rows[i].hidden = false;
    tr.hidden = true;
  });
  td.appendChild(button);
  tr.appendChild(td);
  return tr;
}

function candidateRow(item, candidate, shown) {
  var tr = document.createElement("tr");
  tr.setAttribute("data-article", candidate.id);
  if (candidate.id === shown) tr.className = "shown";
  var rank = document.createElement("td");
  rank.textContent = String(candidate.rank + 1);
  var title = document.createElement("td");
  var name = document.createElement("span");
  name.textContent = candidate.title;
  title.appendChild(name);
  if (candidate.pinned || candidate.approved || candidate.fresher) {
    // The reason this row is out of score order (every other row is in it).
    var flag = document.createElement("span");
    flag.className = "flag";
    flag.textContent = candidate.pinned ? "pinned" : candidate.approved ? "approved" : "newer, close score";
    title.appendChild(flag);
  }
  var id = document.createElement("span");
  id.className = "id";
  id.textContent = candidate.id;
  title.appendChild(id);
  var score = document.createElement("td");
  score.className = "score";
  score.textContent = candidate.score.toFixed(3);
  if (candidate.confidence !== null && candidate.confidence !== undefined) {
    // calibrated: how likely an editor approves this link
    var confidence = document.createElement("span");
    confidence.className = "confidence";
    confidence.textContent = Math.round(candidate.confidence * 100) + "%";
    confidence.title = "Calibrated probability that an editor approves this link";
    score.appendChild(confidence);
  }
  var act = document.createElement("td");
  act.className = "act";
  ["approve", "reject"].forEach(function (action) {
    if (action === "approve" && (candidate.approved || candidate.pinned)) return;
    var button = document.createElement("button");
    button.type = "button";
    button.setAttribute("data-action", action);
    button.textContent = action === "approve" ? "Approve" : "Reject";
    button.addEventListener("click", function () { decide(item, action, candidate.id); });
    act.appendChild(button);
  });
  tr.appendChild(rank);
  tr.appendChild(title);
  tr.appendChild(score);
  tr.appendChild(act);
  return tr;
}

var PAST = { approve: "Approved", reject: "Rejected", pin: "Pinned", hide: "Hid", unhide: "Unhid", gap: "Marked as a gap", clear: "Cleared the decisions of" };

function decide(item, action, articleId) {
  var body = { action: action };
  if (articleId) body.article_id = articleId;
  var headers = { "If-Match": '"' + item.decision.version + '"' };
  return api("POST", "/v1/questions/" + encodeURIComponent(item.question.id) + "/decision", body, headers).then(
    function (result) {
      var what = articleId && action !== "pin" ? " " + articleId + " for" : "";
      var text = PAST[action] + what + " “" + result.question.text + "”" + (action === "pin" ? " → " + articleId : "") + ".";
      say(text);
      offerUndo(text, result);
      if (action === "pin") showPreview(result.question);
      return reload();
    },
    function (error) {
      say(error.status === 409 ? "Someone else changed this question meanwhile; the list is reloaded." : error.message, true);
      if (error.status === 409) reload();
    }
  );
}

onTab(["unreviewed", "changed", "gaps", "all"], loadQueue);

/* The review page: plain JavaScript, no build step. Every text goes in with textContent. */
(function () {
  "use strict";
  var BASE = location.pathname.replace(/\/editor(\/.*)?$/, "");
  var KEY = "dive-deeper-editor-token";
  var LIMIT = 20;
  var FILTERS = ["q", "state", "topic", "from", "to", "confidence", "article", "editor", "action"];
  var TABS = ["unreviewed", "changed", "gaps", "all", "dashboard", "audit"];
  var view = fromUrl();
  var UNDO_MS = 10000;

  // The page's URL holds the tab, the page and every filter: a link is shareable, a reload keeps them.
  function fromUrl() {
    var params = new URLSearchParams(location.search);
    var state = { tab: params.get("tab") || "unreviewed", offset: Math.max(0, parseInt(params.get("offset"), 10) || 0) };
    if (TABS.indexOf(state.tab) < 0) state.tab = "unreviewed";
    FILTERS.forEach(function (name) { state[name] = params.get(name) || ""; });
    return state;
  }

  function toUrl() {
    var params = new URLSearchParams();
    if (view.tab !== "unreviewed") params.set("tab", view.tab);
    if (view.offset) params.set("offset", String(view.offset));
    FILTERS.forEach(function (name) { if (view[name]) params.set(name, view[name]); });
    var search = params.toString();
    var url = location.pathname + (search ? "?" + search : "");
    if (url !== location.pathname + location.search) history.replaceState(null, "", url);
  }

  var FIELDS = { q: "f-q", state: "f-state", topic: "f-topic", from: "f-from", to: "f-to", confidence: "f-confidence", article: "filter-article", editor: "f-editor", action: "f-action" };

  function fillForm() {
    FILTERS.forEach(function (name) { $(FIELDS[name]).value = view[name]; });
  }

  function $(id) { return document.getElementById(id); }
  function token() { return sessionStorage.getItem(KEY); }

  function say(text, isError) {
    var box = $("message");
    box.textContent = text || "";
    box.className = "message" + (isError ? " error" : "");
  }

  function api(method, path, body, headers) {
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

  // -- sign in -------------------------------------------------------------------------------
  function showSignedIn(name) {
    $("who-name").textContent = name;
    $("who").hidden = false;
    $("sign-in").hidden = true;
    $("app").hidden = false;
    show(view.tab);
  }

  function signOut(message) {
    sessionStorage.removeItem(KEY);
    $("who").hidden = true;
    $("app").hidden = true;
    $("sign-in").hidden = false;
    $("sign-in-error").textContent = message || "";
  }

  $("sign-in-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var value = $("token").value.trim();
    if (!value) return;
    sessionStorage.setItem(KEY, value);
    $("token").value = "";
    api("GET", "/v1/editors/me").then(function (me) { showSignedIn(me.name); }, function () {});
  });
  $("sign-out").addEventListener("click", function () { signOut(""); });

  // -- tabs and filter -----------------------------------------------------------------------
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
    FILTERS.forEach(function (name) { view[name] = $(FIELDS[name]).value.trim(); });
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

  function show(tab) {
    view.tab = tab;
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
    if (tab === "dashboard") return loadCoverage();
    if (tab === "audit") return loadAudit();
    return loadQueue();
  }

  // -- queue ---------------------------------------------------------------------------------
  function query(params) {
    var parts = [];
    for (var name in params) {
      if (params[name] !== "" && params[name] !== undefined) parts.push(name + "=" + encodeURIComponent(params[name]));
    }
    return parts.join("&");
  }

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
    current = Math.min(current, data.items.length - 1);
    if (current >= 0) mark(current, false);
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
    pinSearch(node, item);
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
        function (result) { say("Applied to " + result.items.length + " questions of the cluster."); return show(view.tab); },
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
        return show(view.tab);
      },
      function (error) {
        say(error.status === 409 ? "Someone else changed this question meanwhile; the list is reloaded." : error.message, true);
        if (error.status === 409) show(view.tab);
      }
    );
  }

  // -- undo ------------------------------------------------------------------------------------
  var undoable = null;
  var undoTimer = null;

  // Every decision offers Undo for a while; the server restores the state before it and audits both.
  function offerUndo(text, result) {
    undoable = { question: result.question, version: result.decision.version };
    $("toast-text").textContent = text;
    $("toast").hidden = false;
    clearTimeout(undoTimer);
    undoTimer = setTimeout(function () { $("toast").hidden = true; undoable = null; }, UNDO_MS);
  }

  function undo() {
    if (!undoable) return;
    var target = undoable;
    undoable = null;
    clearTimeout(undoTimer);
    $("toast").hidden = true;
    api("POST", "/v1/questions/" + encodeURIComponent(target.question.id) + "/decision/undo", { version: target.version }).then(
      function (result) {
        say("Undone: “" + result.question.text + "” is " + result.state + " again.");
        return show(view.tab);
      },
      function (error) {
        say(error.status === 409 ? "Cannot undo: someone changed this question meanwhile." : error.message, true);
      }
    );
  }
  $("undo").addEventListener("click", undo);
  $("preview-close").addEventListener("click", function () { $("preview").hidden = true; });
  $("queue").addEventListener("focusin", function (event) {
    var all = items();
    for (var i = 0; i < all.length; i++) if (all[i].contains(event.target)) { if (i !== current) mark(i, false); return; }
  });

  // -- pin by search ---------------------------------------------------------------------------
  var SEARCH_DELAY_MS = 250;

  function pinSearch(node, item) {
    var form = node.querySelector(".pin-form");
    var input = form.querySelector(".pin-input");
    var results = form.querySelector(".pin-results");
    var timer = null;
    var asked = 0;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      var text = input.value.trim();
      if (text.length < 3) { results.hidden = true; input.setAttribute("aria-expanded", "false"); return; }
      timer = setTimeout(function () {
        var ticket = ++asked;
        api("GET", "/v1/search?" + query({ q: text, k: 5 })).then(function (data) {
          if (ticket !== asked) return;
          results.textContent = "";
          data.results.forEach(function (found, n) {
            if (found.id === item.question.article_id) return;  // a question cannot link to its own article
            results.appendChild(resultRow(found, n, input, results));
          });
          results.hidden = !results.children.length;
          input.setAttribute("aria-expanded", String(!results.hidden));
        }, function (error) { say(error.message, true); });
      }, SEARCH_DELAY_MS);
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown" && !results.hidden) {
        event.preventDefault();
        results.querySelector("[role=option]").focus();
      }
      if (event.key === "Escape") { results.hidden = true; input.setAttribute("aria-expanded", "false"); }
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var target = input.getAttribute("data-article") || input.value.trim();
      if (target) decide(item, "pin", target);
    });
  }

  function resultRow(found, n, input, results) {
    var li = document.createElement("li");
    li.setAttribute("role", "option");
    li.setAttribute("tabindex", "-1");
    li.setAttribute("data-article", found.id);
    li.id = "pin-" + found.id + "-" + n;
    var title = document.createElement("strong");
    title.textContent = found.title;
    var meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = (found.checked_on ? "checked " + found.checked_on + " · " : "") + found.id;
    li.appendChild(title);
    li.appendChild(meta);
    if (found.passage) {
      var passage = document.createElement("span");
      passage.className = "passage";
      passage.textContent = found.passage.length > 220 ? found.passage.slice(0, 220) + "…" : found.passage;
      li.appendChild(passage);
    }
    function choose() {
      input.value = found.title;
      input.setAttribute("data-article", found.id);
      results.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.focus();
    }
    li.addEventListener("click", choose);
    li.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); choose(); }
      if (event.key === "ArrowDown" && li.nextElementSibling) { event.preventDefault(); li.nextElementSibling.focus(); }
      if (event.key === "ArrowUp") { event.preventDefault(); (li.previousElementSibling || input).focus(); }
    });
    return li;
  }

  // What readers of the question's article will see now (no cache: the decision just changed it).
  function showPreview(question) {
    var box = $("preview");
    fetch(BASE + "/v1/articles/" + encodeURIComponent(question.article_id) + "/dive-deeper", { cache: "no-store", credentials: "omit" })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        box.querySelector(".preview-article").textContent = question.article_id;
        var list = box.querySelector(".preview-list");
        list.textContent = "";
        (data.questions || []).concat(data.related || []).slice(0, 5).forEach(function (entry) {
          var li = document.createElement("li");
          if (entry.id === question.id) li.className = "this";
          var a = document.createElement("a");
          a.href = entry.answer.url || BASE + "/demo/" + encodeURIComponent(entry.answer.id);
          a.textContent = entry.text;
          var by = document.createElement("span");
          by.className = "by";
          by.textContent = entry.answer.title;
          li.appendChild(a);
          li.appendChild(by);
          list.appendChild(li);
        });
        box.hidden = false;
      }, function () {});
  }

  // -- keyboard --------------------------------------------------------------------------------
  var current = -1;

  function items() { return document.querySelectorAll("#queue li.item"); }

  function mark(n, focus) {
    var all = items();
    if (!all.length) { current = -1; return; }
    current = Math.max(0, Math.min(n, all.length - 1));
    for (var i = 0; i < all.length; i++) all[i].classList.toggle("current", i === current);
    if (focus) all[current].focus();
  }

  function press(selector) {
    var node = items()[current];
    var button = node && node.querySelector(selector);
    if (button && !button.hidden) button.click();
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || $("app").hidden) return;
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "select" || tag === "textarea" || $("keys").open) return;
    var node = items()[current];
    switch (event.key) {
      case "j": mark(current + 1, true); break;
      case "k": mark(current - 1, true); break;
      case "a": press("tr.shown button[data-action=approve], .candidates tbody tr:first-child button[data-action=approve]"); break;
      case "r": press("tr.shown button[data-action=reject], .candidates tbody tr:first-child button[data-action=reject]"); break;
      case "h": if (node) press(node.querySelector('[data-action="hide"]').hidden ? '[data-action="unhide"]' : '[data-action="hide"]'); break;
      case "p": if (node) node.querySelector(".pin-input").focus(); break;
      case "u": undo(); break;
      case "/": $("f-q").focus(); break;
      case "?": $("keys").showModal(); break;
      default: return;
    }
    event.preventDefault();
  });

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

  if (token()) {
    api("GET", "/v1/editors/me").then(function (me) { showSignedIn(me.name); }, function () {});
  }
})();

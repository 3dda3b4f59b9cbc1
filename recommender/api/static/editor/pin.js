/* Pin by search: type a few words, choose a fact check from the service's search, pin it; then a preview. */
import { $, BASE, api, query, say } from "./core.js";

var SEARCH_DELAY_MS = 250;

// `pin(articleId)` makes the decision (queue.js owns decisions; this module only finds the target).
export function pinSearch(node, item, pin) {
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
    if (target) pin(target);
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
export function showPreview(question) {
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

$("preview-close").addEventListener("click", function () { $("preview").hidden = true; });

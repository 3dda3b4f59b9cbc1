/* dive-deeper widget: <div data-dive-deeper="ARTICLE_ID"></div><script src="https://SERVICE/widget.js" async></script>
 *
 * Renders "Want to dive deeper?" into a shadow root (no CSS leaks either way), sets every text with
 * textContent (question texts come from the CMS), sends no cookies, and on any error or after the
 * timeout renders nothing at all, leaving the page as it was. Optional attributes on the element:
 * data-max (how many questions), data-heading (the title), data-include-unanswered ("true": also list
 * the article's own questions nothing answers yet, as text marked "Not checked yet", in the article's
 * order; off by default, so a reader sees only questions that lead to a fact check).
 */
(function () {
  "use strict";
  var CONFIG = /*CONFIG*/ { max: 5, timeout: 3000 } /*END*/;
  var ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
  var CSS = [
    ":host{all:initial;display:block;contain:content}",
    ".dd{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2433;background:#f6f8fb;",
    "border:1px solid #dde3ec;border-radius:10px;padding:14px 18px;margin:24px 0}",
    "h2{font-size:17px;line-height:1.3;margin:0 0 10px;color:#0f1a2e}",
    "ul{list-style:none;margin:0;padding:0}",
    "li{margin:0;padding:8px 0;border-top:1px solid #e3e8f0}",
    "li:first-child{border-top:0}",
    "a{color:#0b57d0;text-decoration:none;font-weight:600}",
    "a:hover,a:focus{text-decoration:underline}",
    ".by{display:block;font-size:13px;color:#5b6577;margin-top:2px}",
    ".open{font-weight:600;color:#1d2433}"
  ].join("");

  function serviceBase() {
    var script = document.currentScript;
    if (!script) {
      var all = document.querySelectorAll('script[src*="widget.js"]');
      script = all[all.length - 1];
    }
    if (!script || !script.src) return null;
    var url = new URL(script.src, document.baseURI);
    return url.origin + url.pathname.replace(/\/widget\.js$/, "");
  }

  function safeHref(url) {
    try {
      var parsed = new URL(url, document.baseURI);
      return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
    } catch (e) {
      return null;
    }
  }

  function items(data, max, unanswered) {
    var seen = {};
    var out = [];
    var lists = [data.questions || [], data.related || []];
    for (var l = 0; l < lists.length; l++) {
      for (var i = 0; i < lists[l].length && out.length < max; i++) {
        var q = lists[l][i];
        // an unanswered question (answer null) only among the article's own, and only when asked for
        if (!q || typeof q.text !== "string" || seen[q.id]) continue;
        if (!q.answer && !(unanswered && l === 0 && q.answer === null)) continue;
        seen[q.id] = true;
        out.push(q);
      }
    }
    return out;
  }

  function render(host, base, data, max, heading, unanswered) {
    var list = items(data, max, unanswered);
    if (!list.length) return false;
    var style = document.createElement("style");
    style.textContent = CSS;
    var box = document.createElement("section");
    box.className = "dd";
    box.setAttribute("aria-label", heading);
    var h2 = document.createElement("h2");
    h2.textContent = heading;
    var ul = document.createElement("ul");
    for (var i = 0; i < list.length; i++) {
      var q = list[i];
      if (!q.answer) {
        ul.appendChild(openItem(q));
        continue;
      }
      var href = (q.answer.url && safeHref(q.answer.url)) || base + "/demo/" + encodeURIComponent(q.answer.id);
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = href;
      a.textContent = q.text;
      a.setAttribute("data-answer", String(q.answer.id));
      var by = document.createElement("span");
      by.className = "by";
      by.textContent = "Fact check: " + String(q.answer.title || "");
      li.appendChild(a);
      li.appendChild(by);
      ul.appendChild(li);
    }
    box.appendChild(h2);
    box.appendChild(ul);
    var root = host.shadowRoot || host.attachShadow({ mode: "open" }); // last: nothing half-built shows
    while (root.firstChild) root.removeChild(root.firstChild);
    root.appendChild(style);
    root.appendChild(box);
    return true;
  }

  function openItem(q) {
    // a question nothing answers yet: text, no link (data-question lets the site count interest later)
    var li = document.createElement("li");
    li.setAttribute("data-unanswered", "");
    var text = document.createElement("span");
    text.className = "open";
    text.textContent = q.text;
    text.setAttribute("data-question", String(q.id));
    var by = document.createElement("span");
    by.className = "by";
    by.textContent = "Not checked yet";
    li.appendChild(text);
    li.appendChild(by);
    return li;
  }

  function mount(host, base) {
    if (host.__diveDeeper) return;
    host.__diveDeeper = "loading"; // an expando, not an attribute: the page's markup stays as it was
    var id = host.getAttribute("data-dive-deeper") || "";
    if (!ID.test(id) || typeof fetch !== "function") {
      host.__diveDeeper = "failed";
      return;
    }
    var max = parseInt(host.getAttribute("data-max") || "", 10);
    if (!(max >= 1)) max = CONFIG.max;
    max = Math.min(max, 50);
    var heading = host.getAttribute("data-heading") || "Want to dive deeper?";
    var unanswered = host.getAttribute("data-include-unanswered") === "true";
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var done = false;
    var timer = setTimeout(function () {
      done = true;
      if (controller) controller.abort();
    }, CONFIG.timeout);
    var url = base + "/v1/articles/" + encodeURIComponent(id) + "/dive-deeper";
    fetch(unanswered ? url + "?include_unanswered=true" : url, {
      credentials: "omit",
      mode: "cors",
      signal: controller ? controller.signal : undefined
    })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        if (done) return;
        clearTimeout(timer);
        done = true;
        host.__diveDeeper = render(host, base, data, max, heading, unanswered) ? "done" : "empty";
      })
      .catch(function () {
        clearTimeout(timer);
        host.__diveDeeper = "failed";
      });
  }

  try {
    var base = serviceBase();
    if (!base) return;
    var start = function () {
      var hosts = document.querySelectorAll("[data-dive-deeper]");
      for (var i = 0; i < hosts.length; i++) mount(hosts[i], base);
    };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
    else start();
  } catch (e) {
    /* never break the page */
  }
})();

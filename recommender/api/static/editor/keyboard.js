/* Keyboard shortcuts (listed under "?"): j/k move between cards, a/r/h/p/u act on the current one. */
import { $ } from "./core.js";
import { undo } from "./undo.js";

var current = -1;

function items() { return document.querySelectorAll("#queue li.item"); }

export function mark(n, focus) {
  var all = items();
  if (!all.length) { current = -1; return; }
  current = Math.max(0, Math.min(n, all.length - 1));
  for (var i = 0; i < all.length; i++) all[i].classList.toggle("current", i === current);
  if (focus) all[current].focus();
}

// A new list keeps the current card where it was, if the list is still that long.
export function keepMark(count) {
  current = Math.min(current, count - 1);
  if (current >= 0) mark(current, false);
}

function press(selector) {
  var node = items()[current];
  var button = node && node.querySelector(selector);
  if (button && !button.hidden) button.click();
}

$("queue").addEventListener("focusin", function (event) {
  var all = items();
  for (var i = 0; i < all.length; i++) if (all[i].contains(event.target)) { if (i !== current) mark(i, false); return; }
});

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

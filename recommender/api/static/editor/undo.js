/* Every decision offers Undo for a while; the server restores the state before it and audits both. */
import { $, api, reload, say } from "./core.js";

var UNDO_MS = 10000;
var undoable = null;
var undoTimer = null;

export function offerUndo(text, result) {
  undoable = { question: result.question, version: result.decision.version };
  $("toast-text").textContent = text;
  $("toast").hidden = false;
  clearTimeout(undoTimer);
  undoTimer = setTimeout(function () { $("toast").hidden = true; undoable = null; }, UNDO_MS);
}

export function undo() {
  if (!undoable) return;
  var target = undoable;
  undoable = null;
  clearTimeout(undoTimer);
  $("toast").hidden = true;
  api("POST", "/v1/questions/" + encodeURIComponent(target.question.id) + "/decision/undo", { version: target.version }).then(
    function (result) {
      say("Undone: “" + result.question.text + "” is " + result.state + " again.");
      return reload();
    },
    function (error) {
      say(error.status === 409 ? "Cannot undo: someone changed this question meanwhile." : error.message, true);
    }
  );
}

$("undo").addEventListener("click", undo);

// Refreshes the view in place: fetches the same view's fragment every few seconds and swaps it in.
// The fragment is HTML the server built with every value escaped. The containers filter changes the
// address with history.replaceState and refreshes at once, without loading the page again.
(function () {
  "use strict";
  var body = document.body;
  var view = body.getAttribute("data-view");
  var every = parseInt(body.getAttribute("data-refresh-ms"), 10) || 2000;
  var content = document.getElementById("content");
  var status = document.getElementById("status");
  var form = document.getElementById("filters");
  var busy = false;

  function query() {
    if (!form) { return window.location.search; }
    var parts = [];
    Array.prototype.forEach.call(form.querySelectorAll("select"), function (select) {
      if (select.value) { parts.push(encodeURIComponent(select.name) + "=" + encodeURIComponent(select.value)); }
    });
    return parts.length ? "?" + parts.join("&") : "";
  }

  function say(text, bad) {
    status.textContent = text;
    status.className = bad ? "status bad" : "status";
  }

  function refresh() {
    if (busy) { return; }
    busy = true;
    fetch("/fragment/" + view + query(), {credentials: "same-origin", cache: "no-store"})
      .then(function (answer) {
        if (!answer.ok) { throw new Error("the dashboard answered " + answer.status); }
        return answer.text();
      })
      .then(function (html) {
        content.innerHTML = html;
        say("live \u00b7 " + new Date().toLocaleTimeString(), false);
      })
      .catch(function (error) { say("not updated: " + error.message, true); })
      .then(function () { busy = false; });
  }

  if (form) {
    form.addEventListener("change", function () {
      window.history.replaceState(null, "", window.location.pathname + query());
      refresh();
    });
  }
  window.setInterval(refresh, every);
})();

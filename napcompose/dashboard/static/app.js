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

  // New projects, services and hosts become choices as they appear; the chosen one stays chosen.
  function refreshChoices() {
    if (!form) { return; }
    Array.prototype.forEach.call(content.querySelectorAll("ul.choices"), function (list) {
      var select = form.querySelector("select[name='" + list.getAttribute("data-key") + "']");
      if (!select) { return; }
      var wanted = select.value;
      var values = Array.prototype.map.call(list.querySelectorAll("li"), function (li) { return li.textContent; });
      if (wanted && values.indexOf(wanted) < 0) { values.push(wanted); }
      var now = Array.prototype.slice.call(select.options, 1).map(function (o) { return o.value; });
      if (now.join("\n") === values.join("\n")) { return; }  // unchanged: leave an open list alone
      while (select.options.length > 1) { select.remove(1); }
      values.forEach(function (value) { select.add(new Option(value, value, false, value === wanted)); });
    });
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
        refreshChoices();
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

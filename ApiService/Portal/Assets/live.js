// Live attempts: the portal's delivery stream (server-sent events) adds each new attempt to the table on the page,
// newest first. Without script the page still works; it just needs a reload.
(function () {
  var table = document.querySelector("[data-live-attempts]");
  if (!table || !window.EventSource) return;
  var body = table.querySelector("tbody");
  var region = document.getElementById("live-region");
  var endpoint = table.getAttribute("data-endpoint") || "";
  var source = new EventSource("/portal/live" + (endpoint ? "?endpointId=" + encodeURIComponent(endpoint) : ""));
  function cell(row, text, className) {
    var td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }
  // The catch-up and the stream can both bring the same attempt; each row is added once.
  function has(id) {
    return Array.prototype.some.call(body.querySelectorAll("tr[data-attempt]"), function (r) { return r.getAttribute("data-attempt") === id; });
  }
  // An attempt made after this page was rendered but before the stream began reached neither: once the stream is
  // open, take the table from a fresh rendering and add the rows this one lacks.
  var caughtUp = false;
  source.addEventListener("open", function () {
    if (caughtUp || !window.fetch || !window.DOMParser) return;
    caughtUp = true;
    fetch(location.href, { credentials: "same-origin" }).then(function (response) {
      return response.ok ? response.text() : "";
    }).then(function (html) {
      var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-live-attempts] tbody");
      if (!fresh) return;
      var rows = Array.prototype.slice.call(fresh.querySelectorAll("tr[data-attempt]")).reverse();
      rows.forEach(function (row) {
        var id = row.getAttribute("data-attempt");
        if (has(id)) return;
        body.insertBefore(document.importNode(row, true), body.firstChild);
        var empty = table.querySelector("[data-empty]");
        if (empty) empty.remove();
      });
    }).catch(function () { });
  });
  source.addEventListener("delivery", function (event) {
    var o = JSON.parse(event.data);
    if (has(o.attemptId)) return;
    var row = document.createElement("tr");
    row.setAttribute("data-attempt", o.attemptId);
    var when = cell(row, new Date(o.attemptedAt).toLocaleString());
    var link = document.createElement("a");
    link.href = "/portal/messages/" + encodeURIComponent(o.messageId);
    link.textContent = o.messageId;
    var m = cell(row, "", "wrap");
    m.appendChild(link);
    var s = cell(row, "");
    var badge = document.createElement("span");
    badge.className = "status " + (o.status === "succeeded" ? "ok" : "bad");
    badge.textContent = o.status;
    s.appendChild(badge);
    cell(row, o.httpStatus == null ? (o.error || "") : String(o.httpStatus));
    cell(row, o.latencyMs + " ms", "optional");
    body.insertBefore(row, body.firstChild);
    var empty = table.querySelector("[data-empty]");
    if (empty) empty.remove();
    if (region) region.textContent = "New attempt: " + o.eventType + " " + o.status;
  });
})();

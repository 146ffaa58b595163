// Patrol console: plain script, no framework, nothing fetched from elsewhere.
// - the board follows /console/events (server-sent events) and swaps in the rows the server
//   renders (escaped there), so this script never builds HTML from incident text;
// - deadline clocks (.clock[data-due]) tick every second;
// - an operator token, entered once, is kept in sessionStorage (never a cookie) and sent as
//   Authorization: Bearer on the console's API calls; write buttons show only for an identity
//   the server says may write, and the server checks again on every write.
"use strict";
(function () {
  var TOKEN_KEY = "patrol.console.token";
  // Server time minus browser time, so clocks count down by the collector's clock.
  var skew = 0;

  function token() {
    try { return sessionStorage.getItem(TOKEN_KEY) || ""; } catch (e) { return ""; }
  }
  function headers(json) {
    var h = { "X-Patrol-Console": "1" };
    if (json) { h["Content-Type"] = "application/json"; }
    var t = token();
    if (t) { h["Authorization"] = "Bearer " + t; }
    return h;
  }
  function span(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    var d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
    s = s % 60;
    if (d > 0) { return d + "d " + h + "h"; }
    if (h > 0) { return h + "h " + m + "m"; }
    if (m > 0) { return m + "m " + s + "s"; }
    return s + "s";
  }
  function tick() {
    var now = Date.now() + skew;
    var clocks = document.querySelectorAll(".clock[data-due]");
    for (var i = 0; i < clocks.length; i++) {
      var c = clocks[i];
      var due = Number(c.getAttribute("data-due"));
      var kind = c.getAttribute("data-kind") || "";
      var over = now > due;
      c.textContent = kind + " " + (over ? span(now - due) + " overdue" : span(due - now) + " left");
      c.classList.toggle("overdue", over);
    }
  }
  function setSkew(serverNow) {
    if (serverNow) { skew = Number(serverNow) - Date.now(); }
  }
  function message(text) {
    try { var j = JSON.parse(text); return j.error || text; } catch (e) { return text; }
  }

  // The board.
  function rowOf(html) {
    var t = document.createElement("tbody");
    t.innerHTML = html; // rendered and escaped by the collector
    return t.firstElementChild;
  }
  function order(a, b) {
    var ra = Number(a.getAttribute("data-rank")), rb = Number(b.getAttribute("data-rank"));
    if (ra !== rb) { return ra - rb; }
    return Number(b.getAttribute("data-id")) - Number(a.getAttribute("data-id"));
  }
  function place(body, row) {
    var rows = body.children;
    for (var i = 0; i < rows.length; i++) {
      if (order(row, rows[i]) < 0) { body.insertBefore(row, rows[i]); return; }
    }
    body.appendChild(row);
  }
  function emptyLine(body) {
    var empty = document.getElementById("board-empty");
    if (empty) { empty.hidden = body.children.length > 0; }
  }
  function board() {
    var body = document.getElementById("board-rows");
    if (!body || !window.EventSource) { return; }
    var live = document.getElementById("live");
    function state(s, text) { if (live) { live.setAttribute("data-state", s); live.textContent = text; } }
    var source = new EventSource("/console/events");
    source.addEventListener("open", function () { state("live", "live updates: on"); });
    source.addEventListener("error", function () { state("down", "live updates: reconnecting…"); });
    source.addEventListener("snapshot", function (e) {
      var d = JSON.parse(e.data);
      setSkew(d.now_ms);
      body.textContent = "";
      for (var i = 0; i < d.rows.length; i++) { body.appendChild(rowOf(d.rows[i])); }
      var more = document.getElementById("board-more");
      if (more) { more.hidden = !d.more; more.textContent = d.more_text; }
      emptyLine(body);
      tick();
    });
    source.addEventListener("incident", function (e) {
      var d = JSON.parse(e.data);
      setSkew(d.now_ms);
      var old = document.getElementById("incident-" + d.id);
      if (old) { old.parentNode.removeChild(old); }
      if (d.live) {
        var row = rowOf(d.html);
        row.classList.add("fresh");
        place(body, row);
      }
      emptyLine(body);
      tick();
    });
  }

  // Who is signed in, and the write buttons.
  function whoami() {
    var who = document.getElementById("who");
    var form = document.getElementById("signin");
    var out = document.getElementById("signout");
    fetch("/console/api/whoami", { headers: headers(false), cache: "no-store" })
      .then(function (r) { return r.text().then(function (t) { return { ok: r.ok, text: t }; }); })
      .then(function (r) {
        if (!r.ok) {
          if (who) { who.textContent = token() ? "token refused: " + message(r.text) : ""; }
          return;
        }
        var me = JSON.parse(r.text);
        if (who) { who.textContent = me.name + " (" + (me.role || "no role") + ")"; }
        if (token()) { if (form) { form.hidden = true; } if (out) { out.hidden = false; } }
        var actions = document.getElementById("actions");
        if (actions && me.can_write) {
          actions.hidden = false;
          var byRow = document.getElementById("by-row");
          if (byRow) { byRow.hidden = !me.shared; }
        }
      })
      .catch(function () { /* the page still reads without it */ });
  }
  function signin() {
    var form = document.getElementById("signin");
    if (form) {
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        var input = document.getElementById("token");
        var t = input ? input.value.trim() : "";
        if (!t) { return; }
        try { sessionStorage.setItem(TOKEN_KEY, t); } catch (err) { return; }
        if (input) { input.value = ""; }
        whoami();
      });
    }
    var out = document.getElementById("signout");
    if (out) {
      out.addEventListener("click", function () {
        try { sessionStorage.removeItem(TOKEN_KEY); } catch (err) { /* nothing kept */ }
        location.reload();
      });
    }
  }
  function writes() {
    var actions = document.getElementById("actions");
    if (!actions) { return; }
    var id = actions.getAttribute("data-id");
    var buttons = actions.querySelectorAll("button[data-op]");
    function value(elId) { var el = document.getElementById(elId); return el ? el.value : ""; }
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].addEventListener("click", function (e) {
        var op = e.currentTarget.getAttribute("data-op");
        var error = document.getElementById("action-error");
        var body = { note: value("note"), by: value("by") };
        if (op === "assign") { body.to = value("to"); }
        fetch("/console/api/incidents/" + encodeURIComponent(id) + "/" + op, {
          method: "POST", headers: headers(true), body: JSON.stringify(body), cache: "no-store"
        })
          .then(function (r) { return r.text().then(function (t) { return { ok: r.ok, text: t }; }); })
          .then(function (r) {
            if (r.ok) { location.reload(); return; }
            if (error) { error.hidden = false; error.textContent = message(r.text); }
          })
          .catch(function (err) {
            if (error) { error.hidden = false; error.textContent = String(err); }
          });
      });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var table = document.getElementById("board");
    if (table) { setSkew(table.getAttribute("data-now")); }
    signin();
    whoami();
    writes();
    board();
    tick();
    setInterval(tick, 1000);
  });
})();

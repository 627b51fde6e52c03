/* whagent status page: refreshes the numbers from GET /v1/status?detail=1 every 5 s and
 * shows times also in the browser's zone. Every text from the agent goes in as textContent. */
(function () {
  "use strict";
  function $(id) { return document.getElementById(id); }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function utc(ms) {
    var d = new Date(ms);
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) +
      " " + pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds()) + " UTC";
  }
  function local(ms) {
    var d = new Date(ms);
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) + " local";
  }
  function when(ms) { return ms > 0 ? utc(ms) + " · " + local(ms) : "never"; }
  function set(id, text) { var e = $(id); if (e) e.textContent = text; }
  function rows(id, list, cells) {
    var tb = $(id); if (!tb) return;
    while (tb.firstChild) tb.removeChild(tb.firstChild);
    list.forEach(function (x) {
      var tr = document.createElement("tr");
      cells(x).forEach(function (c, i) {
        var td = document.createElement("td");
        td.textContent = c;
        if (id === "q-rows" && i === 5) td.className = "raw";
        tr.appendChild(td);
      });
      tb.appendChild(tr);
    });
  }
  function chart(h) {
    var svg = $("chart"); if (!svg || !h || !h.t_ms) return;
    var n = h.t_ms.length, max = 1, pts = "", pa = "", maxa = 1, i;
    for (i = 0; i < n; i++) { max = Math.max(max, h.backlog[i]); maxa = Math.max(maxa, h.oldest_age_s[i]); }
    for (i = 0; i < n; i++) {
      var x = n > 1 ? (i * 1000 / (n - 1)) : 1000;
      pts += x.toFixed(1) + "," + (100 - h.backlog[i] * 95 / max).toFixed(1) + " ";
      pa += x.toFixed(1) + "," + (100 - h.oldest_age_s[i] * 95 / maxa).toFixed(1) + " ";
    }
    $("c-backlog").setAttribute("points", pts);
    $("c-age").setAttribute("points", pa);
    set("c-max", "max backlog " + max + " · max oldest age " + maxa + " s · " + n + " samples of " + h.sample_s + " s");
  }
  function render(s) {
    var st = $("state"), cls = "state s-" + s.state.replace(/ /g, "-");
    st.textContent = s.state; st.className = cls;
    set("since", s.state_since_ms > 0 ? "since " + when(s.state_since_ms) : "");
    set("link", s.mqtt + (s.mqtt_since_ms > 0 ? " since " + when(s.mqtt_since_ms) : ""));
    set("backlog", s.backlog + " events");
    set("oldest", s.oldest_unsent_age_s + " s");
    set("inflight", String(s.mqtt_inflight));
    set("budget", s.journal_bytes + " of " + s.journal_max_bytes + " bytes (" +
      Math.round(s.journal_bytes * 100 / s.journal_max_bytes) + " %)");
    set("quarantined", String(s.quarantined));
    set("lasterror", s.mqtt_last_error ? s.mqtt_last_error + " (" + when(s.mqtt_last_error_ms) + ")" +
      (s.mqtt_last_error_current ? " — current" : " — resolved since") : "none");
    var ul = $("alarm-list");
    while (ul.firstChild) ul.removeChild(ul.firstChild);
    (s.alarms || []).forEach(function (a) {
      var li = document.createElement("li"), b = document.createElement("b");
      li.className = "alarm"; li.setAttribute("data-name", a.name);
      b.textContent = a.name; li.appendChild(b);
      li.appendChild(document.createTextNode(" " + a.text + " (since " + when(a.since_ms) + ")"));
      ul.appendChild(li);
    });
    set("no-alarms", (s.alarms || []).length ? "" : "No alarms.");
    rows("in-rows", s.inputs || [], function (x) {
      var pm = Object.keys(x.per_minute).map(function (k) { return k + " " + x.per_minute[k]; }).join(", ");
      return [x.name, when(x.last_record_ms), x.last_position, String(x.taken), String(x.quarantined), pm || "0"];
    });
    rows("q-rows", s.quarantine || [], function (q) {
      return [String(q.id), when(q.received_at_ms), q.input, q.position, q.reason, q.raw];
    });
    actions(s);
    rows("r-rows", s.recent || [], function (e) {
      return [String(e.seq), e.kind, e.sku, e.qty + " " + e.uom, e.location, when(e.event_time_ms)];
    });
    var c = s.clock || {};
    set("clock", (c.ntp_synced === true ? "NTP synchronised" : c.ntp_synced === false ? "NOT synchronised" : "unknown") +
      " · boot " + c.boot_id + " · " + c.jumps + " jumps · " + c.event_time_flagged + " event times flagged");
    chart(s.history);
    set("updated", "updated " + when(Date.now()));
  }
  /* requeue and purge: only with [input.http] token_file, the token typed here (kept in
   * this tab's sessionStorage) and sent as a Bearer header, which no other site can send */
  function act(id, what) {
    var x = new XMLHttpRequest();
    x.open("POST", "/v1/quarantine/" + encodeURIComponent(id) + "/" + what);
    x.setRequestHeader("Authorization", "Bearer " + ($("q-token").value || ""));
    x.onload = function () {
      var r = {}; try { r = JSON.parse(x.responseText); } catch (e) { r.error = x.status; }
      set("q-result", x.status === 200 ? id + ": " + r.result + (r.seq ? " as seq " + r.seq : "") +
        (r.reason ? ": " + r.reason : "") : id + ": " + (r.error || x.status));
      poll();
    };
    x.send();
  }
  function actions(s) {
    var box = $("q-actions"); if (!box) return;
    box.hidden = !s.actions;
    if (!s.actions) return;
    var tok = $("q-token");
    if (!tok.value && window.sessionStorage) tok.value = sessionStorage.getItem("whagent-token") || "";
    tok.onchange = function () { if (window.sessionStorage) sessionStorage.setItem("whagent-token", tok.value); };
    Array.prototype.forEach.call($("q-rows").rows, function (tr) {
      var id = tr.cells[0].textContent, td = document.createElement("td");
      ["requeue", "purge"].forEach(function (what) {
        var bt = document.createElement("button");
        bt.textContent = what; bt.setAttribute("data-action", what); bt.setAttribute("data-id", id);
        bt.onclick = function () { if (what !== "purge" || window.confirm("purge " + id + "?")) act(id, what); };
        td.appendChild(bt);
      });
      tr.appendChild(td);
    });
  }
  function poll() {
    var x = new XMLHttpRequest();
    x.open("GET", "/v1/status?detail=1");
    x.onload = function () { if (x.status === 200) { try { render(JSON.parse(x.responseText)); } catch (e) { set("updated", "refresh failed: " + e); } } };
    x.onerror = function () { set("updated", "agent unreachable since " + when(Date.now())); };
    x.send();
  }
  Array.prototype.forEach.call(document.querySelectorAll("time[data-ms]"), function (t) {
    var ms = +t.getAttribute("data-ms"); if (ms > 0) t.textContent = when(ms);
  });
  /* for tests/bench/bench_page.py: navigation start to the load event, as this browser saw it */
  window.addEventListener("load", function () {
    document.documentElement.setAttribute("data-load-ms", String(Math.round(performance.now())));
  });
  poll();
  setInterval(poll, 5000);
})();

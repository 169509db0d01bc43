// Jobs list: refresh the rows of running jobs in place.
// Polls fast while the tab is visible and someone is using it, slower when
// idle, slowest when hidden; stops when no visible job is running.
(function () {
    "use strict";
    var table = document.getElementById("jobs-table");
    if (!table) return;

    var URL_ = table.dataset.refreshUrl;
    var METRIC = table.dataset.metric || "";
    var FAST = 5000, IDLE = 20000, HIDDEN = 60000, IDLE_AFTER = 5 * 60 * 1000;
    var lastActivity = Date.now();
    var timer = null;
    var busy = false;

    function runningIds() {
        var rows = table.querySelectorAll("tbody tr[data-running]");
        return Array.prototype.map.call(rows, function (row) { return row.dataset.jobId; });
    }

    function interval() {
        if (document.hidden) return HIDDEN;
        return Date.now() - lastActivity > IDLE_AFTER ? IDLE : FAST;
    }

    function schedule(delay) {
        clearTimeout(timer);
        timer = setTimeout(poll, delay === undefined ? interval() : delay);
    }

    function replaceRow(id, html) {
        var old = document.getElementById("job-" + id);
        if (!old) return;
        var tpl = document.createElement("template");
        tpl.innerHTML = html.trim();  // server-rendered and escaped by Django
        var fresh = tpl.content.querySelector("tr");
        if (!fresh) return;
        // The refreshed row keeps the tick it had: the selection lives in the page.
        var was = old.querySelector("input.pick-job"), now = fresh.querySelector("input.pick-job");
        if (was && now) now.checked = was.checked;
        old.replaceWith(fresh);
    }

    function poll() {
        var ids = runningIds();
        if (!ids.length || busy) return;
        busy = true;
        var params = new URLSearchParams({ids: ids.join(","), metric: METRIC});
        fetch(URL_ + "?" + params.toString(), {credentials: "same-origin", headers: {"Accept": "application/json"}})
            .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
            .then(function (data) {
                data.rows.forEach(function (row) { replaceRow(row.id, row.html); });
            })
            .catch(function () { /* keep the rows we have; try again later */ })
            .finally(function () { busy = false; schedule(); });
    }

    function active() {
        var wasIdle = Date.now() - lastActivity > IDLE_AFTER;
        lastActivity = Date.now();
        if (wasIdle) schedule(0);
    }

    ["mousemove", "keydown", "scroll", "touchstart"].forEach(function (name) {
        document.addEventListener(name, active, {passive: true});
    });
    document.addEventListener("visibilitychange", function () {
        schedule(document.hidden ? undefined : 0);
    });
    schedule();

    // Jobs ticked to compare: kept in ?compare= (so paging, sorting and
    // filtering keep them) and sent as ?ids= by the compare form.
    var form = document.getElementById("compare-form");
    var filters = document.getElementById("filters");
    var button = document.getElementById("compare-button");
    if (!form) return;

    function selection() {
        var ids = Array.prototype.map.call(form.querySelectorAll("input[type=hidden][name=ids]"), function (i) { return i.value; });
        table.querySelectorAll("input.pick-job:checked").forEach(function (box) { ids.push(box.value); });
        return ids;
    }

    function withCompare(href, value) {
        var url = new URL(href, window.location.href);
        if (value) url.searchParams.set("compare", value); else url.searchParams.delete("compare");
        return url.pathname + url.search + url.hash;
    }

    function keep() {
        var ids = selection();
        var value = ids.join(",");
        history.replaceState(history.state, "", withCompare(window.location.href, value));
        document.querySelectorAll("main a[href^='?']").forEach(function (a) {
            a.setAttribute("href", "?" + new URL(withCompare(a.getAttribute("href"), value), window.location.href).search.slice(1));
        });
        button.textContent = "Compare selected" + (ids.length ? " (" + ids.length + ")" : "");
    }

    table.addEventListener("change", function (event) {
        if (event.target.classList && event.target.classList.contains("pick-job")) keep();
    });
    if (filters) {
        filters.addEventListener("submit", function () {
            var value = selection().join(",");
            var input = filters.querySelector("input[name=compare]");
            if (!value) { if (input) input.remove(); return; }
            if (!input) {
                input = document.createElement("input");
                input.type = "hidden";
                input.name = "compare";
                filters.appendChild(input);
            }
            input.value = value;
        });
    }
    keep();
})();

// Job page: while the job runs, re-fetch the CloudWatch panel (server-rendered,
// escaped by the server) every data-refresh seconds and swap it in place.
// What the reader typed or opened in the panel survives the swap; a panel
// rendered without data-refresh (the job turned terminal) ends the refreshing.
(function () {
    "use strict";
    var panel = document.getElementById("cloudwatch");
    if (!panel || !panel.dataset.refresh) return;
    var URL_ = panel.dataset.url;
    var EVERY = Math.max(5, parseInt(panel.dataset.refresh, 10) || 30) * 1000;
    var timer = null;

    function keep(old, fresh) {
        old.querySelectorAll("input[id], textarea[id]").forEach(function (box) {
            var twin = fresh.querySelector("#" + CSS.escape(box.id));
            if (twin) { twin.value = box.value; }
        });
        var opened = old.querySelectorAll("details");
        fresh.querySelectorAll("details").forEach(function (d, i) {
            if (opened[i]) { d.open = opened[i].open; }
        });
    }

    function refresh() {
        fetch(URL_, {credentials: "same-origin", cache: "no-store"})
            .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
            .then(function (html) {
                var holder = document.createElement("div");
                holder.innerHTML = html;
                var fresh = holder.querySelector("#cloudwatch");
                if (!fresh) return;
                var focused = document.activeElement && panel.contains(document.activeElement) ? document.activeElement.id : "";
                keep(panel, fresh);
                panel.replaceWith(fresh);
                panel = fresh;
                if (focused && document.getElementById(focused)) { document.getElementById(focused).focus(); }
                panel.dispatchEvent(new CustomEvent("cloudwatch:refreshed", {bubbles: true}));
                panel.dataset.refreshedAt = String(Date.now());
            })
            .catch(function () { panel.classList.add("offline"); })
            .finally(function () { if (panel.dataset.refresh) { schedule(); } });
    }

    function schedule() {
        clearTimeout(timer);
        timer = setTimeout(refresh, document.hidden ? EVERY * 4 : EVERY);
    }
    schedule();
})();

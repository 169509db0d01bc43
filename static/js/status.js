// Status page: replace the figures with a fresh server-rendered fragment
// every N seconds (data-every), four times slower while the tab is hidden.
(function () {
    "use strict";
    var root = document.getElementById("status-root");
    if (!root) return;

    var URL_ = root.dataset.url;
    var EVERY = Math.max(1, parseInt(root.dataset.every, 10) || 15) * 1000;
    var timer = null;

    function schedule(delay) {
        clearTimeout(timer);
        timer = setTimeout(refresh, delay === undefined ? (document.hidden ? EVERY * 4 : EVERY) : delay);
    }

    function refresh() {
        fetch(URL_, {credentials: "same-origin", headers: {"Accept": "application/json"}})
            .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
            .then(function (data) {
                root.innerHTML = data.html;  // server-rendered and escaped by Django
                root.classList.remove("offline");
            })
            .catch(function () { root.classList.add("offline"); })
            .finally(function () { schedule(); });
    }

    document.addEventListener("visibilitychange", function () {
        schedule(document.hidden ? undefined : 0);
    });
    schedule();
})();

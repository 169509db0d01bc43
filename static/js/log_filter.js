// Job page: the log filter box hides the log lines that do not contain its
// text (case-insensitive), in every host's tail, and opens the hosts with a
// match. Applied again when the CloudWatch panel is swapped for a fresh one.
(function () {
    "use strict";

    function apply() {
        var box = document.getElementById("log-filter");
        if (!box) return;
        var needle = box.value.trim().toLowerCase();
        var shown = 0, total = 0;
        document.querySelectorAll("#cloudwatch details.cw-log").forEach(function (host) {
            var matches = 0;
            host.querySelectorAll("ol.cw-lines > li").forEach(function (line) {
                var text = line.querySelector(".cw-text");
                if (!text) return;
                total += 1;
                var hit = !needle || text.textContent.toLowerCase().indexOf(needle) !== -1;
                line.hidden = !hit;
                if (hit) { shown += 1; matches += 1; }
            });
            if (needle && matches) { host.open = true; }
        });
        var count = document.getElementById("log-filter-count");
        if (count) { count.textContent = needle ? shown + " of " + total + " lines" : ""; }
    }

    document.addEventListener("input", function (event) {
        if (event.target && event.target.id === "log-filter") { apply(); }
    });
    document.addEventListener("cloudwatch:refreshed", apply);
})();

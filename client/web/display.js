// SPDX-License-Identifier: ISC
// The display page for the campus screens: full screen, large type, the
// live alerts one after the other, no buttons.  An alert on this screen
// counts as shown.
"use strict";

(function () {
  const ROTATE_MS = 10000;
  let pos = 0;

  function live() {
    return Array.from(wz.alerts.values())
      .filter(function (a) { return !wz.ended(a) && a.type !== "cancel" && !a.replaced_by; })
      .sort(function (x, y) {
        return (wz.sevRank[y.severity] || 0) - (wz.sevRank[x.severity] || 0) ||
          y.received_at - x.received_at;
      });
  }

  function draw() {
    const all = live();
    const s = document.getElementById("screen");
    const marks = document.getElementById("marks");
    marks.replaceChildren();
    document.getElementById("clock").textContent = wz.time(wz.now());
    if (all.length === 0) {
      s.className = "idle";
      document.getElementById("headline").textContent = wz.t("displayEmpty");
      document.getElementById("instruction").textContent = "";
      document.getElementById("text").textContent = "";
      document.getElementById("issuer").textContent = "";
      document.getElementById("pos").textContent = "";
      return;
    }
    if (pos >= all.length) pos = 0;
    const a = all[pos];
    s.className = "sev-" + a.severity;
    s.dataset.id = a.id;
    marks.appendChild(wz.el("span", "mark sev", wz.t(a.severity)));
    if (a.status !== "actual") marks.appendChild(wz.el("span", "mark drill", wz.t(a.status === "test" ? "test" : "drill")));
    if (a.type === "update") marks.appendChild(wz.el("span", "mark type", wz.t("update")));
    document.getElementById("headline").textContent = a.headline;
    document.getElementById("instruction").textContent = a.instruction;
    document.getElementById("text").textContent = a.text;
    document.getElementById("issuer").textContent = a.issuer;
    document.getElementById("pos").textContent = all.length > 1 ? (pos + 1) + "/" + all.length : "";
    wz.markShown([a.id]);
  }

  setInterval(function () { pos++; draw(); }, ROTATE_MS);
  wz.start(draw);
})();

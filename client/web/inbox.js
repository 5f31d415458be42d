// SPDX-License-Identifier: ISC
// The advisor's inbox: every alert this agent verified, live ones first
// by severity, newest first; "read" and "relayed to N people" go back to
// the agent, which acknowledges them to the daemon.
"use strict";

(function () {
  const list = document.getElementById("alerts");
  const drafts = new Map();  // typed head counts survive a redraw

  function stateText(a) {
    const names = {
      delivered: wz.t("delivered"), shown: wz.t("shown"),
      read: wz.t("stateRead"),
      relayed: wz.t("relayed") + " " + a.reach + " " + wz.t("people"),
    };
    const s = names[a.state] || a.state;
    const ok = a.sent === a.state || (a.state === "shown" && a.sent !== "delivered" && a.sent !== "none");
    return s + " · " + (ok ? wz.t("confirmed") : wz.t("pending"));
  }

  function card(a) {
    const li = wz.el("li", "card sev-" + a.severity);
    li.dataset.id = a.id;
    li.dataset.state = a.state;
    if (wz.ended(a)) li.classList.add("ended");
    const marks = wz.el("div", "marks");
    marks.appendChild(wz.el("span", "mark sev", wz.t(a.severity)));
    if (a.status === "exercise") marks.appendChild(wz.el("span", "mark drill", wz.t("drill")));
    if (a.status === "test") marks.appendChild(wz.el("span", "mark drill", wz.t("test")));
    if (a.reminder) marks.appendChild(wz.el("span", "mark reminder", wz.t("reminder")));
    if (a.type === "update") marks.appendChild(wz.el("span", "mark type", wz.t("update")));
    if (a.type === "cancel") marks.appendChild(wz.el("span", "mark type", wz.t("cancel")));
    if (a.withdrawn) marks.appendChild(wz.el("span", "mark cancelled", wz.t("cancelled")));
    else if (a.expires_at <= wz.now()) marks.appendChild(wz.el("span", "mark expired", wz.t("expired")));
    if (a.replaced_by && !a.withdrawn) marks.appendChild(wz.el("span", "mark replaced", wz.t("replaced")));
    li.appendChild(marks);

    const h = wz.el("h2", "headline", a.headline);
    h.dir = "auto";
    li.appendChild(h);
    if (a.instruction) {
      const ins = wz.el("p", "instruction");
      ins.appendChild(wz.el("strong", null, wz.t("instruction") + "："));
      const s = wz.el("span", null, a.instruction);
      s.dir = "auto";
      ins.appendChild(s);
      li.appendChild(ins);
    }
    if (a.text) {
      const p = wz.el("p", "text", a.text);
      p.dir = "auto";
      li.appendChild(p);
    }
    if (a.references) li.appendChild(wz.el("p", "meta", wz.t("refers") + " " + a.references));
    const meta = wz.el("p", "meta");
    meta.textContent = wz.t("from") + " " + a.issuer + " · " + wz.t("to") + " " +
      a.target + " · " + wz.t("received") + " " + wz.time(a.received_at) +
      " · " + wz.t("expires") + " " + wz.time(a.expires_at);
    li.appendChild(meta);
    if (a.relay_required && a.state !== "relayed")
      li.appendChild(wz.el("p", "needs-relay", wz.t("needsRelay")));

    const st = wz.el("p", "state", stateText(a));
    li.appendChild(st);

    if (!wz.ended(a) && a.type !== "cancel") {
      const act = wz.el("form", "actions");
      act.noValidate = true;
      const rd = wz.el("button", "read", wz.t("read"));
      rd.type = "button";
      rd.disabled = a.state === "read" || a.state === "relayed";
      rd.addEventListener("click", function () {
        rd.disabled = true;
        wz.post("api/ack", [["id", a.id], ["state", "read"]])
          .then(function (j) { wz.merge(j); draw(); })
          .catch(function (e) { rd.disabled = false; st.textContent = e.message; });
      });
      act.appendChild(rd);
      const n = wz.el("input", "reach");
      n.type = "number";
      n.min = "0";
      n.max = "100000";
      n.inputMode = "numeric";
      n.placeholder = wz.t("relayPh");
      n.setAttribute("aria-label", wz.t("relayPh"));
      if (drafts.has(a.id)) n.value = drafts.get(a.id);
      else if (a.state === "relayed") n.value = String(a.reach);
      n.addEventListener("input", function () { drafts.set(a.id, n.value); });
      act.appendChild(n);
      const rl = wz.el("button", "relay", wz.t("relay"));
      rl.type = "submit";
      act.appendChild(rl);
      act.addEventListener("submit", function (ev) {
        ev.preventDefault();
        if (!/^[0-9]{1,6}$/.test(n.value)) { st.textContent = wz.t("badCount"); return; }
        rl.disabled = true;
        wz.post("api/ack", [["id", a.id], ["state", "relayed"], ["reach", n.value]])
          .then(function (j) { drafts.delete(a.id); wz.merge(j); draw(); })
          .catch(function (e) { rl.disabled = false; st.textContent = e.message; });
      });
      li.appendChild(act);
    }
    return li;
  }

  function order(x, y) {
    const ex = wz.ended(x) ? 1 : 0, ey = wz.ended(y) ? 1 : 0;
    if (ex !== ey) return ex - ey;
    if (!ex) {
      const sx = wz.sevRank[x.severity] || 0, sy = wz.sevRank[y.severity] || 0;
      if (sx !== sy) return sy - sx;
    }
    return y.received_at - x.received_at || y.seq - x.seq;
  }

  function draw() {
    document.getElementById("title").textContent = wz.t("title");
    document.title = wz.t("title") + " · wuzha";
    document.getElementById("lang").textContent = wz.t("lang");
    document.getElementById("who").textContent = wz.status.principal || "";
    const c = document.getElementById("conn");
    c.textContent = wz.status.connected ?
      wz.t("connected") + (wz.status.server ? " " + wz.status.server : "") :
      wz.t("disconnected");
    c.className = "conn " + (wz.status.connected ? "up" : "down");
    const all = Array.from(wz.alerts.values()).sort(order);
    // Keep the focus and the typed count across a redraw.
    const focused = document.activeElement && document.activeElement.closest ?
      document.activeElement.closest("li.card") : null;
    const fid = focused ? focused.dataset.id : null;
    const fcls = document.activeElement ? document.activeElement.className : null;
    list.replaceChildren(...all.map(card));
    if (fid) {
      const again = list.querySelector('li.card[data-id="' + CSS.escape(fid) + '"] .' + CSS.escape(fcls || "x"));
      if (again) again.focus();
    }
    const empty = document.getElementById("empty");
    empty.textContent = wz.t("empty");
    empty.hidden = all.length > 0;
    wz.markShown(all.map(function (a) { return a.id; }));
  }

  document.getElementById("lang").addEventListener("click", function () {
    wz.setLang(wz.lang === "en" ? "zh" : "en");
    draw();
  });
  document.addEventListener("visibilitychange", draw);
  wz.start(draw);
})();

// SPDX-License-Identifier: ISC
// The desk's and the officer's console: each view is one wuzhactl verb
// run by `wuzhactl serve` with this person's certificate, its --json
// answer drawn here.  The acknowledgement tree is a watch: pushed, never
// polled.  All text from the daemon or an alert goes into textContent.
"use strict";

(function () {
  Object.assign(wz.words.zh, {
    ctitle: "预警控制台", watch: "确认情况", publish: "发布预警", agents: "在线情况",
    schedule: "待发布", report: "报表", go: "查看", up: "上一级",
    pendingGo: "未阅读名单", template: "模板", noTemplate: "不使用模板",
    target: "发布范围（节点）", headline: "标题", text: "正文", severity: "级别",
    expires: "有效期", at: "定时发布", drillBox: "演练（不计入正式统计）",
    relayBox: "需要向全班转达", preview: "预览", send: "确认发布",
    csv: "下载 CSV", node: "节点", name: "名称", targeted: "应收",
    readPct: "阅读率", cn: "账号", state: "状态", online: "在线",
    offline: "离线", since: "上线时间", lastSeen: "最后在线", rights: "权限",
    publishAt: "发布时间", cancelHeld: "取消发布", alertsN: "预警数",
    inTime: "及时阅读", median: "阅读用时中位数", none: "无",
    published: "已发布", held: "已定时", previewFirst: "请先预览",
    changed: "内容已改动，请重新预览", live: "进行中", allRead: "全部已阅读",
    ofRead: "已阅读", notRead: "未阅读", listed: "列出", more: "另有",
    working: "请稍候…",
    clues: "线索", cluesPending: "待确认", cluesAll: "全部", reporter: "报告人",
    school: "学校", clueText: "线索内容", contact: "联系方式", note: "处理说明",
    markReceived: "确认收到", markHandled: "已处理", clue_none: "待确认",
    clue_received: "已收到", clue_handled: "已处理", when: "时间",
  });
  Object.assign(wz.words.en, {
    ctitle: "Alert console", watch: "Acknowledgements", publish: "Publish",
    agents: "Online", schedule: "Held", report: "Report", go: "Show",
    up: "Up", pendingGo: "Who has not read", template: "Template",
    noTemplate: "no template", target: "Target (node)", headline: "Headline",
    text: "Text", severity: "Severity", expires: "Expires in", at: "Publish at",
    drillBox: "Drill (kept out of the real figures)",
    relayBox: "Must be relayed to the class", preview: "Preview",
    send: "Publish now", csv: "Download CSV", node: "node", name: "name",
    targeted: "targeted", readPct: "read", cn: "principal", state: "state",
    online: "online", offline: "away", since: "since", lastSeen: "last seen",
    rights: "rights", publishAt: "publish at", cancelHeld: "Cancel",
    alertsN: "alerts", inTime: "read in time", median: "median time to read",
    none: "none", published: "Published", held: "Held",
    previewFirst: "Preview it first", changed: "Changed: preview it again",
    clues: "Clues", cluesPending: "To confirm", cluesAll: "All", reporter: "reporter",
    school: "school", clueText: "clue", contact: "contact", note: "note",
    markReceived: "Received", markHandled: "Handled", clue_none: "not confirmed",
    clue_received: "received", clue_handled: "handled", when: "time",
    live: "live", allRead: "all have read", ofRead: "have read",
    notRead: "not read", listed: "listed", more: "more", working: "Working…",
  });

  const $ = function (id) { return document.getElementById(id); };
  let session = { published: [] };
  let watchES = null;
  let lastTree = null;
  let previewed = null;
  const upStack = [];   // the nodes drilled down from, for "up"

  function get(path, params) {
    const q = new URLSearchParams();
    for (const [k, v] of params || []) if (v !== "" && v !== null && v !== undefined) q.append(k, v);
    return fetch(path + (q.toString() ? "?" + q.toString() : ""), { cache: "no-store" })
      .then(function (r) { return r.json(); });
  }

  // A verb's output: one JSON document, or one a line (pages).
  function parseOut(out) {
    out = out.trim();
    if (!out) return [];
    try { return [JSON.parse(out)]; } catch (e) { /* lines */ }
    return out.split("\n").filter(Boolean).map(function (l) { return JSON.parse(l); });
  }

  function answer(j, msgEl) {
    if (!j.ok) {
      msgEl.textContent = j.error || ("exit " + j.exit);
      msgEl.classList.add("err");
      return null;
    }
    msgEl.textContent = "";
    msgEl.classList.remove("err");
    return parseOut(j.out);
  }

  function table(el, heads, rows) {
    const th = el.tHead, tb = el.tBodies[0];
    th.replaceChildren();
    tb.replaceChildren();
    const hr = th.insertRow();
    for (const h of heads) hr.appendChild(wz.el("th", null, h));
    for (const r of rows) {
      const tr = tb.insertRow();
      for (const c of r.cells) {
        const td = tr.insertCell();
        if (c instanceof Node) td.appendChild(c);
        else td.textContent = c === undefined || c === null ? "" : String(c);
      }
      if (r.onclick) { tr.classList.add("link"); tr.addEventListener("click", r.onclick); tr.tabIndex = 0; }
      if (r.cls) tr.className += " " + r.cls;
      if (r.data) for (const k in r.data) tr.dataset[k] = r.data[k];
    }
  }

  function bar(read, targeted) {
    const pct = targeted > 0 ? Math.floor(100 * read / targeted) : 0;
    const w = wz.el("span", "bar");
    const f = wz.el("span", "fill");
    f.style.width = pct + "%";
    w.appendChild(f);
    w.appendChild(wz.el("span", "pct", pct + "%"));
    return w;
  }

  // --- the acknowledgement tree, live -----------------------------------
  function drawTree(st) {
    lastTree = st;
    const nodes = st.nodes || [];
    const root = nodes[0] || {};
    const life = st.lifecycle === "live" ? wz.t("live") : (st.lifecycle || "");
    const drill = st.status && st.status !== "actual" ? " · " + wz.t(st.status === "test" ? "test" : "drill") : "";
    $("watch-head").textContent = st.id + " · " + life + drill + " · " +
      (root.read || 0) + "/" + (root.targeted || 0) + " " + wz.t("ofRead") +
      (root.targeted > 0 && root.read >= root.targeted ? " · " + wz.t("allRead") : "") +
      " · " + wz.t("expires") + " " + wz.time(st.expires_at);
    const up = upStack.length ? upStack[upStack.length - 1] : root.parent;
    $("watch-up").hidden = !$("watch-node").value || up === undefined || up === null ||
      (up === "" && !upStack.length);
    $("watch-up").dataset.parent = up || "";
    const heads = [wz.t("name"), wz.t("node"), wz.t("targeted"), wz.t("delivered"),
      wz.t("shown"), wz.t("stateRead"), wz.t("relayed"), wz.t("readPct")];
    table($("tree"), heads, nodes.map(function (n, i) {
      return {
        cells: [(i > 0 ? "└ " : "") + (n.name || ""), n.node, n.targeted, n.delivered,
          n.shown === undefined ? "" : n.shown, n.read,
          n.relayed + (n.reach ? " (" + n.reach + " " + wz.t("people") + ")" : ""),
          bar(n.read, n.targeted)],
        cls: n.targeted > 0 && n.read >= n.targeted ? "done" : "",
        data: { node: n.node, read: n.read, targeted: n.targeted },
        onclick: i > 0 ? function () {
          upStack.push($("watch-node").value.trim());
          $("watch-node").value = n.node;
          startWatch();
        } : null,
      };
    }));
  }

  function startWatch() {
    const id = $("watch-id").value.trim();
    if (!id) return;
    if (watchES) watchES.close();
    $("pending").tHead.replaceChildren();
    $("pending").tBodies[0].replaceChildren();
    $("watch-msg").textContent = wz.t("working");
    const q = new URLSearchParams([["id", id], ["depth", "1"]]);
    if ($("watch-node").value.trim()) q.append("node", $("watch-node").value.trim());
    watchES = new EventSource("api/watch?" + q.toString());
    watchES.addEventListener("tree", function (ev) {
      $("watch-msg").textContent = "";
      $("watch-msg").classList.remove("err");
      drawTree(JSON.parse(ev.data));
    });
    watchES.addEventListener("end", function (ev) {
      const e = JSON.parse(ev.data);
      watchES.close();
      watchES = null;
      if (e.exit !== 0) {
        $("watch-msg").textContent = e.error.trim();
        $("watch-msg").classList.toggle("err", !lastTree);
      }
    });
    watchES.addEventListener("error", function () {
      if (watchES && watchES.readyState === EventSource.CLOSED) watchES = null;
    });
  }

  function showPending() {
    const id = $("watch-id").value.trim();
    if (!id) return;
    get("api/pending", [["id", id], ["node", $("watch-node").value.trim()]])
      .then(function (j) {
        const docs = answer(j, $("watch-msg"));
        if (!docs) return;
        const rows = [];
        let more = 0;
        for (const d of docs) {
          for (const p of d.pending || []) rows.push(p);
          more += d.omitted || 0;
        }
        table($("pending"), [wz.t("cn"), wz.t("name"), wz.t("state"), wz.t("online")],
          rows.map(function (p) {
            return {
              cells: [p.cn, p.path || p.name || p.node, wz.t(p.state === "none" ? "notRead" : p.state),
                p.online ? wz.t("online") : wz.t("offline")],
              cls: p.online ? "online" : "away",
              data: { cn: p.cn },
            };
          }));
        if (more) $("watch-msg").textContent = wz.t("more") + " " + more;
      });
  }

  // --- publishing from a template, preview first ------------------------
  function loadTemplates() {
    get("api/templates").then(function (j) {
      const docs = answer(j, $("pub-msg")) || [];
      let list = [];
      for (const d of docs) list = list.concat(Array.isArray(d) ? d : (d.templates || [d]));
      const sel = $("pub-template");
      sel.replaceChildren(wz.el("option", null, wz.t("noTemplate")));
      sel.firstChild.value = "";
      for (const t of list) {
        if (!t || !t.name) continue;
        const o = wz.el("option", null, t.title || t.name);
        o.value = t.name;
        sel.appendChild(o);
      }
    });
  }

  function loadTemplate() {
    const name = $("pub-template").value;
    const box = $("pub-sets");
    box.replaceChildren();
    previewed = null;
    $("pub-send").disabled = true;
    if (!name) return;
    get("api/template", [["name", name]]).then(function (j) {
      const docs = answer(j, $("pub-msg"));
      if (!docs || !docs[0]) return;
      for (const p of docs[0].placeholders || []) {
        const l = wz.el("label");
        l.appendChild(wz.el("span", null, p.description || p.key));
        const i = wz.el("input");
        i.dataset.set = p.key;
        i.required = true;
        l.appendChild(i);
        box.appendChild(l);
      }
    });
  }

  function pubFields() {
    const f = $("pub-form");
    const fields = [];
    for (const el of f.querySelectorAll("input[name], select[name], textarea[name]")) {
      if (el.type === "checkbox") { if (el.checked) fields.push([el.name, "1"]); continue; }
      if (el.value.trim() !== "") fields.push([el.name, el.value]);
    }
    for (const el of f.querySelectorAll("input[data-set]"))
      fields.push(["set", el.dataset.set + "=" + el.value]);
    return fields;
  }

  function showPreview(a) {
    $("pub-card").hidden = false;
    $("pub-card").className = "card sev-" + a.severity;
    const m = $("pub-marks");
    m.replaceChildren(wz.el("span", "mark sev", wz.t(a.severity)));
    if (a.status !== "actual") m.appendChild(wz.el("span", "mark drill", wz.t(a.status === "test" ? "test" : "drill")));
    $("pub-headline").textContent = a.headline;
    $("pub-instruction").textContent = a.instruction;
    $("pub-text").textContent = a.text;
    $("pub-meta").textContent = a.id + " · " + wz.t("to") + " " + a.target + " · " +
      wz.t("expires") + " " + wz.time(a.expires_at) +
      (a.publish_at ? " · " + wz.t("publishAt") + " " + wz.time(a.publish_at) : "");
  }

  $("pub-preview").addEventListener("click", function () {
    const fields = pubFields();
    $("pub-msg").textContent = wz.t("working");
    wz.post("api/preview", fields).then(function (j) {
      const docs = answer(j, $("pub-msg"));
      if (!docs || !docs[0]) { $("pub-send").disabled = true; return; }
      showPreview(docs[0]);
      previewed = JSON.stringify(fields);
      $("pub-send").disabled = false;
    }).catch(function (e) { $("pub-msg").textContent = e.message; });
  });
  $("pub-form").addEventListener("input", function () {
    if (previewed !== null && previewed !== JSON.stringify(pubFields())) {
      $("pub-send").disabled = true;
      $("pub-msg").textContent = wz.t("changed");
    }
  });
  $("pub-template").addEventListener("change", loadTemplate);
  $("pub-send").addEventListener("click", function () {
    const fields = pubFields();
    if (previewed !== JSON.stringify(fields)) { $("pub-msg").textContent = wz.t("previewFirst"); return; }
    $("pub-send").disabled = true;
    wz.post("api/publish", fields).then(function (j) {
      const docs = answer(j, $("pub-msg"));
      previewed = null;
      if (!docs || !docs[0]) return;
      const p = docs[0];
      $("pub-msg").textContent = (p.publish_at ? wz.t("held") : wz.t("published")) + " " + p.id;
      $("pub-msg").dataset.id = p.id;
      loadSession();
      if (!p.publish_at) { $("watch-id").value = p.id; $("watch-node").value = ""; tab("watch"); startWatch(); }
    }).catch(function (e) { $("pub-msg").textContent = e.message; });
  });

  // --- who is reachable, what is held, the report -----------------------
  function showAgents() {
    get("api/agents", [["node", $("agents-node").value.trim()]]).then(function (j) {
      const docs = answer(j, $("agents-msg"));
      if (!docs) return;
      const rows = [];
      for (const d of docs) for (const p of d.principals || []) rows.push(p);
      table($("agents"), [wz.t("cn"), wz.t("node"), wz.t("online"), wz.t("since"), wz.t("lastSeen")],
        rows.map(function (p) {
          return {
            cells: [p.cn, p.node, p.online ? wz.t("online") : wz.t("offline"),
              p.since ? wz.time(p.since) : "", p.last_seen ? wz.time(p.last_seen) : ""],
            cls: p.online ? "online" : "away",
          };
        }));
    });
  }

  function showSchedule() {
    get("api/schedule").then(function (j) {
      const docs = answer(j, $("schedule-msg"));
      if (!docs) return;
      const rows = [];
      for (const d of docs) for (const a of d.alerts || []) rows.push(a);
      if (rows.length === 0) $("schedule-msg").textContent = wz.t("none");
      table($("schedule"), [wz.t("publishAt"), wz.t("headline"), wz.t("target"), ""],
        rows.map(function (a) {
          const b = wz.el("button", "cancel-held", wz.t("cancelHeld"));
          b.type = "button";
          b.addEventListener("click", function () {
            b.disabled = true;
            wz.post("api/schedule-cancel", [["id", a.id]]).then(function (j2) {
              answer(j2, $("schedule-msg"));
              showSchedule();
            });
          });
          return { cells: [wz.time(a.publish_at), a.headline, a.target, b], data: { id: a.id } };
        }));
    });
  }

  function reportParams() {
    return [["from", $("report-from").value.trim()], ["to", $("report-to").value.trim()],
      ["node", $("report-node").value.trim()]];
  }

  function showReport() {
    const ps = reportParams();
    const q = new URLSearchParams();
    for (const [k, v] of ps) if (v) q.append(k, v);
    $("report-csv").href = "api/report.csv?" + q.toString();
    get("api/report", ps).then(function (j) {
      const docs = answer(j, $("report-msg"));
      if (!docs) return;
      const rows = [];
      for (const d of docs) for (const r of d.rows || []) rows.push(r);
      table($("report"), [wz.t("name"), wz.t("alertsN"), wz.t("targeted"), wz.t("delivered"),
        wz.t("stateRead"), wz.t("relayed"), wz.t("inTime"), wz.t("median")],
        rows.map(function (r) {
          return {
            cells: [r.name || r.node, r.alerts, r.targeted, r.delivered, r.read, r.relayed,
              r.read_in_time, r.median_read_ms ? Math.round(r.median_read_ms / 60000) + " min" : ""],
          };
        }));
    });
  }

  // --- clues reported to us: confirm receipt, then handled with a note ---
  function markClue(id, state, note) {
    const ps = [["id", id], ["state", state]];
    if (note) ps.push(["note", note]);
    return wz.post("api/clue-mark", ps).then(function (j) {
      if (answer(j, $("clues-msg"))) showClues();
    });
  }

  function showClues() {
    get("api/clues", [["which", $("clues-which").value]]).then(function (j) {
      const docs = answer(j, $("clues-msg"));
      if (!docs) return;
      const rows = [];
      for (const d of docs) for (const c of d.clues || []) rows.push(c);
      if (rows.length === 0) $("clues-msg").textContent = wz.t("none");
      table($("clues"), [wz.t("when"), wz.t("reporter"), wz.t("school"), wz.t("state"),
        wz.t("clueText"), wz.t("contact"), ""],
        rows.map(function (c) {
          const act = wz.el("span", "clue-actions");
          if (!c.received && c.state !== "handled") {
            const r = wz.el("button", "clue-received", wz.t("markReceived"));
            r.type = "button";
            r.addEventListener("click", function () { r.disabled = true; markClue(c.id, "received"); });
            act.appendChild(r);
          }
          if (c.state !== "handled") {
            const n = wz.el("input", "clue-note");
            n.maxLength = 1024;
            n.placeholder = wz.t("note");
            n.setAttribute("aria-label", wz.t("note"));
            const h = wz.el("button", "clue-handled", wz.t("markHandled"));
            h.type = "button";
            h.disabled = c.state === "none";
            h.addEventListener("click", function () { h.disabled = true; markClue(c.id, "handled", n.value.trim()); });
            act.appendChild(n);
            act.appendChild(h);
          }
          let st = wz.t("clue_" + c.state);
          if (c.state === "handled") st += " · " + c.by + (c.note ? "：" + c.note : "");
          const text = wz.el("span", "text", c.text);
          text.dir = "auto";
          return {
            cells: [wz.time(c.at), c.reporter, c.school || c.police, st, text, c.contact, act],
            data: { id: c.id, state: c.state },
          };
        }));
    });
  }

  // --- the frame --------------------------------------------------------
  function tab(name) {
    for (const b of document.querySelectorAll("#tabs button"))
      b.classList.toggle("on", b.dataset.tab === name);
    for (const s of document.querySelectorAll("main > section"))
      s.hidden = s.id !== "tab-" + name;
    if (name === "schedule") showSchedule();
    if (name === "clues") showClues();
    if (name === "publish" && $("pub-template").options.length === 0) loadTemplates();
  }

  function loadSession() {
    return get("api/session").then(function (s) {
      session = s;
      wz.skew = s.now - Date.now();
      $("who").textContent = s.principal + " · " + s.server;
      const dl = $("published");
      dl.replaceChildren();
      for (const p of s.published) {
        const o = wz.el("option");
        o.value = p.id;
        dl.appendChild(o);
      }
    });
  }

  function words() {
    document.getElementById("title").textContent = wz.t("ctitle");
    document.title = wz.t("ctitle") + " · wuzha";
    $("lang").textContent = wz.t("lang");
    for (const b of document.querySelectorAll("#tabs button")) b.textContent = wz.t(b.dataset.tab);
    for (const s of document.querySelectorAll("[data-w]")) s.textContent = wz.t(s.dataset.w);
    $("watch-go").textContent = wz.t("go");
    $("watch-up").textContent = wz.t("up");
    $("pending-go").textContent = wz.t("pendingGo");
    $("pub-preview").textContent = wz.t("preview");
    $("pub-send").textContent = wz.t("send");
    $("report-csv").textContent = wz.t("csv");
    $("clues-go").textContent = wz.t("go");
    $("clues-which").options[0].textContent = wz.t("cluesPending");
    $("clues-which").options[1].textContent = wz.t("cluesAll");
    if (lastTree) drawTree(lastTree);
  }

  for (const b of document.querySelectorAll("#tabs button"))
    b.addEventListener("click", function () { tab(b.dataset.tab); });
  $("watch-form").addEventListener("submit", function (ev) { ev.preventDefault(); startWatch(); });
  $("watch-up").addEventListener("click", function () {
    $("watch-node").value = upStack.length ? upStack.pop() : ($("watch-up").dataset.parent || "");
    startWatch();
  });
  $("watch-form").addEventListener("submit", function () { upStack.length = 0; });
  $("pending-go").addEventListener("click", showPending);
  $("agents-form").addEventListener("submit", function (ev) { ev.preventDefault(); showAgents(); });
  $("report-form").addEventListener("submit", function (ev) { ev.preventDefault(); showReport(); });
  $("clues-form").addEventListener("submit", function (ev) { ev.preventDefault(); showClues(); });
  $("lang").addEventListener("click", function () { wz.setLang(wz.lang === "en" ? "zh" : "en"); words(); });
  words();
  loadSession();
  // An alert id in the address (#id) opens its tree.
  if (location.hash.length > 1) { $("watch-id").value = decodeURIComponent(location.hash.slice(1)); startWatch(); }
})();

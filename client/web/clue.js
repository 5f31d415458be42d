// SPDX-License-Identifier: ISC
// The inbox's "report a clue" form: the text (and a contact, if given)
// goes to the agent, which signs it with its own key and sends it to the
// observers of our school and police unit; below it, the clues we
// reported, with what the school and the police did with them.  Clue
// texts are shown with textContent only.
"use strict";

(function () {
  Object.assign(wz.words.zh, {
    clueTitle: "报告诈骗线索", clueHint: "线索只发给本校保卫部门和所属公安反诈中心，并用本机证书签名。",
    clueText: "线索内容", clueContact: "联系方式（可不填）", clueReach: "联系方式", clueSend: "报告",
    clueMine: "我报告的线索", clueNone: "尚未报告线索。",
    clueEmpty: "请写下线索内容", clueLong: "线索内容最多 4096 字节",
    clueSent: "已发送，等待服务器确认", clue_sending: "发送中",
    clue_none: "已报告，等待学校和公安确认", clue_received: "学校或公安已收到",
    clue_handled: "已处理", clue_refused: "未被接受", clueBy: "处理人",
  });
  Object.assign(wz.words.en, {
    clueTitle: "Report a fraud clue", clueHint: "Goes to your school's security desk and its police anti-fraud unit only, signed with this machine's certificate.",
    clueText: "What you saw", clueContact: "How to reach you (optional)", clueReach: "contact", clueSend: "Report",
    clueMine: "Clues I reported", clueNone: "No clues reported yet.",
    clueEmpty: "Write what you saw", clueLong: "At most 4096 bytes",
    clueSent: "Sent; waiting for the server", clue_sending: "sending",
    clue_none: "reported, not yet confirmed by the school or police",
    clue_received: "received by the school or police", clue_handled: "handled",
    clue_refused: "refused", clueBy: "by",
  });

  const form = document.getElementById("clue-form");
  const text = document.getElementById("clue-text");
  const contact = document.getElementById("clue-contact");
  const send = document.getElementById("clue-send");
  const msg = document.getElementById("clue-msg");
  const list = document.getElementById("clues");
  let clues = [];
  // An answer to api/clues may come after the "clues" event that its
  // request brought on: keep, clue by clue, what is further along.
  const rank = { sending: 0, refused: 0, none: 1, received: 2, handled: 3 };
  function merge(fresh) {
    const had = new Map(clues.map(function (c) { return [c.id, c]; }));
    clues = fresh.map(function (c) {
      const e = had.get(c.id);
      return e && rank[e.state] > rank[c.state] ? e : c;
    });
  }

  function words() {
    const set = function (id, key) { document.getElementById(id).textContent = wz.t(key); };
    set("clue-title", "clueTitle");
    set("clue-hint", "clueHint");
    set("clue-text-label", "clueText");
    set("clue-contact-label", "clueContact");
    set("clue-send", "clueSend");
    set("clues-title", "clueMine");
  }

  function item(c) {
    const li = wz.el("li", "clue");
    li.dataset.id = c.id;
    li.dataset.state = c.state;
    const p = wz.el("p", "text", c.text);
    p.dir = "auto";
    li.appendChild(p);
    if (c.contact) li.appendChild(wz.el("p", "meta", wz.t("clueReach") + "：" + c.contact));
    let st = wz.t("clue_" + c.state);
    if (c.state === "handled" && c.by) st += " · " + wz.t("clueBy") + " " + c.by;
    if (c.state === "refused" && c.error) st += "：" + c.error;
    const s = wz.el("p", "state", st);
    li.appendChild(s);
    if (c.note) {
      const n = wz.el("p", "meta note", c.note);
      n.dir = "auto";
      li.appendChild(n);
    }
    li.appendChild(wz.el("p", "meta", c.id + " · " + wz.time(c.at)));
    return li;
  }

  function draw() {
    words();
    if (clues.length === 0) list.replaceChildren(wz.el("li", "meta", wz.t("clueNone")));
    else list.replaceChildren(...clues.map(item));
  }

  function load() {
    return fetch("api/clues", { cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (j) { merge(j.clues); draw(); });
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    const t = text.value.trim();
    if (t === "") { msg.textContent = wz.t("clueEmpty"); return; }
    if (new TextEncoder().encode(t).length > 4096) { msg.textContent = wz.t("clueLong"); return; }
    send.disabled = true;
    wz.post("api/clue", [["text", t], ["contact", contact.value.trim()]])
      .then(function () {
        text.value = "";
        contact.value = "";
        msg.textContent = wz.t("clueSent");
        return load();
      })
      .catch(function (e) { msg.textContent = e.message; })
      .finally(function () { send.disabled = false; });
  });

  const es = new EventSource("api/events");
  es.addEventListener("clues", function (ev) {
    merge(JSON.parse(ev.data));
    draw();
  });
  es.addEventListener("open", function () { load().catch(function () {}); });
  document.getElementById("lang").addEventListener("click", draw);
  // The observers' marks are not pushed to us: look again now and then
  // (each look asks the daemon, whose answer comes as a "clues" event).
  setInterval(function () {
    if (document.visibilityState === "visible") load().catch(function () {});
  }, 15000);
  draw();
})();

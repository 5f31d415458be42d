// SPDX-License-Identifier: ISC
// What the inbox and the display pages share: the token, the calls to
// the agent, the words in Chinese and English, and how an alert reads.
// Every alert text is untrusted: it only ever goes into textContent.
"use strict";

const wz = {};

wz.token = document.querySelector('meta[name="wuzha-token"]').content;

wz.words = {
  zh: {
    title: "预警收件箱", connected: "已连接", disconnected: "未连接",
    lang: "English", empty: "暂无预警。", read: "我已阅读",
    relay: "已向全班转达", people: "人", relayPh: "人数",
    extreme: "特别严重", severe: "严重", moderate: "较重", minor: "一般",
    unknown: "未知", drill: "演练", test: "测试", reminder: "提醒",
    cancelled: "已取消", expired: "已过期", update: "更新",
    cancel: "取消通知", replaced: "已有新版本", refers: "针对",
    from: "发布", to: "范围", received: "收到", expires: "有效至",
    instruction: "处置要求", delivered: "已送达", shown: "已显示",
    stateRead: "已阅读", relayed: "已转达", confirmed: "已确认",
    pending: "待确认", needsRelay: "需要向全班转达",
    displayEmpty: "暂无预警", badCount: "请输入人数",
  },
  en: {
    title: "Alert inbox", connected: "connected", disconnected: "not connected",
    lang: "中文", empty: "No alerts.", read: "I have read it",
    relay: "Relayed to the class", people: "people", relayPh: "count",
    extreme: "extreme", severe: "severe", moderate: "moderate", minor: "minor",
    unknown: "unknown", drill: "drill", test: "test", reminder: "reminder",
    cancelled: "cancelled", expired: "expired", update: "update",
    cancel: "cancellation", replaced: "superseded", refers: "refers to",
    from: "from", to: "to", received: "received", expires: "expires",
    instruction: "What to do", delivered: "delivered", shown: "shown",
    stateRead: "read", relayed: "relayed", confirmed: "confirmed",
    pending: "not confirmed yet", needsRelay: "to be relayed to the class",
    displayEmpty: "No alerts", badCount: "Enter the head count",
  },
};

wz.lang = (function () {
  try {
    return localStorage.getItem("wuzha-lang") === "en" ? "en" : "zh";
  } catch (e) {
    return "zh";
  }
})();

wz.t = function (key) {
  return wz.words[wz.lang][key] || key;
};

wz.setLang = function (lang) {
  wz.lang = lang;
  try { localStorage.setItem("wuzha-lang", lang); } catch (e) { /* none */ }
  document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
};
wz.setLang(wz.lang);

wz.sevRank = { extreme: 4, severe: 3, moderate: 2, minor: 1 };

// Local time with the zone's name: what a person reads.
wz.time = function (ms) {
  try {
    return new Intl.DateTimeFormat(wz.lang === "en" ? "en-GB" : "zh-CN", {
      year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
      timeZoneName: "short",
    }).format(new Date(ms));
  } catch (e) {
    return new Date(ms).toString();
  }
};

// The server's clock less ours, so "expired" follows the agent.
wz.skew = 0;
wz.now = function () { return Date.now() + wz.skew; };

wz.ended = function (a) {
  return a.withdrawn || a.expires_at <= wz.now();
};

wz.el = function (tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
};

wz.post = function (path, params) {
  const body = new URLSearchParams();
  for (const [k, v] of params) body.append(k, v);
  return fetch(path, {
    method: "POST",
    headers: {
      "X-Wuzha-Token": wz.token,
      "Content-Type": "application/x-www-form-urlencoded",
    },
    body: body.toString(),
    credentials: "same-origin",
    cache: "no-store",
  }).then(function (r) {
    return r.json().then(function (j) {
      if (!r.ok) throw new Error(j.error || String(r.status));
      return j;
    });
  });
};

// The alerts by id, kept up to date by the event stream; onchange runs
// after each change.
wz.alerts = new Map();
wz.status = { connected: false };

// Keep what is further along: an answer to a POST may come after the
// event that already told of the daemon's confirmation.
wz.rank = { none: 0, delivered: 1, shown: 2, read: 3, relayed: 4 };
wz.merge = function (a) {
  const e = wz.alerts.get(a.id);
  if (e && (wz.rank[e.state] > wz.rank[a.state] ||
      (e.state === a.state && e.reach === a.reach &&
       wz.rank[e.sent] > wz.rank[a.sent])))
    return;
  wz.alerts.set(a.id, a);
};

wz.start = function (onchange) {
  function load() {
    return fetch("api/alerts", { cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (j) {
        wz.status = j.status;
        wz.skew = j.status.now - Date.now();
        for (const a of j.alerts) wz.merge(a);
        onchange();
      });
  }
  const es = new EventSource("api/events");
  es.addEventListener("alert", function (ev) {
    wz.merge(JSON.parse(ev.data));
    onchange();
  });
  es.addEventListener("status", function (ev) {
    wz.status = JSON.parse(ev.data);
    wz.skew = wz.status.now - Date.now();
    onchange();
  });
  // A stream that comes back may have missed changes: load again.
  es.addEventListener("open", function () { load().catch(function () {}); });
  es.addEventListener("error", function () {
    wz.status = Object.assign({}, wz.status, { connected: false, lost: true });
    onchange();
  });
  // Time moves on: an alert expires without an event.
  setInterval(onchange, 15000);
};

// Tell the agent which alerts are on the screen now (visible page only).
wz.markShown = function (ids) {
  if (document.visibilityState !== "visible") return;
  const todo = ids.filter(function (id) {
    const a = wz.alerts.get(id);
    return a && a.state === "delivered" && !wz.ended(a);
  });
  if (todo.length === 0) return;
  for (const id of todo) wz.alerts.get(id).state = "shown";
  wz.post("api/shown", todo.map(function (id) { return ["id", id]; }))
    .catch(function () {});
};

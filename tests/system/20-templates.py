# SPDX-License-Identifier: ISC
"""
20-templates: the shipped templates for the fraud types the plan names
publish as they say, with --set filling their placeholders in Chinese and
the template's category, severity and relay request, unless the command
line says otherwise; a missing or unknown placeholder, and an unknown
template, are refused before anything is signed; `wuzhactl templates`
lists them all, and shows one.
"""

import json
import os

import pytest

import harness

TEMPLATES = os.path.join(harness.SRC, "conf", "templates")
SHIPPED = ["brush-order", "campus-loan", "case-followup", "fake-police",
           "goip", "holiday", "money-laundering", "two-cards"]


@pytest.fixture(autouse=True)
def _templates_dir(monkeypatch):
    """wuzhactl runs uninstalled: point it at the source's templates."""
    monkeypatch.setenv("WUZHA_TEMPLATES", TEMPLATES)


def _publish(wz, cn, target, *args):
    """publish without --headline (the template gives it); (id, targeted)."""
    aid = wz.new_id("tpl")
    r = wz.ctl(cn, "publish", "--target", target, "--id", aid, *args)
    assert r.rc == 0, r
    m = harness.PUBLISHED_RX.search(r.out)
    assert m and m.group(1) == aid, r.out
    return aid, int(m.group(3))


def _shown(agent, aid):
    agent.wait_shown(aid)
    return [r for r in agent.shown() if r.get("WUZHA_ID") == aid][0]


def test_template_publishes_filled_in_chinese(wz):
    agent = wz.start_agent("adv-a11")
    agent.proc.wait_log(r"welcome principal", timeout=15)
    aid, targeted = _publish(wz, "desk-a", "school-a", "--template",
                             "fake-police", "--set", "school=泉城示范大学")
    assert targeted == 7
    rec = _shown(agent, aid)
    assert rec["WUZHA_HEADLINE"] == ("【紧急预警】冒充公检法诈骗：泉城示范大学"
                                     "同学接到此类电话请立即挂断")
    assert rec["WUZHA_CATEGORY"] == "warning"
    assert rec["WUZHA_SEVERITY"] == "extreme"
    assert rec["WUZHA_RELAY_REQUIRED"] == "1"
    assert "更没有所谓的“安全账户”" in rec["stdin"], rec["stdin"]
    assert "110" in rec["WUZHA_INSTRUCTION"]
    # Expiry from the template: 168h.
    expires = int(rec["WUZHA_EXPIRES_AT"]) - int(rec["WUZHA_ISSUED_AT"])
    assert expires == 168 * 3600 * 1000


def test_command_line_wins_and_braces_and_all_placeholders(wz):
    agent = wz.start_agent("adv-a12")
    agent.proc.wait_log(r"welcome principal", timeout=15)
    aid, _ = _publish(
        wz, "desk-a", "school-a", "--template", "case-followup",
        "--set", "school=泉城示范大学", "--set", "date=11月20日",
        "--set", "kind=刷单返利", "--set", "loss=人民币3200元",
        "--set", "story=在兼职群接单，垫付三次后被拉黑{不是占位符}",
        "--severity", "moderate", "--expires", "2h")
    rec = _shown(agent, aid)
    assert rec["WUZHA_HEADLINE"] == \
        "【案例通报】泉城示范大学11月20日发生一起刷单返利诈骗案"
    assert rec["WUZHA_SEVERITY"] == "moderate"      # the command line's
    assert rec["WUZHA_CATEGORY"] == "case-followup"  # the template's
    expires = int(rec["WUZHA_EXPIRES_AT"]) - int(rec["WUZHA_ISSUED_AT"])
    assert expires == 2 * 3600 * 1000
    text = rec["stdin"]
    assert "被骗人民币3200元" in text
    # A value is put in as it is, braces and all, never read again.
    assert "垫付三次后被拉黑{不是占位符}" in text


def test_template_refusals(wz):
    # A placeholder without a value: every missing key named, exit 2.
    r = wz.ctl("desk-a", "publish", "--target", "school-a", "--template",
               "holiday", "--set", "school=泉城示范大学")
    assert r.rc == 2, r
    assert "template holiday needs --set for: holiday, start" in r.err, r
    # A key the template does not have.
    r = wz.ctl("desk-a", "publish", "--target", "school-a", "--template",
               "fake-police", "--set", "school=A", "--set", "city=济南")
    assert r.rc == 2, r
    assert ("--set city: template fake-police has no such placeholder "
            "(it has: school)") in r.err, r
    # Not KEY=VALUE, twice the same key, and --set without --template.
    r = wz.ctl("desk-a", "publish", "--target", "school-a", "--template",
               "fake-police", "--set", "school")
    assert r.rc == 2 and "expected KEY=VALUE" in r.err, r
    r = wz.ctl("desk-a", "publish", "--target", "school-a", "--template",
               "fake-police", "--set", "=泉城示范大学")
    assert r.rc == 2 and "--set =泉城示范大学: expected KEY=VALUE" in r.err, r
    r = wz.ctl("desk-a", "publish", "--target", "school-a", "--template",
               "fake-police", "--set", "school=A", "--set", "school=B")
    assert r.rc == 2 and "given twice" in r.err, r
    r = wz.ctl("desk-a", "publish", "--target", "school-a", "--headline",
               "x", "--set", "school=A")
    assert r.rc == 2 and "--set needs --template" in r.err, r
    # An unknown template: the ones there are, listed.
    r = wz.ctl("desk-a", "publish", "--target", "school-a", "--template",
               "lottery")
    assert r.rc == 2, r
    assert "no template lottery in" in r.err, r
    assert "there are: " + " ".join(SHIPPED) in r.err, r
    # A file that is not a valid template: file, line, key, reason.
    bad = os.path.join(wz.dir, "bad.yaml")
    with open(bad, "w", encoding="utf-8") as f:
        f.write('title: "坏模板"\ncategory: warning\nseverity: loud\n'
                'headline: "x"\ntext: ""\n')
    r = wz.ctl("desk-a", "publish", "--target", "school-a", "--template",
               bad)
    assert r.rc == 1, r
    assert "bad.yaml:3: severity: must be extreme, severe" in r.err, r
    # Nothing was published by any of these.
    assert not wz.redis.exists("seq"), wz.redis.get("seq")


def test_templates_lists_and_shows(wz):
    r = wz.ctl("desk-a", "templates", "--json")
    assert r.rc == 0, r
    rows = json.loads(r.out)["templates"]
    assert [t["name"] for t in rows] == SHIPPED
    by = {t["name"]: t for t in rows}
    assert by["holiday"]["category"] == "knowledge"
    assert [p["key"] for p in by["holiday"]["placeholders"]] == \
        ["holiday", "school", "start"]
    assert by["two-cards"]["title"] == "出租出售“两卡”违法提醒"
    assert all(t["relay_required"] for t in rows)

    r = wz.ctl("desk-a", "templates")
    assert r.rc == 0, r
    lines = r.out.splitlines()
    assert lines[0].split() == ["NAME", "TITLE", "CATEGORY", "PLACEHOLDERS"]
    assert len(lines) == 1 + len(SHIPPED)
    assert lines[3].startswith("case-followup ")
    assert lines[3].endswith("case-followup school,date,kind,loss,story")

    r = wz.ctl("desk-a", "templates", "goip")
    assert r.rc == 0, r
    assert "title        GOIP设备“兼职”招募预警" in r.out, r
    assert "  school       学校名称" in r.out, r
    # Every text shown indented under its heading, placeholders unfilled.
    assert "\nheadline:\n  【预警】警惕以“在宿舍帮忙接设备”为名的GOIP兼职\n" \
        in r.out, r
    text = r.out.split("\ntext:\n", 1)[1].split("\ninstruction:\n")
    assert all(l.startswith("  ") for l in text[0].splitlines()), r.out
    assert "{school}已发现" in text[0] and "110" in text[1], r.out
    r = wz.ctl("desk-a", "templates", "goip", "--json")
    one = json.loads(r.out)
    assert one["name"] == "goip" and "{school}" in one["text"]
    assert one["severity"] == "severe" and one["expires"] == "168h"


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-v"]))

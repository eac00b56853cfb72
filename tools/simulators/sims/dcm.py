"""数字城管 (dcm) simulator: 秦淮区数字化城市管理信息系统 案卷数据共享接口规范 V2.3.

Serves exactly ../../shared/specs/dcm-interface.md:

  GET  /dcm/api/v2/cases?updatedSince=yyyy-MM-dd%20HH:mm:ss&pageNo=1&pageSize=100   (§3)
  POST /dcm/api/v2/cases/{taskid}/feedback                                        (§7)
  GET  /dcm/media/...                                                             (§3.2 photos, §8.9)

XML in UTF-8, headers X-DCM-AppId / X-DCM-Token, result codes inside HTTP 200 (§7.1), and the
behaviour of §8, each irregularity at a configurable rate (0 disables it):

  --p-503 / --p-504     gateway answers 503 (HTML maintenance page) / 504 to a request (§8.2);
                        the nightly window 01:00-01:30 (simulated Beijing time) always answers 503
  --p-1003              code 1003 (rate limit) at random; plus a real limit of --rate-limit req/s
  --p-3001              code 3001 (query timeout) for pages larger than 20
  --p-5000              code 5000 (internal error)
  --p-expire            the token expires (code 1001 from then on); the renewed token is written
                        to --token-file after --renew-delay seconds (the centre's renewal letter)
  --p-touch             per query, a case on this page or an earlier one is updated and moves to
                        the end of the order (§8.4 paging over a moving set)
  --p-nocoords          cases without coordinates (empty, absent or 0) (§8.3); 12345 and public
                        reports have 0/0 until a supervisor verified them anyway
  --p-swapped           supervisor cases from 1.x handsets with x and y swapped (§8.3)
  --p-legacy            cases migrated from V1: 10-digit taskid, 1900-01-01 placeholders, 15-digit
                        legacy bgid, archived photos (404) (§8.6, §8.7, §8.9)
  --p-br, --p-fffd      descriptions with HTML line breaks / U+FFFD (§8.8); --p-cdata share in CDATA
  --p-two-phones        reportertel with two numbers (§3.2)
  --p-phone-in-text     the citizen's phone number typed into the description
  --p-return, --p-recheck   退件 03 -> 02 -> 03 and 核查不通过 05 -> 04 -> 05 (§6.2)
  --p-bad               deliberately malformed cases (status/type/source code outside §6, bad
                        time); written to the truth file with kind "bad"
  automatic 结案 at 02:00:00 every simulated day (§8.5), and POST /_sim/bulk-close (test-only)

Test-only endpoints (no authentication): GET /_sim/feedback (every feedback received, with the
answer given), GET /_sim/cases (the current state of every case), GET /_sim/status (stream
exhausted?, number of cases and of API requests served), POST /_sim/bulk-close,
POST /_sim/expire-token.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import re
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:  # the lead's shared simulator core
    import simcore  # type: ignore
except ImportError:  # pragma: no cover - imported as tools.simulators.sims.dcm
    from .. import simcore  # type: ignore

BJ = _dt.timezone(_dt.timedelta(hours=8))
PLACEHOLDER = "1900-01-01 00:00:00"

# §5 大类 names per 问题类型.
EVENT_BC = {"01": "市容环境", "02": "宣传广告", "03": "施工管理", "04": "突发事件", "05": "街面秩序"}
COMPONENT_BC = {"01": "公用设施", "02": "道路交通", "03": "市容环境", "04": "园林绿化",
                "05": "房屋土地", "06": "其他设施"}
SOURCES = {"1": "监督员上报", "2": "公众举报", "3": "12345转办", "4": "视频发现", "5": "领导交办", "9": "其他"}
STATUS = {"01": "上报", "02": "立案", "03": "派遣", "04": "处置中", "05": "处置反馈", "06": "核查通过",
          "07": "结案", "09": "作废"}
RANK = {"01": 0, "02": 1, "03": 2, "04": 3, "05": 4, "06": 5, "07": 6, "09": 7}
STAGE_CODE = {"registered": "02", "dispatched": "03", "accepted": "04", "in_progress": "04",
              "resolved": "05", "verified": "06", "closed": "07", "rejected": "09", "cancelled": "09"}
# Units other than street offices (§3.2 executedeptcode: QHBM + number of the district directory).
BM_UNITS = {"36": "区市政设施管理所", "34": "区环境卫生管理所", "01": "区城管局", "03": "区住建局",
            "21": "区园林绿化管理所"}
STREET_NAMES = {}  # "320104002" -> "夫子庙街道", filled from divisions.json when available


def add_arguments(g) -> None:
    """Options of the dcm simulator (`g`: a parser or an argument group)."""
    g.add_argument("--port", type=int, default=0, help="HTTP port (0: ephemeral)")
    g.add_argument("--bind", default="127.0.0.1", help="address to listen on")
    g.add_argument("--app-id", default="casehub", help="X-DCM-AppId the centre registered")
    g.add_argument("--token", default="DCM-TOKEN-2026", help="X-DCM-Token issued to the app")
    g.add_argument("--token-file", default=None,
                   help="renewed tokens are written here (the renewal letter the operator files)")
    g.add_argument("--renew-delay", type=float, default=1.0,
                   help="seconds (real) from a token's expiry until the renewed token is written")
    g.add_argument("--rate-limit", type=float, default=5.0,
                   help="requests per second per app before code 1003 (0: no limit)")
    g.add_argument("--maintenance", choices=["on", "off"], default="on",
                   help="nightly 01:00-01:30 (simulated time) 503 window")
    g.add_argument("--base-url", default=None, help="URL used in photo links (default: own address)")
    for name, default, what in [
        ("503", 0.0, "gateway 503 with an HTML page"),
        ("504", 0.0, "gateway 504"),
        ("1003", 0.0, "code 1003 rate limit"),
        ("3001", 0.0, "code 3001 for pages larger than 20"),
        ("5000", 0.0, "code 5000"),
        ("expire", 0.0, "token expiry per request"),
        ("touch", 0.0, "per query: a case on this or an earlier page is updated (moves to the end)"),
        ("nocoords", 0.05, "cases without coordinates"),
        ("swapped", 0.03, "supervisor cases with x/y swapped"),
        ("legacy", 0.02, "cases migrated from V1"),
        ("br", 0.1, "descriptions with HTML line breaks"),
        ("fffd", 0.02, "descriptions with U+FFFD"),
        ("cdata", 0.8, "descriptions wrapped in CDATA"),
        ("two-phones", 0.1, "reportertel with two numbers"),
        ("phone-in-text", 0.1, "phone number typed into the description"),
        ("return", 0.05, "退件: returned by the unit and dispatched again"),
        ("recheck", 0.05, "核查不通过: back to the unit after feedback"),
        ("bad", 0.0, "malformed cases (truth kind bad)"),
    ]:
        g.add_argument("--p-" + name, type=float, default=default, help=f"rate of {what}")


# ---------------------------------------------------------------------------------------------
# Times

def fmt(ms: int | None) -> str:
    if ms is None:
        return ""
    return _dt.datetime.fromtimestamp(ms // 1000, BJ).strftime("%Y-%m-%d %H:%M:%S")


def parse_local(text: str) -> int | None:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", text or ""):
        return None
    try:
        d = _dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BJ)
    except ValueError:
        return None
    return int(d.timestamp()) * 1000


def next_0200_after_day_of(ms: int) -> int:
    """02:00:00 of the day after the (Beijing) day of `ms`: the automatic 结案 run (§8.5)."""
    d = _dt.datetime.fromtimestamp(ms / 1000, BJ).date() + _dt.timedelta(days=1)
    return int(_dt.datetime(d.year, d.month, d.day, 2, 0, 0, tzinfo=BJ).timestamp()) * 1000


def esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def el(name: str, value) -> str:
    if value is None or value == "":
        return f"<{name}/>"
    return f"<{name}>{esc(str(value))}</{name}>"


# ---------------------------------------------------------------------------------------------
# One 案卷

class Case:
    """A case: its natural timeline (from the Report) plus what happened to it here."""

    def __init__(self, report, args, seq: int):
        self.report = report
        rng = report.rng
        self.rng_state = rng.random()
        self.seq = seq
        self.legacy = rng.random() < args.p_legacy
        self.bad = rng.random() < args.p_bad
        self.bad_kind = rng.choice(["statuscode", "infotypecode", "eventsrccode", "discovertime"])
        if self.legacy:
            self.taskid = f"{(report.n * 7919 + 13) % 10**10:010d}"
        else:
            try:
                self.taskid = str(report.native_id("dcm"))
            except Exception:  # noqa: BLE001 - fall back to the V2 form
                self.taskid = fmt(report.reported_ms)[2:10].replace("-", "") + f"{report.n % 10**6:06d}"

        scheme = report.scheme
        scheme_name = scheme if isinstance(scheme, str) else (scheme or {}).get("scheme", "")
        self.infotype = "1" if "component" in str(scheme_name) else "2"
        self.sc = str(report.native_code)
        self.scname = report.native_name
        self.bc = self.sc[:2]
        bcs = COMPONENT_BC if self.infotype == "1" else EVENT_BC
        self.bcname = bcs.get(self.bc, "其他")

        tf = report.transfer_from
        if tf and tf[0] == "hotline12345":
            self.src, self.srcbillno = "3", str(tf[1])
        else:
            self.srcbillno = ""
            self.src = rng.choices(["1", "2", "4", "5", "9"], [70, 12, 12, 3, 3])[0]
        self.urgent = "1" if report.priority in ("larger", "major") or rng.random() < 0.05 else "0"
        self.patrolid = f"JDY{rng.randint(1, 400):04d}" if self.src == "1" else ""
        p = report.person or {}
        if self.src in ("1", "2", "3"):
            name = p.get("name") or ""
            if self.src in ("2", "3") and name and rng.random() < 0.4:
                name = name[0] + rng.choice(["女士", "先生"])
            self.reportername = name
            tel = p.get("mobile") or ""
            if rng.random() < args.p_two_phones and p.get("phone_fixed"):
                tel = tel + rng.choice(["/", "，"]) + p["phone_fixed"]
            self.reportertel = tel
        else:
            self.reportername, self.reportertel = "", ""

        # Description (§8.8).
        desc = report.description or ""
        if self.src == "3":
            desc = "市民反映" + desc if not desc.startswith("市民") else desc
        if rng.random() < args.p_phone_in_text and p.get("mobile"):
            desc += f"联系电话{p['mobile']}。"
        if self.src == "4" and rng.random() < 0.3:
            desc = ""
        self.br = rng.random() < args.p_br
        if self.br and desc:
            desc += "<br>（" + SOURCES[self.src] + "）"
        if rng.random() < args.p_fffd and desc:
            cut = rng.randint(0, len(desc))
            desc = desc[:cut] + "\ufffd" + desc[cut:]
        self.desc = desc
        self.cdata = rng.random() < args.p_cdata

        # Location (§4, §8.3).
        self.x = self.y = None
        if report.lon is not None:
            x, y = simcore.to_epsg4549(report.rep_lon, report.rep_lat)
            self.x, self.y = round(x, 2), round(y, 2)
        self.nocoords = self.x is None or rng.random() < args.p_nocoords
        self.nocoords_form = rng.choice(["empty", "absent", "zero", "zero2"])
        self.swapped = self.src == "1" and not self.nocoords and rng.random() < args.p_swapped
        self.verify_coords = self.src in ("2", "3")  # 0/0 until verified on site
        self.address = report.address or ""
        self.bgid = report.grid_code or ""
        if self.legacy and self.bgid:
            self.bgid = self.bgid[:12] + f"{rng.randint(0, 999):03d}"  # 15-digit 单元网格
        self.objid = ""
        if self.infotype == "1" and rng.random() < 0.8:
            self.objid = "320104" + self.sc + f"{rng.randint(1, 4000):06d}"
        self.photo1 = rng.random() < 0.85 and self.src in ("1", "4")

        # Timeline: [(ms, code, dept)].
        self.timeline = self._timeline(report, args, rng)
        self.cut_ms = None            # natural events after this are dropped (forced close)
        self.extra = []               # [(ms, code, info)] feedback and forced changes
        self.touches = []             # [ms] changes of other elements (moving set)
        self.feedback_floor = None    # (ms, rank): natural events of lower rank after ms dropped

    def _unit(self, rng, other_than=None):
        r = self.report
        choices = []
        if r.street_code and r.street_code[-3:].isdigit():
            i = int(r.street_code[-3:])
            if 1 <= i <= 12:
                choices.append((f"QHJD{i:02d}", STREET_NAMES.get(r.street_code, r.street_name or "") + "办事处"))
        for k in ("36", "34", "21"):
            choices.append((f"QHBM{k}", BM_UNITS[k]))
        choices = [c for c in choices if c[0] != other_than] or choices
        return choices[0] if other_than is None and rng.random() < 0.6 else rng.choice(choices)

    def _timeline(self, report, args, rng):
        out = []
        start = report.reported_ms // 1000 * 1000
        if self.src in ("1", "2", "4", "9"):
            out.append((start, "01", None))
        unit = None
        last_code = None
        verified_ms = None
        for ms, stage in report.stages:
            code = STAGE_CODE.get(stage)
            if code is None:
                continue
            ms = ms // 1000 * 1000
            if code == "07":
                if verified_ms is None:
                    continue
                ms = next_0200_after_day_of(verified_ms)
            if out and ms <= out[-1][0]:
                ms = out[-1][0] + rng.randint(60, 600) * 1000
            if code == last_code:
                continue
            if code == "02" and out and out[-1][1] == "01" and ms - out[-1][0] < 60000:
                ms = out[-1][0] + rng.randint(60, 480) * 1000
            if code == "03":
                unit = self._unit(rng)
                out.append((ms, code, unit))
                if rng.random() < args.p_return:  # 退件 and dispatched again
                    out.append((ms + rng.randint(5, 40) * 60000, "02", None))
                    unit = self._unit(rng, other_than=unit[0])
                    out.append((out[-1][0] + rng.randint(2, 20) * 60000, "03", unit))
            elif code == "05":
                out.append((ms, code, unit))
                if rng.random() < args.p_recheck:  # 核查不通过
                    out.append((ms + rng.randint(10, 90) * 60000, "04", unit))
                    out.append((out[-1][0] + rng.randint(10, 120) * 60000, "05", unit))
            else:
                if code == "06":
                    verified_ms = ms
                out.append((ms, code, unit))
            last_code = code
        # Keep it strictly ascending whatever the insertions did.
        fixed = []
        for ms, code, u in out:
            if fixed and ms <= fixed[-1][0]:
                ms = fixed[-1][0] + 1000
            fixed.append((ms, code, u))
        return fixed

    # -- state at a time -----------------------------------------------------------------------

    def visible(self, now_ms: int) -> bool:
        return self.report.reported_ms // 1000 * 1000 <= now_ms

    def events(self, now_ms: int):
        ev = []
        for ms, code, u in self.timeline:
            if ms > now_ms or (self.cut_ms is not None and ms > self.cut_ms):
                continue
            if self.feedback_floor and ms > self.feedback_floor[0] and RANK[code] <= self.feedback_floor[1]:
                continue
            ev.append((ms, code, u, None))
        for ms, code, info in self.extra:
            if ms <= now_ms:
                ev.append((ms, code, None, info))
        ev.sort(key=lambda e: e[0])
        return ev

    def next_change(self, now_ms: int):
        """Simulated ms of the next natural change after now (None: none left)."""
        later = [ms for ms, code, u in self.timeline
                 if ms > now_ms and (self.cut_ms is None or ms <= self.cut_ms)]
        return min(later) if later else None

    def state(self, now_ms: int) -> dict:
        ev = self.events(now_ms)
        st = {"status": ev[-1][1] if ev else "01", "unit": None, "register": None, "dispatch": None,
              "deadline": None, "feedback": None, "end": None, "verified_coords": False}
        upd = ev[-1][0] if ev else self.report.reported_ms // 1000 * 1000
        for ms, code, u, info in ev:
            if code == "02" and st["register"] is None:
                st["register"] = ms
            if code == "03":
                st["unit"] = u
                st["dispatch"] = ms
                hours = 2 if self.urgent == "1" else 24 if self.infotype == "1" else 6
                st["deadline"] = ms + hours * 3600 * 1000
                st["feedback"] = None
                st["verified_coords"] = True
            if code == "05":
                st["feedback"] = (info or {}).get("time_ms", ms)
            if code in ("07", "09"):
                st["end"] = ms
        touches = [t for t in self.touches if t <= now_ms]
        if touches:
            upd = max(upd, max(touches))
        st["photos_extra"] = len(touches)
        st["updatetime"] = upd
        return st

    def xml(self, now_ms: int, base_url: str) -> str:
        """The <case> element, bytes-stable for a given state (same state, same bytes)."""
        st = self.state(now_ms)
        status = st["status"]
        infotype, src, disc = self.infotype, self.src, fmt(self.report.reported_ms)
        if self.bad:
            if self.bad_kind == "statuscode":
                status = "08"
            elif self.bad_kind == "infotypecode":
                infotype = "3"
            elif self.bad_kind == "eventsrccode":
                src = "7"
            else:
                disc = disc.replace("-", "/")
        ph = PLACEHOLDER if self.legacy else ""

        def t(ms):
            return fmt(ms) if ms is not None else ph

        parts = ["<case>", el("taskid", self.taskid), el("infotypecode", infotype),
                 el("infotypename", "部件" if infotype == "1" else "事件"),
                 el("infobccode", self.bc), el("infobcname", self.bcname),
                 el("infosccode", self.sc), el("infoscname", self.scname)]
        if self.cdata and self.desc:
            parts.append("<description><![CDATA[" + self.desc.replace("<br>", "&lt;br&gt;") + "]]></description>")
        else:
            parts.append(el("description", self.desc))
        parts += [el("discovertime", disc), el("registertime", t(st["register"])), el("address", self.address)]
        coords = not self.nocoords and (not self.verify_coords or st["verified_coords"])
        r = self.report
        if coords:
            parts += [el("streetcode", r.street_code), el("streetname", STREET_NAMES.get(r.street_code, r.street_name)),
                      el("communitycode", r.community_code), el("communityname", r.community_name)]
            x, y = (self.y, self.x) if self.swapped else (self.x, self.y)
            parts += [el("x", f"{x:.2f}"), el("y", f"{y:.2f}"), el("bgid", self.bgid)]
        else:
            parts += ["<streetcode/><streetname/><communitycode/><communityname/>"]
            form = "zero" if self.verify_coords and not self.nocoords else self.nocoords_form
            if form == "zero":
                parts += ["<x>0</x><y>0</y>"]
            elif form == "zero2":
                parts += ["<x>0.00</x><y>0.00</y>"]
            elif form == "empty":
                parts += ["<x/><y/>"]
            parts += ["<bgid/>"]
        parts += [el("objid", self.objid), el("eventsrccode", src), el("eventsrcname", SOURCES.get(src, "未知")),
                  el("srcbillno", self.srcbillno), el("urgencycode", self.urgent), el("patrolid", self.patrolid),
                  el("reportername", self.reportername), el("reportertel", self.reportertel),
                  el("statuscode", status), el("statusname", STATUS.get(status, "未知"))]
        unit = st["unit"] if status not in ("01", "02") else None
        parts += [el("executedeptcode", unit[0] if unit else ""), el("executedeptname", unit[1] if unit else ""),
                  el("dispatchtime", t(st["dispatch"])), el("deadline", t(st["deadline"])),
                  el("feedbacktime", t(st["feedback"])), el("endtime", t(st["end"])),
                  el("updatetime", fmt(st["updatetime"]))]
        photos = []
        day = fmt(self.report.reported_ms)[:10].replace("-", "/")
        if self.photo1:
            photos.append(f'<photo stage="1" url="{base_url}/dcm/media/{day}/{self.taskid}_1.jpg"/>')
        for i in range(st["photos_extra"]):
            photos.append(f'<photo stage="1" url="{base_url}/dcm/media/{day}/{self.taskid}_1_{i + 2}.jpg"/>')
        if st["feedback"] is not None and status in ("05", "06", "07"):
            photos.append(f'<photo stage="2" url="{base_url}/dcm/media/{day}/{self.taskid}_2.jpg"/>')
        parts.append("<photos>" + "".join(photos) + "</photos>" if photos else "<photos/>")
        parts.append("</case>")
        return "".join(parts)


# ---------------------------------------------------------------------------------------------
# The service

MAINTENANCE_HTML = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>系统维护中</title></head>"
                    "<body><h1>系统维护中</h1><p>数字城管系统每日01:00-01:30进行数据库备份，请稍后再试。</p>"
                    "</body></html>")
GATEWAY_504 = ("<html><head><title>504 Gateway Time-out</title></head><body><center><h1>504 Gateway "
               "Time-out</h1></center><hr><center>nginx</center></body></html>")


class Service:
    def __init__(self, ctx):
        self.ctx = ctx
        self.args = ctx.args
        self.lock = threading.RLock()
        self.cases: dict[str, Case] = {}
        self.order: list[Case] = []
        self.token = self.args.token
        self.renewals = 0
        self.rng = ctx.rng("requests")
        self.req_times: list[float] = []
        self.feedback_log: list[dict] = []
        self.requestids: dict[str, dict] = {}
        self.base_url = ""
        self.stats = {"requests": 0}

    # -- world ---------------------------------------------------------------------------------

    def now(self) -> int:
        return int(self.ctx.clock.now_ms())

    def pull(self, now_ms: int) -> None:
        for report in self.ctx.stream.due(now_ms):
            c = Case(report, self.args, len(self.order))
            if c.taskid in self.cases:
                continue
            self.cases[c.taskid] = c
            self.order.append(c)
            self.ctx.truth(report, c.taskid, kind="bad" if c.bad else "record",
                           taskid=c.taskid, infotypecode=c.infotype, infosccode=c.sc,
                           eventsrccode=c.src, srcbillno=c.srcbillno or None, legacy=c.legacy,
                           swapped=c.swapped, coordinates=not c.nocoords,
                           bad_kind=c.bad_kind if c.bad else None)

    def states(self, now_ms: int):
        return [(c, c.state(now_ms)) for c in self.order if c.visible(now_ms)]

    # -- HTTP answers --------------------------------------------------------------------------

    def envelope(self, code, message, page_no=0, page_size=0, total=0, pages=0, cases_xml=""):
        cases = "<cases>" + cases_xml + "</cases>" if cases_xml else "<cases/>"
        return ('<?xml version="1.0" encoding="UTF-8"?>\n<response>'
                f"<code>{code}</code><message>{esc(message)}</message>"
                f"<pageNo>{page_no}</pageNo><pageSize>{page_size}</pageSize>"
                f"<totalCount>{total}</totalCount><totalPages>{pages}</totalPages>"
                f"<servertime>{fmt(self.now())}</servertime>{cases}</response>")

    def gate(self, handler, now_ms):
        """Gateway behaviour common to every request: maintenance, 502/503/504, auth, limits.
        Returns (status, content_type, body) to answer instead, or None to go on."""
        a = self.args
        hm = fmt(now_ms)[11:16]
        if a.maintenance == "on" and "01:00" <= hm < "01:30":
            return 503, "text/html; charset=UTF-8", MAINTENANCE_HTML
        if self.rng.random() < a.p_503:
            return 503, "text/html; charset=UTF-8", MAINTENANCE_HTML
        if self.rng.random() < a.p_504:
            return 504, "text/html", GATEWAY_504
        if handler.headers.get("X-DCM-AppId") != a.app_id or handler.headers.get("X-DCM-Token") != self.token:
            return 200, None, "1001:认证失败"
        now = time.monotonic()
        self.req_times = [t for t in self.req_times if now - t < 1.0]
        self.req_times.append(now)
        if (a.rate_limit > 0 and len(self.req_times) > a.rate_limit) or self.rng.random() < a.p_1003:
            return 200, None, "1003:请求过于频繁"
        if self.rng.random() < a.p_expire:
            self.expire_token()
            return 200, None, "1001:认证失败"
        if self.rng.random() < a.p_5000:
            return 200, None, "5000:系统内部错误"
        return None

    def expire_token(self):
        self.renewals += 1
        new = f"{self.args.token}-R{self.renewals}"
        self.token = None  # expired; nothing is valid until the renewal is filed
        self.ctx.log(f"token expired; renewed token issued (renewal {self.renewals})")

        def file_it():
            with self.lock:
                self.token = new
            if self.args.token_file:
                tmp = self.args.token_file + ".tmp"
                with open(tmp, "w", encoding="utf-8") as f:
                    f.write(new + "\n")
                os.replace(tmp, self.args.token_file)

        threading.Timer(max(0.0, self.args.renew_delay), file_it).start()

    def query(self, params, now_ms):
        since_txt = params.get("updatedSince", [None])[0]
        page_no_txt = params.get("pageNo", ["1"])[0]
        page_size_txt = params.get("pageSize", ["100"])[0]
        since = parse_local(since_txt or "")
        if since is None:
            return self.envelope(2001, "参数格式错误:updatedSince")
        if not page_no_txt.isdigit() or int(page_no_txt) < 1:
            return self.envelope(2001, "参数格式错误:pageNo")
        if not page_size_txt.isdigit():
            return self.envelope(2001, "参数格式错误:pageSize")
        page_no, page_size = int(page_no_txt), int(page_size_txt)
        if page_size < 1 or page_size > 500:
            return self.envelope(2002, "每页条数超出范围")
        if since < now_ms - 90 * 86400 * 1000:
            return self.envelope(2003, "查询起始时间超出范围(最长90天)")
        if page_size > 20 and self.rng.random() < self.args.p_3001:
            return self.envelope(3001, "查询超时,请缩小每页条数后重试")
        rows = [(fmt(s["updatetime"]), c.taskid, c, s) for c, s in self.states(now_ms)
                if s["updatetime"] >= since]
        rows.sort(key=lambda r: (r[0], r[1]))
        offset = (page_no - 1) * page_size
        # §8.4: while a caller pages, a case it has already seen is updated and moves to the end.
        if rows and self.rng.random() < self.args.p_touch:
            earlier = rows[:max(offset, page_size)]
            if earlier:
                victim = self.rng.choice(earlier)[2]
                victim.touches.append(now_ms // 1000 * 1000)
                self.ctx.log(f"touch {victim.taskid} while paging (page {page_no})")
                rows = [(fmt(s["updatetime"]), c.taskid, c, s) for c, s in self.states(now_ms)
                        if s["updatetime"] >= since]
                rows.sort(key=lambda r: (r[0], r[1]))
        total = len(rows)
        self.stats["max_page_no"] = max(self.stats.get("max_page_no", 0), page_no)
        page = rows[offset:offset + page_size]
        body = "".join(c.xml(now_ms, self.base_url) for _, _, c, _ in page)
        pages = (total + page_size - 1) // page_size
        return self.envelope(0, "成功", page_no, page_size, total, pages, body)

    def feedback(self, taskid, body: bytes, now_ms):
        def answer(code, message, status="", upd=""):
            return ('<?xml version="1.0" encoding="UTF-8"?>\n<response>'
                    f"<code>{code}</code><message>{esc(message)}</message><taskid>{esc(taskid)}</taskid>"
                    f"<statuscode>{status}</statuscode><updatetime>{upd}</updatetime></response>")

        import xml.etree.ElementTree as ET
        entry = {"taskid": taskid, "received": fmt(now_ms), "body": body.decode("utf-8", "replace")}
        try:
            root = ET.fromstring(body)
            f = {child.tag: (child.text or "").strip() for child in root}
        except ET.ParseError:
            entry["code"] = 2001
            self.feedback_log.append(entry)
            return answer(2001, "参数格式错误:body")
        entry.update({k: f.get(k) for k in ("requestid", "statuscode", "deptcode", "deptname", "handler",
                                             "result", "time")})
        rid = f.get("requestid", "")
        if not rid or len(rid) > 64:
            entry["code"] = 2001
            self.feedback_log.append(entry)
            return answer(2001, "参数格式错误:requestid")
        if rid in self.requestids:
            prev = self.requestids[rid]
            entry["code"] = 4003
            self.feedback_log.append(entry)
            return answer(4003, "重复请求", prev["statuscode"], prev["updatetime"])
        c = self.cases.get(taskid)
        if c is None or not c.visible(now_ms):
            entry["code"] = 4001
            self.feedback_log.append(entry)
            return answer(4001, "案卷不存在")
        st = c.state(now_ms)
        code = f.get("statuscode", "")
        tms = parse_local(f.get("time", ""))
        result = f.get("result", "")
        err = None
        if code not in ("04", "05"):
            err = (2001, "参数格式错误:statuscode")
        elif (code == "04" and st["status"] != "03") or (code == "05" and st["status"] not in ("03", "04")):
            err = (4002, "案卷当前状态不允许该操作")
        elif not st["unit"] or f.get("deptcode") != st["unit"][0]:
            err = (4004, "处置部门与派遣部门不一致")
        elif (not f.get("handler") or len(f["handler"]) > 20 or tms is None or tms > now_ms + 300000
              or (st["dispatch"] and tms < st["dispatch"]) or (code == "05" and not 1 <= len(result) <= 1000)
              or len(result) > 1000):
            err = (4005, "反馈内容校验失败")
        if err:
            entry["code"] = err[0]
            self.feedback_log.append(entry)
            return answer(err[0], err[1])
        at = max(now_ms // 1000 * 1000, st["updatetime"] + 1000)
        c.extra.append((at, code, {"time_ms": tms // 1000 * 1000, "handler": f["handler"], "result": result}))
        c.feedback_floor = (at, RANK[code])
        upd = fmt(at)
        self.requestids[rid] = {"statuscode": code, "updatetime": upd}
        entry.update({"code": 0, "updatetime": upd})
        self.feedback_log.append(entry)
        return answer(0, "成功", code, upd)

    def bulk_close(self, now_ms):
        """Closes every open case with one updatetime, as the 02:00 run does (§8.5)."""
        at = now_ms // 1000 * 1000
        n = 0
        for c, s in self.states(now_ms):
            if s["status"] not in ("07", "09") and s["updatetime"] < at:
                c.extra.append((at, "07", None))
                c.cut_ms = at
                n += 1
        return n


def make_handler(svc: Service):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "DCM-Gateway/2.3"

        def log_message(self, fmt_, *a):  # quiet; the simulator logs what matters
            pass

        def send(self, status, ctype, body: str | bytes):
            data = body.encode("utf-8") if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def xml(self, body):
            self.send(200, "text/xml; charset=UTF-8", body)

        def do_GET(self):
            u = urllib.parse.urlsplit(self.path)
            with svc.lock:
                now = svc.now()
                svc.pull(now)
                if u.path == "/_sim/feedback":
                    return self.send(200, "application/json", json.dumps(svc.feedback_log, ensure_ascii=False))
                if u.path == "/_sim/status":
                    return self.send(200, "application/json", json.dumps(
                        {"exhausted": svc.ctx.stream.exhausted(), "cases": len(svc.order),
                         "requests": svc.stats["requests"], "max_page_no": svc.stats.get("max_page_no", 0),
                         "touches": sum(len(c.touches) for c in svc.order), "now_ms": now, "token": svc.token}))
                if u.path == "/_sim/cases":
                    out = []
                    for c, s in svc.states(now):
                        out.append({"taskid": c.taskid, "statuscode": s["status"], "updatetime": fmt(s["updatetime"]),
                                    "executedeptcode": s["unit"][0] if s["unit"] else None,
                                    "executedeptname": s["unit"][1] if s["unit"] else None,
                                    "bad": c.bad, "legacy": c.legacy, "next_change_ms": c.next_change(now),
                                    "now_ms": now, "xml": c.xml(now, svc.base_url)})
                    return self.send(200, "application/json", json.dumps(out, ensure_ascii=False))
                svc.stats["requests"] += 1
                g = svc.gate(self, now)
                if g is not None:
                    status, ctype, body = g
                    if ctype is None:
                        code, msg = body.split(":", 1)
                        return self.xml(svc.envelope(int(code), msg))
                    return self.send(status, ctype, body)
                if u.path == "/dcm/api/v2/cases":
                    return self.xml(svc.query(urllib.parse.parse_qs(u.query, keep_blank_values=True), now))
                m = re.fullmatch(r"/dcm/media/\d{4}/\d{2}/\d{2}/(\d+)_[\d_]+\.jpg", u.path)
                if m:
                    c = svc.cases.get(m.group(1))
                    if c is None or c.legacy:  # archived after 2 years (§8.9)
                        return self.send(404, "text/html", "<html><body>404 Not Found</body></html>")
                    return self.send(200, "image/jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\xff\xd9")
                return self.send(404, "text/html", "<html><body>404 Not Found</body></html>")

        def do_POST(self):
            u = urllib.parse.urlsplit(self.path)
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n > 0 else b""
            with svc.lock:
                now = svc.now()
                svc.pull(now)
                if u.path == "/_sim/bulk-close":
                    return self.send(200, "application/json", json.dumps({"closed": svc.bulk_close(now)}))
                if u.path == "/_sim/expire-token":
                    svc.expire_token()
                    return self.send(200, "application/json", "{}")
                svc.stats["requests"] += 1
                g = svc.gate(self, now)
                if g is not None:
                    status, ctype, gbody = g
                    if ctype is None:
                        code, msg = gbody.split(":", 1)
                        return self.xml('<?xml version="1.0" encoding="UTF-8"?>\n<response>'
                                        f"<code>{code}</code><message>{msg}</message></response>")
                    return self.send(status, ctype, gbody)
                m = re.fullmatch(r"/dcm/api/v2/cases/([^/]+)/feedback", u.path)
                if m:
                    return self.xml(svc.feedback(urllib.parse.unquote(m.group(1)), body, now))
                return self.send(404, "text/html", "<html><body>404 Not Found</body></html>")

    return H


def _load_streets():
    here = os.path.dirname(os.path.abspath(__file__))
    for cand in (os.path.join(here, "..", "..", "..", "config", "qinhuai", "divisions.json"),):
        try:
            with open(cand, encoding="utf-8") as f:
                for s in json.load(f).get("streets", []):
                    STREET_NAMES[s["code"]] = s["name"]
        except OSError:
            pass


def run(ctx) -> None:
    _load_streets()
    svc = Service(ctx)
    server = ThreadingHTTPServer((ctx.args.bind, ctx.args.port), make_handler(svc))
    server.daemon_threads = True
    port = server.server_address[1]
    svc.base_url = ctx.args.base_url or f"http://{ctx.args.bind}:{port}"
    if ctx.args.token_file:
        with open(ctx.args.token_file, "w", encoding="utf-8") as f:
            f.write(svc.token + "\n")

    def ticker():
            # Materialise reports as they become due (truth lines are written as cases appear), so the
        # world moves even when nobody asks. The 02:00 结案 run is part of each case's timeline.
        while True:
            with svc.lock:
                now = svc.now()
                svc.pull(now)
            time.sleep(0.05)

    threading.Thread(target=ticker, daemon=True).start()

    def on_term(*_):
        raise SystemExit(0)

    try:
        signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread
        pass
    ctx.ready(port=port, base_url=svc.base_url, app_id=ctx.args.app_id, token=svc.token,
              token_file=ctx.args.token_file)
    ctx.log(f"dcm simulator serving {svc.base_url}/dcm/api/v2/cases")
    try:
        server.serve_forever(poll_interval=0.2)
    except SystemExit:
        server.server_close()
        raise

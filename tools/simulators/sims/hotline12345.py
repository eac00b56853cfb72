"""12345 hotline simulator: the work-order interface of hotline12345-interface.md V1.4.

Serves, over plain HTTP (the real centre is https on the e-government network):

  POST /api/v1/auth/token                    {"appKey","appSecret"} -> accessToken, expiresIn
  GET  /api/v1/workorders?updated_after=|cursor=&limit=   cursor paging, §3
  POST /api/v1/workorders/{gdbh}/feedback    handling feedback with Idempotency-Key, §4

and, for tests only (not part of the document, no auth):

  GET  /_sim/feedback                        every feedback request received, with its answer
  GET  /_sim/orders/{gdbh}                   the order as the next read would serve it
  GET  /_sim/stats                           counters of the irregularities served

Work orders come from the world's reports of this system (ctx.stream); each report becomes one
order whose state follows the report's stages (待受理 → 已受理 → 已派单 → 办理中 → 已办结 → 已回访 →
已归档, or 退单), each change re-sent with a newer gxsj (§3.1). The irregularities of §6 are served
at configurable rates (0 disables each):

  --p-token-expired   a valid token answered 40101 (expiry in the middle of paging, §6.1)
  --p-429, --rps-limit  HTTP 429 42901 with Retry-After (random, and above the per-second limit)
  --p-503             maintenance: HTTP 503 with an HTML page (no JSON envelope)
  --p-500             50001 系统繁忙
  --p-cursor-expired  40003 cursor已失效 for a cursor request (also after --cursor-ttl-s)
  --p-page-dup        a page that starts with the last item of the previous page again (§3.1)
  --p-old-order       an order created before the 2024-07-01 tree revision, re-sent now: old
                      wtfl paths (§5.2), zblx absent and BD-09 coordinates before 2023-05 (§6.3, 6.6)
  --p-pii-text        caller's phone or ID number dictated into sqnr (§6.5)
  --p-confidential    sfbm=1, ldhm/ldrxm 保密 (§3.3)
  --p-merged          a repeat call merged into the order: sent once, 已归档, glgdbh (§6.7)
  --p-rehandle        重办 after a 不满意 callback: back to 办理中, cbcs+1 (§5.3)
  --p-names           operator-filled qx/jdmc/sqmc empty, abbreviated or wrong (§6.4)
  --p-zero-coords     calls with jd/wd "0" instead of "" (§6.3)
  --p-unmapped        an order of a branch outside §5.2 (教育, 医疗卫生 …)
  --p-bad             a deliberately malformed order (value outside the code lists, bad time):
                      ground truth kind "bad", every version of it must be a dead letter

Reports transferred from 110 (transfer_from = ("police", id)) are served as sqly 110接警 with
gljjdbh = the police call-sheet number (§6.8).
"""

import argparse
import base64
import datetime
import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

try:
    import simcore  # noqa: F401  (the entry point puts it on the path)
except ImportError:  # pragma: no cover - only when imported outside casehub-sim
    simcore = None

DEPT = "hotline12345"
BJ = datetime.timezone(datetime.timedelta(hours=8))
DAY_MS = 86_400_000
TREE_REVISION_MS = int(datetime.datetime(2024, 7, 1, tzinfo=BJ).timestamp() * 1000)
BD09_UNTIL_MS = int(datetime.datetime(2023, 5, 1, tzinfo=BJ).timestamp() * 1000)

KEYS = ["gdbh", "ldsj", "ldhm", "ldrxm", "sqly", "sqlx", "wtfl", "sqbt", "sqnr", "fsdz", "jd", "wd",
        "zblx", "qx", "jdmc", "sqmc", "jjcd", "sfbm", "zbdw", "zbdwbm", "xbdw", "pdsj", "blsx", "clzt",
        "bjsj", "dfnr", "hfsj", "hfjg", "myd", "cbcs", "glgdbh", "gljjdbh", "fj", "gxsj"]

STAGE_CLZT = {"new": "待受理", "registered": "已受理", "dispatched": "已派单", "accepted": "办理中",
              "in_progress": "办理中", "resolved": "已办结", "verified": "已回访", "closed": "已归档",
              "rejected": "退单", "cancelled": "已归档"}
RANK = {"待受理": 0, "已受理": 1, "已派单": 2, "办理中": 3, "已办结": 4, "已回访": 5, "已归档": 6, "退单": 7}

OLD_PATHS = {"城乡建设>市容环境>垃圾清运": "城乡建设>市容环境>生活垃圾清运",
             "城乡建设>市容环境>占道经营": "城乡建设>市容环境>占道经营及流动摊贩"}

UNMAPPED = [("教育>学校管理>校外培训", "校外培训"), ("医疗卫生>医疗服务>医患纠纷", "医患纠纷"),
            ("社会保障>社保缴费>社保转移", "社保转移"), ("户籍管理>户口办理>户口迁移", "户口迁移")]

DEPARTMENTS = {  # common family -> (district unit name, 12345 unit code)
    "market_food": ("秦淮区市场监督管理局", "320104BM02"),
    "construction": ("秦淮区住房和城乡建设局", "320104BM03"),
    "environment": ("秦淮区城市管理局", "320104BM01"),
    "housing_property": ("秦淮区住房和城乡建设局", "320104BM03"),
}

NEIGHBOURS = ["玄武区", "建邺区", "雨花台区", "江宁区", "鼓楼区"]
OTHER_STREETS = ["夫子庙街道", "秦虹街道", "中华门街道", "双塘街道", "红花街道", "瑞金路街道",
                 "月牙湖街道", "光华路街道", "朝天宫街道", "五老村街道", "洪武路街道", "大光路街道"]

ENVELOPE_MSG = {0: "ok", 40001: "参数错误", 40002: "updated_after格式错误", 40003: "cursor已失效",
                40101: "token已过期", 40102: "token无效", 40103: "appKey未授权或已停用",
                40301: "无权访问该工单", 40401: "工单不存在", 40901: "工单状态不允许该操作",
                40902: "幂等键已使用且请求内容不同", 42201: "答复内容不符合要求", 42901: "请求过于频繁",
                50001: "系统繁忙"}

MAINTENANCE_PAGE = ("<html><head><title>503 Service Unavailable</title></head><body>"
                    "<h1>系统维护中</h1><p>南京市12345政务服务便民热线接口正在维护，请稍后再试。</p></body></html>")

RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([+-]\d{2}:\d{2}|Z)$")


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p  # casehub-sim passes this department's argument group
    g.add_argument("--port", type=int, default=0, help="HTTP port (0: ephemeral)")
    g.add_argument("--host", default="127.0.0.1", help="address to listen on")
    g.add_argument("--app-key", default="qinhuai320104", help="appKey accepted")
    g.add_argument("--app-secret", default="sim-secret-320104", help="appSecret accepted")
    g.add_argument("--token-ttl-s", type=float, default=7200.0, help="token lifetime, wall seconds")
    g.add_argument("--cursor-ttl-s", type=float, default=86400.0, help="cursor validity, simulated seconds")
    g.add_argument("--default-limit", type=int, default=50, help="page size when limit is not given")
    g.add_argument("--rps-limit", type=int, default=10, help="requests per second per appKey before 429 (0: off)")
    g.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds of a 429")
    for name, default, what in [
        ("token-expired", 0.02, "valid token answered 40101"),
        ("429", 0.01, "random 429 42901"),
        ("503", 0.01, "maintenance 503 (HTML)"),
        ("500", 0.01, "50001 系统繁忙"),
        ("cursor-expired", 0.01, "40003 on a cursor request"),
        ("page-dup", 0.05, "page repeats the previous page's last item"),
        ("old-order", 0.03, "order from before the 2024-07 tree revision"),
        ("pii-text", 0.15, "phone / ID number in sqnr"),
        ("confidential", 0.05, "sfbm=1 order"),
        ("merged", 0.05, "merged repeat call with glgdbh"),
        ("rehandle", 0.10, "重办 after 不满意"),
        ("names", 0.30, "operator names empty/abbreviated/wrong"),
        ("zero-coords", 0.10, "jd/wd \"0\" on calls"),
        ("unmapped", 0.02, "category branch outside §5.2"),
        ("bad", 0.02, "malformed order (dead letter)"),
    ]:
        g.add_argument("--p-" + name, type=float, default=default, help=f"rate: {what}")


# ---- helpers ---------------------------------------------------------------------------------

def fmt(ms, millis=False):
    d = datetime.datetime.fromtimestamp(ms / 1000.0, BJ)
    s = d.strftime("%Y-%m-%d %H:%M:%S")
    return s + ".%03d" % (ms % 1000) if millis else s


def parse_rfc3339(s):
    m = RFC3339.match(s or "")
    if not m:
        return None
    try:
        iso = s.replace("Z", "+00:00")
        if m.group(7):  # Python wants at most 6 fractional digits
            frac = m.group(7)[:7]
            iso = s[:19] + frac + (m.group(8).replace("Z", "+00:00"))
        return int(datetime.datetime.fromisoformat(iso).timestamp() * 1000)
    except ValueError:
        return None


def parse_local(s):
    try:
        return int(datetime.datetime.strptime(s, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BJ).timestamp() * 1000)
    except (TypeError, ValueError):
        return None


def working_ms_between(a_ms, b_ms):
    """Working time (Mon-Fri 08:30-12:00, 13:30-17:30 Beijing) between two instants."""
    if b_ms <= a_ms:
        return 0
    total = 0
    day = datetime.datetime.fromtimestamp(a_ms / 1000.0, BJ).date()
    end_day = datetime.datetime.fromtimestamp(b_ms / 1000.0, BJ).date()
    while day <= end_day:
        if day.weekday() < 5:
            for (h1, m1), (h2, m2) in (((8, 30), (12, 0)), ((13, 30), (17, 30))):
                s = int(datetime.datetime(day.year, day.month, day.day, h1, m1, tzinfo=BJ).timestamp() * 1000)
                e = int(datetime.datetime(day.year, day.month, day.day, h2, m2, tzinfo=BJ).timestamp() * 1000)
                lo, hi = max(s, a_ms), min(e, b_ms)
                if hi > lo:
                    total += hi - lo
        day += datetime.timedelta(days=1)
    return total


def canon(obj):
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def gen_gdbh_variant(gdbh, salt):
    """A second order number of the same day (repeat call), deterministic."""
    serial = (int(gdbh[10:]) + 500000 + salt * 7919) % 1000000
    return gdbh[:10] + "%06d" % serial


def _attr(obj, name, default=None):
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


# ---- orders ----------------------------------------------------------------------------------

class Order:
    """One work order: a base item and its timed versions [(gxsj_ms, updates)]."""

    def __init__(self, gdbh, report, base, versions, kind="record", truth_extra=None):
        self.gdbh = gdbh
        self.report = report
        self.base = base
        self.versions = versions  # ascending gxsj_ms; world changes
        self.feedback = []        # [(gxsj_ms, updates, rank)] from §4 write-back
        self.kind = kind
        self.truth_extra = truth_extra or {}
        self.truthed = False
        self.bad_mutation = None

    def visible_versions(self, now_ms):
        out = [v for v in self.versions if v[0] <= now_ms]
        if not self.feedback:
            return out
        fb = [f for f in self.feedback if f[0] <= now_ms]
        if not fb:
            return out
        first_fb = fb[0][0]
        merged = [v for v in out if v[0] < first_fb] + [(f[0], f[1]) for f in fb]
        rank = max(f[2] for f in fb)
        # The world goes on only with the centre's later steps (callback, archive).
        for v in out:
            if v[0] > fb[-1][0] and RANK.get(v[1].get("clzt"), 0) > rank and v[1].get("clzt") != "退单":
                merged.append(v)
        merged.sort(key=lambda v: v[0])
        return merged

    def item(self, now_ms):
        vs = self.visible_versions(now_ms)
        if not vs:
            return None
        it = dict(self.base)
        for _, upd in vs:
            it.update(upd)
        it["gxsj"] = fmt(vs[-1][0], millis=True)
        if self.bad_mutation:
            self.bad_mutation(it)
        out = {k: it[k] for k in KEYS if k in it}
        return vs[-1][0], out


class Hotline:
    def __init__(self, ctx):
        self.ctx = ctx
        self.a = ctx.args
        self.lock = threading.RLock()
        self.orders = {}          # gdbh -> Order
        self.tokens = {}          # token -> expiry (wall s)
        self.expired_tokens = set()
        self.window = []          # request wall times within the last second
        self.day_count = 0
        self.idem = {}            # key -> (body canon, status, headers, answer, wall s)
        self.received = []        # feedback log for tests
        self.stats = {k: 0 for k in ["requests", "token_expired", "throttled", "maintenance", "busy",
                                     "cursor_expired", "page_dup", "pages", "items", "feedback"]}
        self.rng = ctx.rng("transport")
        self.secret = hashlib.sha256((str(self.a.app_key) + "|" + str(self.a.seed)).encode()).hexdigest()[:16]

    # -- world -------------------------------------------------------------------------------

    def refresh(self):
        now = self.ctx.clock.now_ms()
        for rep in self.ctx.stream.due(now):
            try:
                self.add_report(rep)
            except Exception as e:  # never let one report take the simulator down
                self.ctx.log(f"report {getattr(rep, 'incident_id', '?')} skipped: {e!r}")
        for o in self.orders.values():
            if not o.truthed and o.versions and o.versions[0][0] <= now:
                o.truthed = True
                self.ctx.truth(o.report, o.gdbh, kind=o.kind, **o.truth_extra)
        return now

    def add_report(self, rep):
        a = self.a
        gdbh = rep.native_id(DEPT)
        r = self.ctx.rng("order", gdbh)
        person = _attr(rep, "person", {}) or {}
        reported = int(rep.reported_ms)
        transfer = _attr(rep, "transfer_from")
        from_police = bool(transfer) and transfer[0] == "police"

        # Channel (§5.1): about 30 % app + WeChat (the ones with coordinates).
        if from_police:
            sqly = "110接警"
        else:
            sqly = r.choices(["电话", "我的南京APP", "微信", "网站", "市长信箱", "省平台转办", "其他"],
                             [55, 17, 13, 7, 4, 2, 2])[0]
        old = r.random() < a.p_old_order
        ldsj_ms = reported - r.randint(400, 1100) * DAY_MS if old else reported
        confidential = r.random() < a.p_confidential
        sqlx = r.choices(["投诉", "求助", "咨询", "举报", "建议", "感谢", "其他"], [58, 15, 9, 9, 5, 2, 2])[0]
        if confidential and r.random() < 0.5:
            sqlx = "举报"

        # Caller (raw values: the adapter masks them).
        name = person.get("name") or "王芳"
        mobile = person.get("mobile") or "13800138000"
        fixed = person.get("phone_fixed") or "025-84000000"
        if confidential:
            ldhm, ldrxm = "保密", "保密"
        else:
            ldhm = "" if sqly == "市长信箱" else (fixed if r.random() < 0.2 else mobile)
            ldrxm = r.choices([name[0] + r.choice(["先生", "女士"]), name, "匿名", ""], [55, 25, 12, 8])[0]

        # Category.
        wtfl = _attr(rep, "native_code") or "其他>其他>其他"
        truth_extra = {}
        if r.random() < a.p_unmapped:
            wtfl = r.choice(UNMAPPED)[0]
            truth_extra["category"] = "other.unclassified"
        elif old and ldsj_ms < TREE_REVISION_MS:
            wtfl = OLD_PATHS.get(wtfl, wtfl)
            if wtfl.startswith("生态环境>"):
                wtfl = "环境保护>" + wtfl[len("生态环境>"):]

        # Text.
        sqnr = _attr(rep, "description") or "市民反映的问题需要处理。"
        if from_police:
            sqnr += "110已出警，现场无治安问题，转12345由属地协调处理。"
        if confidential or r.random() < a.p_pii_text:
            idno = person.get("id_number") or "320104198807121234"
            sqnr += r.choice([f"来电人电话{mobile}，请处理后回复。",
                              f"举报人电话{mobile}，请勿透露举报人信息。",
                              f"联系电话：{fixed}。",
                              f"本人身份证号{idno}，联系电话{mobile}。"])
        title = _attr(rep, "title") or ""

        # Address: informal text; coordinates only from the app / WeChat.
        fsdz = _attr(rep, "address") or ""
        poi = _attr(rep, "poi")
        if poi and r.random() < 0.4:
            fsdz = poi + r.choice(["附近", "门口", "对面", "东侧", "往南50米"])
        jd = wd = ""
        zblx = None
        if sqly in ("我的南京APP", "微信"):
            lon, lat = _attr(rep, "rep_lon"), _attr(rep, "rep_lat")
            if lon is not None and lat is not None and simcore is not None:
                if ldsj_ms < BD09_UNTIL_MS:
                    x, y = simcore.wgs84_to_bd09(lon, lat)
                    zblx = "bd09"
                else:
                    x, y = simcore.wgs84_to_gcj02(lon, lat)
                    zblx = "gcj02"
                jd, wd = "%.6f" % x, "%.6f" % y
        elif r.random() < a.p_zero_coords:
            jd = wd = "0"
        omit_zblx = old  # archived before the 2024 correction: no zblx key at all

        # Operator-filled names (§6.4).
        street = _attr(rep, "street_name") or ""
        community = _attr(rep, "community_name") or ""
        qx, jdmc, sqmc = "秦淮区", street, community if r.random() < 0.5 else ""
        if r.random() < a.p_names:
            how = r.choice(["empty", "short", "office", "wrong", "neighbour"])
            if how == "empty":
                qx, jdmc, sqmc = r.choice(["", "秦淮区"]), "", ""
            elif how == "short":
                jdmc = street.replace("街道", "")
            elif how == "office":
                jdmc = street.replace("街道", "街道办")
            elif how == "wrong":
                jdmc = r.choice([s for s in OTHER_STREETS if s != street] or OTHER_STREETS)
            else:
                qx = r.choice(NEIGHBOURS)

        priority = _attr(rep, "priority")
        jjcd = {"general": "一般", "larger": "紧急", "major": "特急", "一般": "一般", "紧急": "紧急",
                "特急": "特急"}.get(priority, "一般")

        # Units.
        street_code = str(_attr(rep, "street_code") or "320104002")
        lead_street = ("秦淮区" + street + "办事处") if street else "秦淮区夫子庙街道办事处"
        lead_street_code = "320104JD" + street_code[-3:]
        family = (_attr(rep, "category") or "").split(".")[0]
        if family in DEPARTMENTS and r.random() < 0.5:
            zbdw, zbdwbm = DEPARTMENTS[family]
            xbdw = lead_street
        else:
            zbdw, zbdwbm = lead_street, lead_street_code
            xbdw = r.choice(["", "", "秦淮区城市管理局", "秦淮区城市管理局、秦淮区市场监督管理局"])

        fj = []
        if sqly in ("我的南京APP", "微信") and r.random() < 0.5:
            day = fmt(ldsj_ms)[:10].replace("-", "/")
            fj = [{"mc": "IMG_%s.jpg" % fmt(ldsj_ms).replace("-", "").replace(" ", "_").replace(":", ""),
                   "url": "http://%s:%d/files/%s/%s.jpg" % (self.a.host, self.port, day,
                                                            hashlib.sha1(gdbh.encode()).hexdigest()[:8]),
                   "lx": "image/jpeg"}]

        base = {k: "" for k in KEYS}
        base.update(gdbh=gdbh, ldsj=fmt(ldsj_ms), ldhm=ldhm, ldrxm=ldrxm, sqly=sqly, sqlx=sqlx, wtfl=wtfl,
                    sqbt=title, sqnr=sqnr, fsdz=fsdz, jd=jd, wd=wd, qx=qx, jdmc=jdmc, sqmc=sqmc, jjcd=jjcd,
                    sfbm="1" if confidential else "0", cbcs=1 if old else 0, fj=fj,
                    gljjdbh=transfer[1] if from_police else "")
        if zblx and not omit_zblx:
            base["zblx"] = zblx
        elif not omit_zblx:
            base["zblx"] = ""
        else:
            del base["zblx"]

        # Versions from the stages.
        dispatch = {"zbdw": zbdw, "zbdwbm": zbdwbm, "xbdw": xbdw}
        versions = []
        last_ms = reported - 1
        last_clzt = None
        dispatched = False

        def add(ms, upd):
            nonlocal last_ms
            ms = max(int(ms) + r.randint(0, 999), last_ms + 1)
            versions.append((ms, upd))
            last_ms = ms
            return ms

        add(reported, {"clzt": "待受理"})
        last_clzt = "待受理"
        stages = list(_attr(rep, "stages") or [])
        rehandle = r.random() < a.p_rehandle
        for ms, stage in stages:
            clzt = STAGE_CLZT.get(stage)
            if clzt is None or clzt == last_clzt:
                continue
            upd = {"clzt": clzt}
            if RANK[clzt] >= 2 and clzt != "退单" and not dispatched:
                dispatched = True
                pd = ms if clzt == "已派单" else max(reported, ms - 600_000)
                pd_ms = pd if old is False else ldsj_ms + 3_600_000
                upd.update(dispatch, pdsj=fmt(pd_ms), blsx=fmt(pd_ms + 3 * DAY_MS)[:10] + " 17:30:00")
            if clzt == "已办结":
                upd.update(bjsj=fmt(ms), dfnr=self.reply(r, rep))
            if clzt == "已回访":
                myd = "不满意" if rehandle else r.choices(["满意", "基本满意", "未联系上"], [70, 22, 8])[0]
                upd.update(hfsj=fmt(ms), myd=myd, hfjg={"满意": "市民对处理结果表示满意。",
                                                       "基本满意": "市民表示问题已基本解决。",
                                                       "未联系上": "三次回访均未接通。",
                                                       "不满意": "市民表示问题仍未解决，要求重办。"}[myd])
            if clzt == "退单":
                upd.update(dfnr="经核实，该事项不属于本单位职责范围，建议改派相关职能部门办理。")
            at = add(ms, upd)
            last_clzt = clzt
            if clzt == "已回访" and rehandle:
                rehandle = False
                add(at + 1_800_000, {"clzt": "办理中", "cbcs": base["cbcs"] + 1, "myd": ""})
                add(at + 7_200_000, {"clzt": "已办结", "bjsj": fmt(at + 7_200_000),
                                      "dfnr": "重办：" + self.reply(r, rep)})
                add(at + 14_400_000, {"clzt": "已回访", "hfsj": fmt(at + 14_400_000), "myd": "满意",
                                       "hfjg": "重办后市民表示满意。"})
                last_clzt = "已回访"

        order = Order(gdbh, rep, base, versions, truth_extra=truth_extra)
        if r.random() < a.p_bad:
            order.kind = "bad"
            order.bad_mutation = self.bad_mutation(r)
        self.orders[gdbh] = order

        # A merged repeat call (§6.7): its own order, sent once, 已归档, pointing at the main one.
        if r.random() < a.p_merged and not order.kind == "bad":
            rg = gen_gdbh_variant(gdbh, 1)
            if rg not in self.orders:
                rep_ms = reported + r.randint(5, 90) * 60_000
                rbase = dict(base)
                rbase.update(gdbh=rg, ldsj=fmt(rep_ms), ldhm=mobile if not confidential else "保密",
                             ldrxm=(name[0] + "女士") if not confidential else "保密", sqly="电话",
                             sqnr="重复来电：" + sqnr, glgdbh=gdbh, cbcs=0, fj=[], gljjdbh="", jd="", wd="")
                if "zblx" in rbase:
                    rbase["zblx"] = ""
                merge_ms = rep_ms + r.randint(10, 60) * 60_000
                rv = [(merge_ms + r.randint(0, 999), {"clzt": "已归档", "dfnr": "重复来电，已并入主工单" + gdbh + "办理。"})]
                self.orders[rg] = Order(rg, rep, rbase, rv, truth_extra=dict(truth_extra, duplicate_of=gdbh))

    @staticmethod
    def reply(r, rep):
        return r.choice([
            "经街道城管科与社区工作人员现场核实，已安排人员处理完毕，并将持续巡查。",
            "已联系相关责任单位现场处置，问题已整改到位，社区将加强日常巡查。",
            "接单后执法队员当日到场，已责令整改并完成复查，现场已恢复正常。",
            "经现场查看，已协调物业及相关部门完成处置，后续纳入网格巡查。",
        ])

    @staticmethod
    def bad_mutation(r):
        how = r.choice(["clzt", "ldsj", "sqly", "jjcd"])

        def mutate(it):
            if how == "clzt":
                it["clzt"] = "处理中"          # not in §5.3
            elif how == "ldsj":
                it["ldsj"] = it["ldsj"].replace("-", "/")  # 2026/03/09 09:05:31
            elif how == "sqly":
                it["sqly"] = "短信"            # not in §5.1
            else:
                it["jjcd"] = "普通"            # not 一般/紧急/特急
        return mutate

    # -- transport ---------------------------------------------------------------------------

    def positions(self, now):
        """(gxsj_ms, gdbh) of the current version of every visible order, in §3.1 order."""
        out = []
        for o in self.orders.values():
            if o.versions and o.versions[0][0] <= now:
                vs = o.visible_versions(now) if o.feedback else None
                ms = vs[-1][0] if vs else max(v[0] for v in o.versions if v[0] <= now)
                out.append((ms, o.gdbh))
        out.sort()
        return out

    def sorted_items(self, now):
        return [(ms, g, self.orders[g].item(now)[1]) for ms, g in self.positions(now)]

    def encode_cursor(self, g_ms, gdbh, now):
        raw = "gxsj:%d:%s:%d:%s" % (g_ms, gdbh, now, self.secret)
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def decode_cursor(self, c):
        try:
            pad = "=" * (-len(c) % 4)
            parts = base64.urlsafe_b64decode(c + pad).decode().split(":")
            if len(parts) != 5 or parts[0] != "gxsj" or parts[4] != self.secret:
                return None
            return int(parts[1]), parts[2], int(parts[3])
        except Exception:
            return None


def make_handler(h):
    a = h.a

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "NJ12345-OpenAPI/1.4"

        def log_message(self, fmt_, *args):  # quiet; the simulator logs what matters
            pass

        # -- answers --
        def send(self, status, body, ctype="application/json; charset=utf-8", headers=None):
            data = body.encode("utf-8") if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def envelope(self, code, data=None, headers=None, msg=None):
            status = 200 if code == 0 else int(str(code)[:3])
            body = json.dumps({"code": code, "msg": msg or ENVELOPE_MSG[code], "data": data},
                              ensure_ascii=False, separators=(",", ":"))
            self.send(status, body, headers=headers)
            return status, body

        def read_body(self):
            # Always consumed, even when the request is refused: the connection is kept alive.
            if getattr(self, "_raw", None) is None:
                n = int(self.headers.get("Content-Length") or 0)
                self._raw = self.rfile.read(n) if n > 0 else b""
            return self._raw

        def body_json(self):
            raw = self.read_body()
            try:
                return json.loads(raw.decode("utf-8")), raw
            except (ValueError, UnicodeDecodeError):
                return None, raw

        # -- gateway irregularities common to every request --
        def gateway(self):
            with h.lock:
                h.stats["requests"] += 1
                if h.rng.random() < a.p_503:
                    h.stats["maintenance"] += 1
                    self.send(503, MAINTENANCE_PAGE, ctype="text/html; charset=utf-8",
                              headers={"Retry-After": "1"})
                    return False
                now = time.monotonic()
                h.window = [t for t in h.window if now - t < 1.0]
                h.window.append(now)
                limited = a.rps_limit > 0 and len(h.window) > a.rps_limit
                if limited or h.rng.random() < a.p_429:
                    h.stats["throttled"] += 1
                    self.envelope(42901, headers={"Retry-After": str(a.retry_after)})
                    return False
                if h.rng.random() < a.p_500:
                    h.stats["busy"] += 1
                    self.envelope(50001)
                    return False
            return True

        def authorised(self):
            if self.headers.get("X-Api-Key") != a.app_key:
                self.envelope(40103)
                return False
            tok = self.headers.get("X-Access-Token") or ""
            with h.lock:
                exp = h.tokens.get(tok)
                if exp is None:
                    self.envelope(40102)
                    return False
                if tok in h.expired_tokens or time.time() >= exp:
                    self.envelope(40101)
                    return False
                if h.rng.random() < a.p_token_expired:
                    h.expired_tokens.add(tok)
                    h.stats["token_expired"] += 1
                    self.envelope(40101)
                    return False
            return True

        # -- routes --
        def do_GET(self):
            u = urlparse(self.path)
            if u.path.startswith("/_sim/"):
                return self.sim_endpoint(u)
            if u.path.startswith("/files/"):
                return self.send(200, b"\xff\xd8\xff\xe0 fake jpeg", ctype="image/jpeg")
            if not self.gateway():
                return
            if u.path != "/api/v1/workorders":
                return self.envelope(40401, msg="接口不存在")
            if not self.authorised():
                return
            self.workorders(parse_qs(u.query, keep_blank_values=True))

        def do_POST(self):
            u = urlparse(self.path)
            self._raw = None
            self.read_body()
            if not self.gateway():
                return
            if u.path == "/api/v1/auth/token":
                return self.token()
            m = re.match(r"^/api/v1/workorders/([^/]+)/feedback$", u.path)
            if not m:
                return self.envelope(40401, msg="接口不存在")
            if not self.authorised():
                return
            self.feedback(unquote(m.group(1)))

        def token(self):
            body, _ = self.body_json()
            if not isinstance(body, dict) or not body.get("appKey"):
                return self.envelope(40001)
            if body.get("appKey") != a.app_key or body.get("appSecret") != a.app_secret:
                return self.envelope(40103)
            with h.lock:
                tok = "%032x" % h.rng.getrandbits(128)
                h.tokens[tok] = time.time() + a.token_ttl_s
                # forget long-expired tokens
                for t in [t for t, e in h.tokens.items() if e < time.time() - 3600]:
                    h.tokens.pop(t, None)
                    h.expired_tokens.discard(t)
            self.envelope(0, {"accessToken": tok, "expiresIn": int(a.token_ttl_s)})

        def workorders(self, q):
            limit_s = (q.get("limit") or [str(a.default_limit)])[0]
            try:
                limit = int(limit_s)
            except ValueError:
                return self.envelope(40001, msg="参数错误：limit")
            if not 1 <= limit <= 200:
                return self.envelope(40001, msg="参数错误：limit应为1-200")
            cursor = (q.get("cursor") or [""])[0]
            after = (q.get("updated_after") or [""])[0]
            with h.lock:
                now = h.refresh()
                if cursor:
                    pos = h.decode_cursor(cursor)
                    if pos is None or now - pos[2] > a.cursor_ttl_s * 1000 or h.rng.random() < a.p_cursor_expired:
                        h.stats["cursor_expired"] += 1
                        return self.envelope(40003)
                    g, b = pos[0], pos[1]
                    dup = h.rng.random() < a.p_page_dup
                elif after:
                    t = parse_rfc3339(after)
                    if t is None:
                        return self.envelope(40002)
                    if t < now - 180 * DAY_MS:
                        return self.envelope(40001, msg="参数错误：updated_after最多180天前")
                    g, b, dup = t, "", False
                else:
                    return self.envelope(40001, msg="参数错误：updated_after或cursor必填其一")
                pos = h.positions(now)
                if dup:
                    sel = [t for t in pos if t >= (g, b)]
                    if sel and sel[0] == (g, b):
                        h.stats["page_dup"] += 1
                else:
                    sel = [t for t in pos if t > (g, b)]
                page = [(ms, gd, h.orders[gd].item(now)[1]) for ms, gd in sel[:limit]]
                rest = sel[limit:]
                if page:
                    ng, nb = page[-1][0], page[-1][1]
                elif b == "" and not cursor:
                    ng, nb = g, ""
                else:
                    ng, nb = g, b
                nxt = h.encode_cursor(ng, nb, now)
                h.stats["pages"] += 1
                h.stats["items"] += len(page)
                payload = [json.dumps(t[2], ensure_ascii=False, separators=(",", ":")) for t in page]
            body = ('{"code":0,"msg":"ok","data":{"items":[' + ",".join(payload) + '],"next_cursor":'
                    + json.dumps(nxt) + ',"has_more":' + ("true" if rest else "false") + "}}")
            self.send(200, body)

        def feedback(self, gdbh):
            key = self.headers.get("Idempotency-Key") or ""
            body, raw = self.body_json()
            with h.lock:
                now = h.refresh()
                entry = {"gdbh": gdbh, "key": key, "body": body, "at_ms": now}
                h.received.append(entry)
                h.stats["feedback"] += 1

                def answer(code, data=None, msg=None, replay_store=True):
                    status, text = self.envelope(code, data, msg=msg)
                    entry.update(code=code, replayed=False)
                    if key and replay_store and code in (0,):
                        h.idem[key] = (canon(body), status, text, time.time())
                    return None

                if not key or len(key) > 64:
                    return answer(40001, msg="参数错误：Idempotency-Key")
                if key in h.idem and time.time() - h.idem[key][3] < 86400:
                    first_body, status, text, _ = h.idem[key]
                    if first_body == canon(body):
                        entry.update(code=json.loads(text)["code"], replayed=True)
                        return self.send(status, text, headers={"Idempotent-Replayed": "true"})
                    return answer(40902, replay_store=False)
                if not isinstance(body, dict) or any(not isinstance(body.get(k), str) or not body.get(k)
                                                     for k in ("clzt", "dfnr", "cbdw", "cbr", "clsj")):
                    return answer(40001, msg="参数错误：clzt/dfnr/cbdw/cbr/clsj必填")
                o = h.orders.get(gdbh)
                cur = o.item(now) if o else None
                if cur is None:
                    return answer(40401)
                it = cur[1]
                if it.get("clzt") == "退单" and not o.feedback:
                    return answer(40301)
                clzt = body["clzt"]
                if clzt not in ("办理中", "已办结", "退单"):
                    return answer(40001, msg="参数错误：clzt")
                clsj = parse_local(body["clsj"])
                if clsj is None or clsj > now + 300_000:
                    return answer(40001, msg="参数错误：clsj")
                units = [it.get("zbdw", "")] + [u for u in re.split(r"[,、，]", it.get("xbdw", "")) if u]
                if body["cbdw"] not in units:
                    return answer(40001, msg="参数错误：cbdw不是该工单的主办或协办单位")
                dfnr = body["dfnr"].strip()
                if clzt == "已办结" and len(dfnr) < 15:
                    return answer(42201)
                state = it.get("clzt")
                allowed = {"办理中": ("已派单",), "已办结": ("已派单", "办理中"), "退单": ("已派单",)}[clzt]
                if state not in allowed:
                    return answer(40901)
                if clzt == "退单":
                    pd = parse_local(it.get("pdsj", ""))
                    if pd is None or working_ms_between(pd, now) > 2 * 3_600_000:
                        return answer(40901, msg="工单状态不允许该操作：超过退单时限")
                is_lead = body["cbdw"] == it.get("zbdw")
                gx = max(now, o.item(now)[0]) + 1
                if is_lead:
                    upd = {"clzt": clzt}
                    if clzt == "已办结":
                        upd.update(bjsj=body["clsj"], dfnr=dfnr)
                    elif clzt == "退单":
                        upd.update(dfnr=dfnr)
                    o.feedback.append((gx, upd, RANK[clzt]))
                    entry["applied"] = True
                else:
                    entry["applied"] = False  # an assisting unit's part: the order stays
                answer(0, {"gdbh": gdbh, "clzt": clzt if is_lead else state, "gxsj": fmt(gx, millis=True)})

        def sim_endpoint(self, u):
            with h.lock:
                now = h.refresh()
                if u.path == "/_sim/feedback":
                    return self.send(200, json.dumps({"received": h.received}, ensure_ascii=False))
                if u.path == "/_sim/stats":
                    return self.send(200, json.dumps(dict(h.stats, orders=len(h.orders), now_ms=now)))
                m = re.match(r"^/_sim/orders/([^/]+)$", u.path)
                if m:
                    o = h.orders.get(unquote(m.group(1)))
                    cur = o.item(now) if o else None
                    if cur is None:
                        return self.send(404, "{}")
                    nxt = [v[0] for v in o.versions if v[0] > now]
                    out = dict(cur[1], _sim={"now_ms": now, "next_change_ms": nxt[0] if nxt else None,
                                             "feedback_versions": len(o.feedback)})
                    return self.send(200, json.dumps(out, ensure_ascii=False))
                if u.path == "/_sim/orders":
                    return self.send(200, json.dumps([t[1] for t in h.sorted_items(now)], ensure_ascii=False))
            self.send(404, "{}")

    return Handler


def run(ctx) -> None:
    h = Hotline(ctx)
    server = ThreadingHTTPServer((ctx.args.host, ctx.args.port), make_handler(h))
    server.daemon_threads = True
    h.port = server.server_address[1]
    base = "http://%s:%d" % (ctx.args.host, h.port)
    ctx.log("hotline12345 simulator serving %s (appKey %s)" % (base, ctx.args.app_key))
    ctx.ready(port=h.port, base_url=base, app_key=ctx.args.app_key, app_secret=ctx.args.app_secret)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()

"""网格通 (gridapp) simulator: the app back end of gridapp-interface.md V2.1.

It is the CLIENT of the webhook: every new event and every change is POSTed, signed, to

  POST <--webhook-url>                      (§2; default path /webhook/v1/events)
       X-Event-Id, X-Timestamp, X-Signature: sha256=<HMAC-SHA256(secret, ts "." body)>

with the retry schedule of §2 (10, 20, 40, 80, 160, 320 s after the previous attempt, scaled by
--retry-scale for tests; no retry after 2xx, 400 and 409; 5 s timeout per attempt). It also
SERVES the catch-up endpoint of §4 on --port:

  GET /api/v1/events?since=&limit=&pageToken=   signed with X-App-Id / X-Timestamp / X-Signature
                                                (HMAC of "<ts>.<path and query as sent>"); 401
                                                40101, 400 40001/40002, 429 (more than
                                                --rps-limit requests per second) with Retry-After

and, for tests only (not part of the document, no auth):

  GET /_sim/state                               counters of pushes, answers and irregularities,
                                                and each event's latest published revision
  GET /_sim/events/<eventId>                    the event as the next catch-up would serve it

Events come from the world's reports of this system (ctx.stream); each report becomes one event
whose status follows the report's stages (待处置 → 处置中 or 已上报 → 已办结 → 已关闭, with
send-backs and reopenings), each change pushed as a new revision with the complete state (§3).
The irregularities of §6 (and the answers of §2.1) occur at configurable rates (0 disables):

  --p-duplicate      the same message (same X-Event-Id) delivered again after a success (timeouts)
  --p-failover       the same revision pushed again under a second X-Event-Id (back-end failover)
  --p-reorder        a push held back so that a later revision overtakes it (parallel workers)
  --p-bd09 / --p-wgs84   coordinates from old app versions (BD-09) or raw GNSS devices (WGS-84)
  --p-no-location / --p-zero-location   location null, or {lng: 0, lat: 0} (positioning failed)
  --p-other-grid     gridCode is the worker's own grid, a neighbour of the event's grid
  --p-no-offset      times without offset ("2026-03-09 09:12:33") from app versions before 2.4
  --p-expired-photo  photo URLs whose signature already expired (events older than 7 days)
  --p-clock-skew     X-Timestamp 301-900 s off the subscriber's clock: answered 409, not retried
  --p-bad-signature  a real push signed with a wrong key: answered 401 on every retry
  --p-forged         an extra push from an impostor (bad signature, invented event): never stored
  --p-bad            a well-formed event with an invalid value (unknown category code, bad time,
                     unknown status): answered 202 and dead-lettered (truth kind "bad")
  --p-malformed      a push whose body is not JSON or lacks a required key: answered 400 and
                     dead-lettered (truth kind "bad", never in catch-up)
  --p-sendback, --p-reopen, --p-duplicate-report, --p-special-grid, --p-pii-text: content
                     variations of §3/§5.2 (已上报 → 处置中, 已办结 → 处置中, 重复上报 with
                     duplicateOf, specialGridCode, a phone or ID number written in the description)

Transport times (X-Timestamp) are the real clock, as the subscriber's replay window compares them
with its own; event times (reportedAt, updatedAt, catch-up `since`) are the simulated clock.
"""

import argparse
import base64
import datetime
import hashlib
import heapq
import hmac
import http.client
import json
import signal
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    import simcore  # noqa: F401  (the entry point puts it on the path)
except ImportError:  # pragma: no cover - only when imported outside casehub-sim
    simcore = None

DEPT = "gridapp"
BJ = datetime.timezone(datetime.timedelta(hours=8))
DAY_MS = 86_400_000
DEFAULT_SECRET = "5f0c1e2d3b4a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"

KEYS = ["eventType", "eventId", "revision", "gridCode", "specialGridCode", "workerId", "workerName",
        "reportedAt", "updatedAt", "location", "address", "category", "categoryName", "description",
        "photos", "tags", "status", "handling", "closeReason", "duplicateOf"]
REQUIRED = ["eventType", "eventId", "revision", "gridCode", "workerId", "workerName", "reportedAt",
            "updatedAt", "category", "categoryName", "description", "status"]

RESULTS = {
    "HJWS": ["已联系保洁员清运完毕，现场已恢复整洁。", "已通知环卫所安排清扫，现场已清理。"],
    "SRZX": ["已劝导经营者撤回店内，现场已恢复通行。", "已联系城管中队到场处理，物品已清理。",
             "已张贴提示并联系车主挪车。"],
    "SSSB": ["已报修，维修单位已到场修复。", "已设置警示标志并通知产权单位维修，现已修复。"],
    "AQYH": ["已督促住户整改，隐患已消除。", "已联系物业清理通道，现场已恢复畅通。"],
    "MDJF": ["经社区调解，双方已达成谅解。", "已组织双方协商，矛盾已化解。"],
    "MSFW": ["已上门走访并落实帮扶措施。", "已联系社区志愿者定期上门关爱。"],
}
BAD_KINDS = ["category", "time", "status"]


def iso(ms, old_app=False):
    dt = datetime.datetime.fromtimestamp(ms / 1000, BJ)
    return dt.strftime("%Y-%m-%d %H:%M:%S") if old_app else dt.strftime("%Y-%m-%dT%H:%M:%S+08:00")


def parse_since(text):
    try:
        dt = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        return None
    return int(dt.timestamp() * 1000)


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p  # the entry point passes this department's argument group
    g.add_argument("--port", type=int, default=0, help="catch-up endpoint port (0 = ephemeral)")
    g.add_argument("--host", default="127.0.0.1", help="catch-up endpoint address")
    g.add_argument("--webhook-url", default="",
                   help="subscriber's webhook URL (base URL or full URL); empty = do not push")
    g.add_argument("--secret", default=DEFAULT_SECRET, help="shared secret, 64 hex characters")
    g.add_argument("--next-secret", default="",
                   help="secret changeover (§2): sign pushes with both secrets, 'sha256=<old>,sha256=<new>'")
    g.add_argument("--app-id", default="casehub", help="X-App-Id expected on catch-up requests")
    g.add_argument("--workers", type=int, default=4, help="parallel push workers")
    g.add_argument("--timeout", type=float, default=5.0, help="seconds per push attempt (§2: 5)")
    g.add_argument("--retry-delays", default="10,20,40,80,160,320",
                   help="seconds between attempts (§2); up to len() retries")
    g.add_argument("--retry-scale", type=float, default=1.0,
                   help="multiplies the retry delays (tests use 0.01-0.1)")
    g.add_argument("--rps-limit", type=int, default=2, help="catch-up requests per second before 429")
    g.add_argument("--max-skew", type=int, default=300, help="catch-up replay window, seconds")
    g.add_argument("--tick-ms", type=int, default=50, help="scheduler tick")
    g.add_argument("--freeze-after", type=float, default=0.0,
                   help="tests: after this many wall seconds no new event or revision is published "
                        "(pushes and their retries go on); 0 = never")
    for name, default, what in [
        ("duplicate", 0.03, "same message re-delivered after a success"),
        ("failover", 0.02, "same revision under a second X-Event-Id"),
        ("reorder", 0.05, "push held back so a later revision overtakes it"),
        ("bd09", 0.08, "BD-09 coordinates (old app)"),
        ("wgs84", 0.03, "raw WGS-84 coordinates"),
        ("no-location", 0.03, "location null"),
        ("zero-location", 0.02, "location {lng:0, lat:0}"),
        ("other-grid", 0.05, "gridCode of a neighbouring grid (worker covering)"),
        ("no-offset", 0.05, "times without offset (app before 2.4)"),
        ("expired-photo", 0.02, "expired photo URLs"),
        ("clock-skew", 0.01, "X-Timestamp off by 301-900 s (409)"),
        ("bad-signature", 0.01, "real push signed with a wrong key (401 on every attempt)"),
        ("forged", 0.01, "impostor push with a bad signature"),
        ("bad", 0.01, "well-formed event with an invalid value (202 + dead letter)"),
        ("malformed", 0.005, "body not JSON or missing a required key (400)"),
        ("sendback", 0.1, "已上报 sent back to the worker (处置中)"),
        ("reopen", 0.05, "已办结 reopened (处置中)"),
        ("duplicate-report", 0.3, "a cancelled event closed as 重复上报 with duplicateOf"),
        ("special-grid", 0.15, "specialGridCode set"),
        ("pii-text", 0.1, "phone or ID number written in the description"),
        ("429", 0.0, "random 429 on catch-up requests"),
    ]:
        g.add_argument("--p-" + name, type=float, default=default, help=f"rate: {what}")


# ---- the events -----------------------------------------------------------------------------------

class Event:
    """One event of the back end: its revisions (due time, body) and how many are published."""

    def __init__(self, event_id, report, revisions, kind="record"):
        self.event_id = event_id
        self.report = report
        self.revisions = revisions  # [(due_ms, body dict)], revision i+1 at index i
        self.published = 0
        self.bytes = b""
        self.updated_ms = 0
        self.kind = kind


class Message:
    """One push message (§2): identical on every retry."""

    __slots__ = ("push_id", "ts", "signature", "body", "attempt", "event_id", "revision", "label",
                 "first_sent", "duplicate_after")

    def __init__(self, push_id, ts, signature, body, event_id, revision, label):
        self.push_id, self.ts, self.signature, self.body = push_id, ts, signature, body
        self.event_id, self.revision, self.label = event_id, revision, label
        self.attempt = 0
        self.first_sent = None
        self.duplicate_after = False


class GridApp:
    def __init__(self, ctx):
        self.ctx = ctx
        a = ctx.args
        self.a = a
        self.secret = bytes.fromhex(a.secret)
        self.next_secret = bytes.fromhex(a.next_secret) if a.next_secret else None
        self.lock = threading.RLock()
        self.events = {}  # eventId -> Event (published or pending)
        self.active = []  # events with unpublished revisions
        self.cancelled_ids = []  # eventIds that can be named in duplicateOf
        self.bad_seq = 0
        self.stats = {"pushes_sent": 0, "answers": {}, "timeouts": 0, "connection_errors": 0,
                      "gave_up": 0, "retries": 0, "catchup_requests": 0, "catchup_answers": {},
                      "irregularities": {}, "messages": {}}
        self.delays = [float(x) * a.retry_scale for x in a.retry_delays.split(",") if x.strip()]
        url = a.webhook_url
        if url and not urllib.parse.urlparse(url).path.strip("/"):
            url = url.rstrip("/") + "/webhook/v1/events"
        self.webhook = urllib.parse.urlparse(url) if url else None
        self.queue = []  # heap of (due_monotonic, seq, Message)
        self.qseq = 0
        self.qcv = threading.Condition(self.lock)
        self.in_flight = 0
        self.catchup_times = []
        self.started = time.monotonic()
        self.frozen_at = None

    def count(self, what, n=1):
        irr = self.stats["irregularities"]
        irr[what] = irr.get(what, 0) + n

    # ---- content ----

    def neighbour_grid(self, grid):
        seq = int(grid[-2:]) if grid[-2:].isdigit() else 1
        other = seq - 1 if seq > 1 else seq + 1
        return grid[:-2] + "%02d" % other

    def build_event(self, rep):
        """The revisions of the event of report `rep` (deterministic for the seed)."""
        a = self.a
        rng = self.ctx.rng("event", rep.incident_id)
        eid = rep.native_id(DEPT)
        old_app = rng.random() < a.p_no_offset
        if old_app:
            self.count("no_offset")
        # Location as the SDK reported it.
        r = rng.random()
        loc = None
        if r < a.p_no_location:
            self.count("no_location")
        elif r < a.p_no_location + a.p_zero_location:
            loc = {"lng": 0, "lat": 0, "coordType": "gcj02", "accuracy": 0}
            self.count("zero_location")
        else:
            r2 = rng.random()
            if r2 < a.p_bd09:
                lon, lat, ct = *simcore.wgs84_to_bd09(rep.rep_lon, rep.rep_lat), "bd09"
                self.count("bd09")
            elif r2 < a.p_bd09 + a.p_wgs84:
                lon, lat, ct = rep.rep_lon, rep.rep_lat, "wgs84"
                self.count("wgs84")
            else:
                lon, lat, ct = *simcore.wgs84_to_gcj02(rep.rep_lon, rep.rep_lat), "gcj02"
            loc = {"lng": round(lon, 6), "lat": round(lat, 6), "coordType": ct,
                   "accuracy": int(max(3, round(rep.precision_m or 10)))}
        grid = rep.grid_code or ""
        if grid and rng.random() < a.p_other_grid:
            grid = self.neighbour_grid(grid)
            self.count("other_grid")
        special = "320104-ZS-%03d" % rng.randint(1, 40) if rng.random() < a.p_special_grid else ""
        worker_no = int(hashlib.sha256((rep.grid_code or "x").encode()).hexdigest(), 16) % 1026 + 1
        description = rep.description
        if rng.random() < a.p_pii_text:
            self.count("pii_text")
            if rng.random() < 0.7:
                description += "住户联系电话%s。" % rep.person["mobile"]
            else:
                description += "当事人身份证号%s。" % rep.person["id_number"]
        photos = []
        expired = rng.random() < a.p_expired_photo
        if expired:
            self.count("expired_photo")
        d = datetime.datetime.fromtimestamp(rep.reported_ms / 1000, BJ)
        for k in range(rng.choice([0, 1, 1, 2])):
            exp = rep.reported_ms // 1000 + (-86400 if expired else 7 * 86400)
            photos.append("https://oss.wgt.qinhuai.local/evt/%s/%s-%d.jpg?sig=%06x&exp=%d"
                          % (d.strftime("%Y/%m/%d"), eid, k + 1, rng.randrange(1 << 24), exp))
        if expired and not photos:
            photos.append("https://oss.wgt.qinhuai.local/evt/%s/%s-1.jpg?sig=%06x&exp=%d"
                          % (d.strftime("%Y/%m/%d"), eid, rng.randrange(1 << 24),
                             rep.reported_ms // 1000 - 86400))
        tags = []
        for tag, p in (("疑难", 0.08), ("重复", 0.05), ("督办", 0.04)):
            if rng.random() < p:
                tags.append(tag)
        family = rep.native_code.split("-")[0]
        mode = "上报" if (rng.random() < 0.5 or "疑难" in tags) else "自行处置"
        escalate = "街道" if ("疑难" in tags or rng.random() < 0.25) else "社区"

        # Status timeline from the report's stages.
        # The worker records the event in the app when reporting it: revision 1 (created, 待处置)
        # exists from reportedAt on; the report's stages follow.
        steps = [[rep.reported_ms, "待处置"]]
        for ms, stage in rep.stages:
            if stage in ("new", "registered"):
                st = "待处置"
            elif stage in ("dispatched", "accepted", "in_progress"):
                st = "已上报" if mode == "上报" else "处置中"
            elif stage in ("resolved", "verified"):
                st = "已办结"
            elif stage == "closed":
                st = "已关闭"
            else:  # rejected, cancelled
                st = "已关闭:void"
            if steps and steps[-1][1] == st:
                continue
            steps.append([ms, st])
        # Content variations: send-back, reopen.
        out = []
        for i, (ms, st) in enumerate(steps):
            out.append((ms, st))
            nxt = steps[i + 1][0] if i + 1 < len(steps) else ms + 3_600_000
            if st == "已上报" and rng.random() < a.p_sendback and i + 1 < len(steps):
                out.append((ms + (nxt - ms) // 2, "处置中:sendback"))
                self.count("sendback")
            if st == "已办结" and i + 1 < len(steps) and rng.random() < a.p_reopen:
                out.append((ms + (nxt - ms) // 3, "处置中:reopen"))
                out.append((ms + 2 * (nxt - ms) // 3, "已办结"))
                self.count("reopen")
        revisions = []
        cur_mode = None
        handling_at = None
        result = ""
        for n, (ms, st) in enumerate(out, start=1):
            ms = max(ms, rep.reported_ms)
            body = {k: None for k in KEYS}
            close_reason, dup = "", ""
            status = st.split(":")[0]
            if st == "待处置":
                pass
            elif st == "已上报":
                cur_mode, handling_at = "上报", ms
            elif st.startswith("处置中"):
                cur_mode, handling_at = "自行处置", ms
                result = ""
            elif st == "已办结":
                cur_mode = cur_mode or mode
                handling_at = ms
                result = rng.choice(RESULTS.get(family, RESULTS["MSFW"]))
            elif st == "已关闭":
                close_reason = "办结归档"
                if not result:
                    result = rng.choice(RESULTS.get(family, RESULTS["MSFW"]))
                    cur_mode, handling_at = cur_mode or mode, ms
            elif st == "已关闭:void":
                if self.cancelled_ids and rng.random() < a.p_duplicate_report:
                    close_reason, dup = "重复上报", rng.choice(self.cancelled_ids[-50:])
                    self.count("duplicate_report")
                else:
                    close_reason = "误报作废"
            handling = None
            if cur_mode:
                handling = {"mode": cur_mode, "escalateTo": escalate if cur_mode == "上报" else "",
                            "result": result, "at": iso(handling_at, old_app)}
            body.update({
                "eventType": "created" if n == 1 else ("closed" if status == "已关闭" else "updated"),
                "eventId": eid, "revision": n, "gridCode": grid, "specialGridCode": special,
                "workerId": "QH-WG-%04d" % worker_no, "workerName": rep.person["name"],
                "reportedAt": iso(rep.reported_ms, old_app), "updatedAt": iso(ms, old_app),
                "location": loc, "address": rep.address, "category": rep.native_code,
                "categoryName": rep.native_name, "description": description, "photos": photos,
                "tags": tags, "status": status, "handling": handling, "closeReason": close_reason,
                "duplicateOf": dup})
            revisions.append((ms, body))
        # Keep revisions strictly ordered in time (send-backs computed from equal stamps).
        for i in range(1, len(revisions)):
            if revisions[i][0] <= revisions[i - 1][0]:
                ms = revisions[i - 1][0] + 1000
                revisions[i][1]["updatedAt"] = iso(ms, old_app)
                revisions[i] = (ms, revisions[i][1])
        return Event(eid, rep, revisions)

    def build_bad(self, rep, rng):
        """A well-formed event with one invalid value (category outside §5.1, bad time, unknown
        status): answered 202 and dead-lettered. A standalone event, one revision."""
        self.bad_seq += 1
        d = datetime.datetime.fromtimestamp(rep.reported_ms / 1000, BJ)
        eid = "WG%s9%05d" % (d.strftime("%Y%m%d"), self.bad_seq)
        what = rng.choice(BAD_KINDS)
        body = {"eventType": "created", "eventId": eid, "revision": 1, "gridCode": rep.grid_code,
                "specialGridCode": "", "workerId": "QH-WG-0999", "workerName": rep.person["name"],
                "reportedAt": iso(rep.reported_ms), "updatedAt": iso(rep.reported_ms),
                "location": None, "address": rep.address, "category": rep.native_code,
                "categoryName": rep.native_name, "description": rep.description, "photos": [],
                "tags": [], "status": "待处置", "handling": None, "closeReason": "", "duplicateOf": ""}
        if what == "category":
            body["category"], body["categoryName"] = "QTSX-09", "其他事项"
            reason = "missing_field"
        elif what == "time":
            body["reportedAt"] = d.strftime("%Y/%m/%d %H:%M")
            reason = "bad_time"
        else:
            body["status"] = "处理中"
            reason = "missing_field"
        self.count("bad")
        return Event(eid, rep, [(rep.reported_ms, body)], kind="bad"), reason

    # ---- publishing ----

    def sign(self, ts, body, key=None):
        msg = str(ts).encode() + b"." + body
        if key is not None:
            return "sha256=" + hmac.new(key, msg, hashlib.sha256).hexdigest()
        sig = "sha256=" + hmac.new(self.secret, msg, hashlib.sha256).hexdigest()
        if self.next_secret:
            sig += ",sha256=" + hmac.new(self.next_secret, msg, hashlib.sha256).hexdigest()
        return sig

    def message(self, body, event_id, revision, label, ts=None, key=None):
        ts = int(time.time()) if ts is None else ts
        return Message(str(uuid.UUID(int=self.ctx.rng("push", event_id, revision, label).getrandbits(128), version=4)),
                       ts, self.sign(ts, body, key), body, event_id, revision, label)

    def enqueue(self, msg, delay=0.0):
        with self.lock:
            self.qseq += 1
            heapq.heappush(self.queue, (time.monotonic() + delay, self.qseq, msg))
            self.qcv.notify()

    def publish(self, ev, idx):
        """Revision idx+1 of `ev` becomes current: visible to catch-up, pushed by webhook."""
        ms, body = ev.revisions[idx]
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        with self.lock:
            ev.published = idx + 1
            ev.bytes = raw
            ev.updated_ms = ms
        if not self.webhook:
            return
        a = self.a
        rng = self.ctx.rng("transport", ev.event_id, idx + 1)
        if rng.random() < a.p_clock_skew:
            skew = rng.randint(301, 900) * (1 if rng.random() < 0.3 else -1)
            self.count("clock_skew")
            msg = self.message(raw, ev.event_id, idx + 1, "skew", ts=int(time.time()) + skew)
        elif rng.random() < a.p_bad_signature:
            self.count("bad_signature")
            msg = self.message(raw, ev.event_id, idx + 1, "badsig",
                               key=hashlib.sha256(b"not the secret" + self.secret).digest())
        else:
            msg = self.message(raw, ev.event_id, idx + 1, "push")
            msg.duplicate_after = rng.random() < a.p_duplicate
        delay = 0.0
        if rng.random() < a.p_reorder:
            delay = rng.uniform(0.3, 1.5)
            self.count("reorder")
        self.enqueue(msg, delay)
        if rng.random() < a.p_failover:
            self.count("failover")
            self.enqueue(self.message(raw, ev.event_id, idx + 1, "failover"), rng.uniform(0.05, 0.5))

    def extra_pushes(self, rep, rng):
        """Impostor and malformed pushes that come with report `rep`."""
        a = self.a
        d = datetime.datetime.fromtimestamp(rep.reported_ms / 1000, BJ)
        if self.webhook and rng.random() < a.p_forged:
            self.bad_seq += 1
            eid = "WG%s8%05d" % (d.strftime("%Y%m%d"), self.bad_seq)
            body = json.dumps({"eventType": "created", "eventId": eid, "revision": 1,
                               "gridCode": rep.grid_code, "specialGridCode": "", "workerId": "QH-WG-6666",
                               "workerName": rep.person["name"], "reportedAt": iso(rep.reported_ms),
                               "updatedAt": iso(rep.reported_ms), "location": None, "address": rep.address,
                               "category": rep.native_code, "categoryName": rep.native_name,
                               "description": "冒充推送：" + rep.description, "photos": [], "tags": [],
                               "status": "待处置", "handling": None, "closeReason": "", "duplicateOf": ""},
                              ensure_ascii=False, separators=(",", ":")).encode()
            msg = self.message(body, eid, 1, "forged", key=b"impostor")
            msg.attempt = len(self.delays)  # an impostor does not retry
            self.count("forged")
            self.ctx.truth(rep, eid, kind="transport", forged=True, expect_http=401)
            self.enqueue(msg)
        if self.webhook and rng.random() < a.p_malformed:
            self.bad_seq += 1
            eid = "WG%s7%05d" % (d.strftime("%Y%m%d"), self.bad_seq)
            body = {"eventType": "created", "eventId": eid, "revision": 1, "gridCode": rep.grid_code,
                    "workerId": "QH-WG-0777", "workerName": rep.person["name"],
                    "reportedAt": iso(rep.reported_ms), "updatedAt": iso(rep.reported_ms),
                    "category": rep.native_code, "categoryName": rep.native_name,
                    "description": rep.description, "status": "待处置"}
            if rng.random() < 0.5:
                del body[rng.choice(["status", "category", "updatedAt", "workerId"])]
                raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
                reason = "missing_field"
            else:
                raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
                raw = raw[: len(raw) * 2 // 3]  # cut off by a broken proxy: not JSON
                reason = "not_json"
            self.count("malformed")
            self.ctx.truth(rep, eid, kind="bad", reason=reason, expect_http=400)
            self.enqueue(self.message(raw, eid, 1, "malformed"))

    def tick(self):
        if self.frozen_at is None and self.a.freeze_after > 0 and \
                time.monotonic() - self.started >= self.a.freeze_after:
            self.frozen_at = self.ctx.clock.now_ms()
            self.ctx.log("frozen: no new events or revisions from now on")
        if self.frozen_at is not None:
            return
        now = self.ctx.clock.now_ms()
        for rep in self.ctx.stream.due(now):
            rng = self.ctx.rng("report", rep.incident_id)
            if rng.random() < self.a.p_bad:
                ev, reason = self.build_bad(rep, rng)
                with self.lock:
                    self.events[ev.event_id] = ev
                    self.active.append(ev)
                self.ctx.truth(rep, ev.event_id, kind="bad", reason=reason, expect_http=202)
            ev = self.build_event(rep)
            with self.lock:
                if ev.event_id in self.events:
                    continue
                self.events[ev.event_id] = ev
                self.active.append(ev)
            last = ev.revisions[-1][1]
            if last["closeReason"] in ("误报作废", "重复上报"):
                self.cancelled_ids.append(ev.event_id)
            self.ctx.truth(rep, ev.event_id, kind="record", native_code=rep.native_code,
                           category=rep.category, revisions=len(ev.revisions),
                           final_status=last["status"], close_reason=last["closeReason"],
                           coord_type=(last["location"] or {}).get("coordType"),
                           served_grid_code=last["gridCode"],
                           confidentiality="internal" if rep.native_code.startswith("MDJF") else "public",
                           revision_times=[ms for ms, _ in ev.revisions])
            self.extra_pushes(rep, rng)
        with self.lock:
            active = list(self.active)
        still = []
        for ev in active:
            while ev.published < len(ev.revisions) and ev.revisions[ev.published][0] <= now:
                self.publish(ev, ev.published)
            if ev.published < len(ev.revisions):
                still.append(ev)
        done = {id(e) for e in active} - {id(e) for e in still}
        with self.lock:
            self.active = [e for e in self.active if id(e) not in done]

    # ---- push workers ----

    def worker(self):
        while True:
            with self.lock:
                while True:
                    now = time.monotonic()
                    if self.queue and self.queue[0][0] <= now:
                        _, _, msg = heapq.heappop(self.queue)
                        self.in_flight += 1
                        break
                    self.qcv.wait(timeout=(self.queue[0][0] - now) if self.queue else 1.0)
            try:
                self.deliver(msg)
            finally:
                with self.lock:
                    self.in_flight -= 1

    def deliver(self, msg):
        status = None
        u = self.webhook
        try:
            conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=self.a.timeout)
            path = u.path + (("?" + u.query) if u.query else "")
            conn.request("POST", path, body=msg.body, headers={
                "Content-Type": "application/json; charset=utf-8", "X-Event-Id": msg.push_id,
                "X-Timestamp": str(msg.ts), "X-Signature": msg.signature})
            resp = conn.getresponse()
            resp.read()
            status = resp.status
            conn.close()
        except TimeoutError:
            with self.lock:
                self.stats["timeouts"] += 1
        except (OSError, http.client.HTTPException):
            with self.lock:
                self.stats["connection_errors"] += 1
        with self.lock:
            self.stats["pushes_sent"] += 1
            key = str(status) if status is not None else "none"
            self.stats["answers"][key] = self.stats["answers"].get(key, 0) + 1
            per = self.stats["messages"].setdefault(msg.label, {})
            per[key] = per.get(key, 0) + 1
        if status is not None and 200 <= status < 300:
            if msg.duplicate_after:
                msg.duplicate_after = False
                self.count("duplicate")
                self.enqueue(msg, 0.05)
            return
        if status in (400, 409):
            return  # §2.1: not retried
        if msg.attempt >= len(self.delays):
            with self.lock:
                self.stats["gave_up"] += 1
            if msg.label not in ("forged",):
                self.ctx.log(f"push {msg.push_id} ({msg.event_id} r{msg.revision}) given up after "
                             f"{msg.attempt} retries, last answer {status}; left for catch-up")
            return
        delay = self.delays[msg.attempt]
        msg.attempt += 1
        with self.lock:
            self.stats["retries"] += 1
        self.enqueue(msg, delay)

    # ---- catch-up (§4) ----

    def catchup(self, handler):
        a = self.a
        path = handler.path
        q = urllib.parse.urlparse(path)
        params = urllib.parse.parse_qs(q.query, keep_blank_values=True)
        ts = handler.headers.get("X-Timestamp", "")
        sig = handler.headers.get("X-Signature", "")
        app = handler.headers.get("X-App-Id", "")
        with self.lock:
            self.stats["catchup_requests"] += 1
        expected = "sha256=" + hmac.new(self.secret, (ts + "." + path).encode(), hashlib.sha256).hexdigest()
        ok = app == a.app_id and ts.isdigit() and abs(int(ts) - time.time()) <= a.max_skew and \
            hmac.compare_digest(expected, sig.split(",")[0].strip())
        if not ok and self.next_secret and ts.isdigit():
            exp2 = "sha256=" + hmac.new(self.next_secret, (ts + "." + path).encode(), hashlib.sha256).hexdigest()
            ok = app == a.app_id and hmac.compare_digest(exp2, sig.split(",")[0].strip())
        if not ok:
            return 401, {"code": 40101, "msg": "signature invalid"}, None
        now = time.monotonic()
        with self.lock:
            self.catchup_times = [t for t in self.catchup_times if now - t < 1.0]
            limited = len(self.catchup_times) >= a.rps_limit
            self.catchup_times.append(now)
        rng = self.ctx.rng("catchup", self.stats["catchup_requests"])
        if limited or rng.random() < a.p_429:
            self.count("catchup_429")
            return 429, {"code": 42901, "msg": "too many requests"}, {"Retry-After": "1"}
        since = parse_since(params.get("since", [""])[0])
        if since is None:
            return 400, {"code": 40001, "msg": "since: RFC 3339 with offset required"}, None
        if since < self.ctx.clock.now_ms() - 7 * DAY_MS:
            return 400, {"code": 40002, "msg": "since: at most 7 days back"}, None
        try:
            limit = int(params.get("limit", ["100"])[0])
        except ValueError:
            limit = 0
        if not 1 <= limit <= 500:
            return 400, {"code": 40001, "msg": "limit: 1-500"}, None
        after = None
        token = params.get("pageToken", [""])[0]
        if token:
            try:
                t = json.loads(base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)))
                after = (int(t["u"]), str(t["id"]))
                if int(t["s"]) != since:
                    raise ValueError("token of another query")
            except (ValueError, KeyError, TypeError):
                return 400, {"code": 40001, "msg": "pageToken invalid"}, None
        with self.lock:
            rows = [(e.updated_ms, e.event_id, e.bytes) for e in self.events.values()
                    if e.published > 0 and e.updated_ms >= since]
        rows.sort(key=lambda r: (r[0], r[1]))
        if after:
            rows = [r for r in rows if (r[0], r[1]) > after]
        page, more = rows[:limit], len(rows) > limit
        nxt = ""
        if more:
            nxt = base64.urlsafe_b64encode(json.dumps(
                {"u": page[-1][0], "id": page[-1][1], "s": since}).encode()).decode().rstrip("=")
        body = (b'{"code":0,"msg":"ok","data":{"events":[' + b",".join(r[2] for r in page) +
                b'],"nextPageToken":' + json.dumps(nxt).encode() + b',"hasMore":' +
                (b"true" if more else b"false") + b"}}")
        return 200, body, None

    def state(self):
        with self.lock:
            events = {e.event_id: {"revision": e.published, "revisions": len(e.revisions), "kind": e.kind}
                      for e in self.events.values()}
            return {"stats": self.stats, "events": events, "queued": len(self.queue),
                    "in_flight": self.in_flight, "active": len(self.active),
                    "frozen": self.frozen_at is not None,
                    "settled": self.frozen_at is not None or
                               (bool(self.ctx.stream.exhausted()) and not self.active)}


def make_handler(app):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # quiet: the tests read the log
            pass

        def send(self, status, body, headers=None):
            if isinstance(body, (dict, list)):
                body = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            path = urllib.parse.urlparse(self.path).path
            if path == "/api/v1/events":
                status, body, headers = app.catchup(self)
                with app.lock:
                    ans = app.stats["catchup_answers"]
                    ans[str(status)] = ans.get(str(status), 0) + 1
                return self.send(status, body, headers)
            if path == "/_sim/state":
                return self.send(200, app.state())
            if path.startswith("/_sim/events/"):
                eid = path.rsplit("/", 1)[1]
                with app.lock:
                    ev = app.events.get(eid)
                    if ev and ev.published:
                        return self.send(200, ev.bytes)
                return self.send(404, {"code": 40401, "msg": "no such event"})
            self.send(404, {"code": 40400, "msg": "not found"})

    return Handler


def run(ctx) -> None:
    app = GridApp(ctx)
    srv = ThreadingHTTPServer((ctx.args.host, ctx.args.port), make_handler(app))
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    for _ in range(max(1, ctx.args.workers)):
        threading.Thread(target=app.worker, daemon=True).start()
    port = srv.server_address[1]
    base = "http://%s:%d" % (ctx.args.host, port)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ctx.ready(port=port, base_url=base,
              webhook_url=app.webhook.geturl() if app.webhook else "", app_id=ctx.args.app_id)
    ctx.log(f"gridapp: catch-up on {base}/api/v1/events, pushing to "
            f"{app.webhook.geturl() if app.webhook else '(nobody)'}")
    try:
        while True:
            app.tick()
            time.sleep(ctx.args.tick_ms / 1000.0)
    except KeyboardInterrupt:
        pass

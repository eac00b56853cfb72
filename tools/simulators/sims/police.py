"""公安 非警务警情移交 (police-interface.md V1.2): the police side of the one-way boundary exchange.

The simulator plays both the police system and the ferry (安全边界接入平台):

* Every ``--batch-interval`` simulated seconds with records due, it writes a batch pair
  ``JQ_<batch>.jsonl`` + ``JQ_<batch>.manifest`` into ``<dir>/inbox/`` as the ferry does: each
  file under a temporary name outside the ferry's patterns, then renamed (§2). Records follow §3
  (every key present, codes as strings, times in epoch ms, ordered by ``gxsj``), manifests §4.
* Each incident gives one call sheet (``jjdbh``): a 移交 version (czlx 1) at the transfer time,
  sometimes a 补充 (czlx 2) and sometimes a 撤回 (czlx 3), each repeating the whole record with a
  newer ``gxsj``.
* It reads ``<dir>/outbox/`` like the ferry (§7): a ``JQFK_`` pair is taken when its manifest is
  present and matches; both files are deleted; each feedback line is appended to the feedback
  log (``--feedback-log``, default ``<dir>/police-received.jsonl``) with ``duplicate`` true when
  its ``fkid`` was already received (the police side ignores it), and ``invalid`` (a list of
  reasons) when the line breaks §7 (a key missing, an fkzt outside §5.2, yjjd not a street, an
  unknown jjdbh...): nothing comes back (§7), so that is where a test sees it. A 退回 makes the police
  re-assign the call sheet: a 补充 version with another ``yjjd`` follows in the next batch.

Irregularities of §8, each at a configurable rate (0 disables it):

  --p-partial     manifest delivered first, the .jsonl written in two chunks (§8.1)
  --p-redeliver   a consumed batch re-delivered with the same id and bytes (§8.2)
  --p-repeat      a record version sent again in the next batch (§8.3)
  --p-coord-missing / --p-coord-zero / --p-coord-swap / --p-zbxt-empty   (§8.4)
  --p-seconds     bjsj and yjsj in seconds (§8.5)
  --p-yjjd-empty / --p-yjjd-400   no operator street (§8.6)
  --p-mj2         涉密 records that slipped through the ferry's filter (§8.7; truth `confidential`)
  --p-police-code a police category outside §5.1 (§8.8; still a valid transfer)
  --p-tamper      a batch whose .jsonl does not match its manifest (never completes; the sender
                  sends the records again in a later batch)
  --p-crlf        the ferry adds CR before every LF
  --p-bad         a malformed record the adapter must dead-letter (truth `bad`)

Ground truth: one line per record version served (`record`), per 涉密 version (`confidential`)
and per malformed line (`bad`); record_id is the jjdbh, `version` the gxsj as RFC 3339.
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import json
import os
import re
import signal
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

BEIJING = timezone(timedelta(hours=8))

# §5.1: the non-police categories transferred to the streets.
CODES_51 = {
    "5001", "5002", "5003", "5004", "5005", "5101", "5102", "5103", "5201", "5202",
    "5301", "5302", "5303", "5401", "5402", "5403", "5404", "5999",
}
# Police categories an operator may pick by mistake (§8.8): outside §5.1 but valid transfers.
POLICE_CODES = [("02", "0201"), ("02", "0213"), ("03", "0305"), ("10", "1002")]

# Police station (管辖单位) per street.
STATIONS = {
    "320104001": "320104510000", "320104002": "320104520000", "320104003": "320104530000",
    "320104004": "320104540000", "320104005": "320104550000", "320104006": "320104560000",
    "320104007": "320104570000", "320104008": "320104580000", "320104009": "320104590000",
    "320104010": "320104600000", "320104011": "320104610000", "320104012": "320104620000",
}
STREETS = sorted(STATIONS)
STAT_UNIT = "320104400"  # 夫子庙秦淮风光带: a statistical unit, not a street

CJQK = [
    "民警到场劝导，当事人表示配合，建议社区后续跟进。",
    "民警到场了解情况，无治安问题，双方情绪已平复，建议属地街道协调处理。",
    "民警到场查看，现场确有该情况，已告知报警人将移交属地街道处理。",
    "民警到场，涉事方已离开，现场秩序正常，移交街道后续处置。",
]
SUPPLEMENTS = [
    "报警人再次来电称情况仍未改善，要求尽快处理。",
    "报警人补充称该情况已持续多日，夜间尤为严重。",
    "经回访，报警人补充了具体位置，请街道核实。",
]
WITHDRAWALS = [
    "报警人再次来电称问题已自行解决，撤回移交。",
    "经核实属治安案件，由派出所继续处理，撤回移交。",
    "重复报警，已并入前一接警单处理，撤回移交。",
]

BATCH_RE = re.compile(r"^JQFK_([0-9]{14}_[0-9]{4})\.manifest$")


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p  # the group casehub-sim made for this department
    g.add_argument("--dir", required=True,
                   help="the district's receiving folder: batches go to <dir>/inbox, feedback is read from <dir>/outbox")
    g.add_argument("--batch-interval", type=float, default=120.0,
                   help="simulated seconds between batches when records are due (document: 120)")
    g.add_argument("--batch-max", type=int, default=1000, help="most records in one batch (document: 1000)")
    g.add_argument("--transfer-delay", type=float, default=None,
                   help="most simulated seconds between the call (bjsj) and the transfer (yjsj); "
                        "default: the incident's own dispatch time")
    g.add_argument("--followup-delay", type=float, default=1800.0,
                   help="most simulated seconds between the transfer and a 补充 or 撤回")
    g.add_argument("--p-supplement", type=float, default=0.15, help="share of call sheets with a 补充 version")
    g.add_argument("--p-withdraw", type=float, default=0.05,
                   help="share of call sheets withdrawn (besides incidents that end rejected/cancelled)")
    g.add_argument("--p-mj1", type=float, default=0.2, help="share of records with mj=1 (内部)")
    g.add_argument("--p-repeat-call", type=float, default=0.05,
                   help="share of incidents called in twice: a second call sheet naming the first in gljjdbh")
    g.add_argument("--p-partial", type=float, default=0.1, help="§8.1 manifest first, .jsonl in chunks")
    g.add_argument("--chunk-delay", type=float, default=1.5,
                   help="real seconds between the chunks of a partial delivery")
    g.add_argument("--p-redeliver", type=float, default=0.03, help="§8.2 re-delivered batches")
    g.add_argument("--p-repeat", type=float, default=0.02, help="§8.3 a record repeated in the next batch")
    g.add_argument("--p-coord-missing", type=float, default=0.1, help="§8.4 no coordinates")
    g.add_argument("--p-coord-zero", type=float, default=0.02, help="§8.4 coordinates 0, 0")
    g.add_argument("--p-coord-swap", type=float, default=0.03, help="§8.4 latitude in zbx (old PGIS)")
    g.add_argument("--p-zbxt-empty", type=float, default=0.05, help="§8.4 zbxt empty with coordinates")
    g.add_argument("--p-seconds", type=float, default=0.02, help="§8.5 bjsj/yjsj in seconds")
    g.add_argument("--p-yjjd-empty", type=float, default=0.05, help="§8.6 yjjd empty")
    g.add_argument("--p-yjjd-400", type=float, default=0.05, help="§8.6 yjjd 320104400")
    g.add_argument("--p-mj2", type=float, default=0.01, help="§8.7 mj=2 records through a filter fault")
    g.add_argument("--p-police-code", type=float, default=0.02, help="§8.8 a category outside §5.1")
    g.add_argument("--p-tamper", type=float, default=0.0, help="batches whose .jsonl never matches the manifest")
    g.add_argument("--p-crlf", type=float, default=0.05, help="the ferry adds CR before LF")
    g.add_argument("--p-bad", type=float, default=0.0, help="malformed records (dead letters)")
    g.add_argument("--feedback-log", default=None,
                   help="where received feedback is recorded for tests (default <dir>/police-received.jsonl)")
    g.add_argument("--tick", type=float, default=0.1, help="real seconds between two looks at the clock")


def _ms_text(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, BEIJING).isoformat(timespec="milliseconds")


FKZT = ("已签收", "处置中", "已办结", "退回")  # §5.2


def feedback_problems(fb, sheets) -> list[str]:
    """What makes a feedback line of §7 unusable on the police side ([] when it is valid): keys
    and types of the §7 table, fkzt of §5.2, yjjd one of the streets, fknr at most 1,000
    characters, and a jjdbh the police transferred. Nothing is sent back (§7): the simulator
    only records it, so tests can see what a real police side would have dropped."""
    if not isinstance(fb, dict):
        return ["not a JSON object"]
    out = []
    for k in ("fkid", "jjdbh", "yjjd", "fkzt", "fknr", "fkdw", "fkr"):
        if not isinstance(fb.get(k), str) or not fb.get(k):
            out.append(f"{k} missing or empty")
    if isinstance(fb.get("fkid"), str) and len(fb["fkid"]) > 40:
        out.append("fkid longer than 40")
    if "jqh" in fb and not isinstance(fb.get("jqh"), str):
        out.append("jqh not a string")
    if fb.get("fkzt") and fb.get("fkzt") not in FKZT:
        out.append(f"fkzt {fb.get('fkzt')!r} not in §5.2")
    if fb.get("yjjd") and fb.get("yjjd") not in STREETS:
        out.append(f"yjjd {fb.get('yjjd')!r} is not a street")
    if isinstance(fb.get("fknr"), str) and len(fb["fknr"]) > 1000:
        out.append("fknr longer than 1000")
    if not isinstance(fb.get("fksj"), int) or isinstance(fb.get("fksj"), bool) or fb["fksj"] < 10**12:
        out.append("fksj not epoch milliseconds")
    if isinstance(fb.get("jjdbh"), str) and fb["jjdbh"] and fb["jjdbh"] not in sheets:
        out.append("jjdbh not transferred by the police")
    return out


def _dump(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


class Version:
    """One version of one call sheet, ready to be written as a line."""

    __slots__ = ("gxsj", "report", "record_id", "line", "kind", "extra")

    def __init__(self, gxsj, report, record_id, line, kind, extra):
        self.gxsj, self.report, self.record_id = gxsj, report, record_id
        self.line, self.kind, self.extra = line, kind, extra


class CallSheet:
    """The police record of one incident and the decisions fixed for all its versions."""

    def __init__(self, sim: "PoliceSim", report, repeat_of: "CallSheet | None" = None):
        a = sim.args
        # A repeat call (§ gljjdbh: "earlier call sheet of the same incident") is a second sheet
        # of the same incident, a few minutes later, naming the first.
        rng = sim.ctx.rng("sheet-repeat" if repeat_of else "sheet", report.incident_id)
        self.report = report
        self.jjdbh = report.native_id("police")
        day = _ms_text(report.reported_ms)[:10].replace("-", "")
        self.jqh = "320104" + day + "%05d" % (report.n % 100000)
        self.bjsj = int(report.reported_ms)
        if repeat_of is not None:
            self.jjdbh = self.jjdbh[:-6] + "%06d" % ((report.n + 500000) % 1000000)
            self.jqh = self.jqh[:-5] + "%05d" % ((report.n + 50000) % 100000)
            self.bjsj += int(rng.uniform(3, 40) * 60_000)
        # The transfer is the incident's dispatch (派遣 = 移交); an incident the world rejects or
        # cancels is withdrawn (撤回) at that time.
        stage = dict((st, int(ms)) for ms, st in report.stages)
        if a.transfer_delay is not None:
            self.yjsj = self.bjsj + int(rng.uniform(0.0, 1.0) * a.transfer_delay * 1000)
        else:
            self.yjsj = stage.get("dispatched") or stage.get("registered") or self.bjsj
        self.withdrawn_at = stage.get("cancelled") or stage.get("rejected")
        self.confidential = rng.random() < a.p_mj2
        self.mj = 2 if self.confidential else (1 if rng.random() < a.p_mj1 else 0)
        self.bad = None if self.confidential or rng.random() >= a.p_bad else rng.choice(
            ["czlx", "bjxldm", "not_json", "no_jjdbh"])
        self.seconds = rng.random() < a.p_seconds
        code, name = report.native_code, report.native_name
        self.bjlbdm, self.bjxldm = code[:2], code
        self.police_code = rng.random() < a.p_police_code
        if self.police_code:
            self.bjlbdm, self.bjxldm = rng.choice(POLICE_CODES)
        self.category = "other.unclassified" if self.police_code else report.category
        self.native_name = name
        street = report.street_code if report.street_code in STATIONS else rng.choice(STREETS)
        self.gxdwdm = STATIONS[street]
        u = rng.random()
        self.yjjd = "" if u < a.p_yjjd_empty else (STAT_UNIT if u < a.p_yjjd_empty + a.p_yjjd_400 else street)
        self.fllx = rng.choices([1, 2, 3], [50, 35, 15])[0]
        self.cjqk = rng.choice(CJQK) if self.fllx != 1 else ""
        self.jqjb = 4 if rng.random() < 0.95 else 3
        # Coordinates as the operator's PGIS client recorded them.
        x, y = round(report.rep_lon, 6), round(report.rep_lat, 6)
        zbxt = "CGCS2000" if rng.random() < 0.7 else "WGS84"
        u = rng.random()
        if u < a.p_coord_missing:
            x = y = None
            zbxt = ""
        elif u < a.p_coord_missing + a.p_coord_zero:
            x = y = 0
            zbxt = "WGS84"
        elif u < a.p_coord_missing + a.p_coord_zero + a.p_coord_swap:
            x, y, zbxt = y, x, "WGS84"
        elif u < a.p_coord_missing + a.p_coord_zero + a.p_coord_swap + a.p_zbxt_empty:
            zbxt = ""
        self.zbx, self.zby, self.zbxt = x, y, zbxt
        person = report.person or {}
        u = rng.random()
        self.bjdh = person.get("mobile", "") if u < 0.8 else (person.get("phone_fixed", "") if u < 0.95 else "")
        full = person.get("name", "") or ""
        u = rng.random()
        if full and u < 0.6:
            self.bjrxm = full[0] + rng.choice(["先生", "女士"])
        elif full and u < 0.9:
            self.bjrxm = full
        else:
            self.bjrxm = rng.choice(["", "匿名"])
        text = (report.description or report.title or "").strip()
        self.bjnr = "报警人称" + text if not text.startswith("报警人") else text
        u = rng.random()
        if u < 0.2 and person.get("mobile"):
            self.bjnr = self.bjnr.rstrip("。") + "，请联系报警人" + person["mobile"] + "。"
        elif u < 0.25 and person.get("id_number"):
            self.bjnr = self.bjnr.rstrip("。") + "，报警人身份证号" + person["id_number"] + "。"
        self.afdz = report.address
        self.gljjdbh = repeat_of.jjdbh if repeat_of is not None else ""
        # Versions: the transfer, maybe a supplement, maybe a withdrawal.
        self.plan = [(self.yjsj, 1, "")]
        if not self.bad:
            t = self.yjsj
            if rng.random() < a.p_supplement:
                t += 1000 + int(rng.uniform(0.1, 0.5) * a.followup_delay * 1000)
                self.plan.append((t, 2, rng.choice(SUPPLEMENTS)))
            if self.withdrawn_at is not None or rng.random() < a.p_withdraw:
                w = t + 1000 + int(rng.uniform(0.5, 1.0) * a.followup_delay * 1000)
                if self.withdrawn_at is not None and a.transfer_delay is None:
                    w = max(self.withdrawn_at, t + 1000)
                self.plan.append((w, 3, rng.choice(WITHDRAWALS)))

    def record(self, gxsj: int, czlx: int, bz: str) -> dict:
        bjsj, yjsj = self.bjsj, self.yjsj
        if self.seconds:
            bjsj, yjsj = bjsj // 1000, yjsj // 1000
        bjnr = self.bjnr
        if czlx == 2 and bz:
            bjnr = bjnr + "（补充）" + bz
        return {
            "jqh": self.jqh, "jjdbh": self.jjdbh, "gljjdbh": self.gljjdbh, "xzqh": "320104",
            "bjsj": bjsj, "bjdh": self.bjdh, "bjrxm": self.bjrxm, "afdz": self.afdz, "bjnr": bjnr,
            "bjlbdm": self.bjlbdm, "bjxldm": self.bjxldm, "gxdwdm": self.gxdwdm, "jqjb": self.jqjb,
            "zbx": self.zbx, "zby": self.zby, "zbxt": self.zbxt, "mj": self.mj, "yjjd": self.yjjd,
            "yjsj": yjsj, "fllx": self.fllx, "cjqk": self.cjqk, "czlx": czlx, "bz": bz, "gxsj": gxsj,
        }


class Delivery:
    """A batch pair on its way through the ferry."""

    def __init__(self, batch, jsonl: bytes, manifest: bytes, partial: bool, crlf: bool):
        self.batch, self.jsonl, self.manifest = batch, jsonl, manifest
        self.partial, self.crlf = partial, crlf


class PoliceSim:
    def __init__(self, ctx):
        self.ctx = ctx
        self.args = a = ctx.args
        self.root = Path(a.dir)
        self.inbox = self.root / "inbox"
        self.outbox = self.root / "outbox"
        for d in (self.inbox, self.outbox):
            d.mkdir(parents=True, exist_ok=True)
        self.feedback_log = Path(a.feedback_log) if a.feedback_log else self.root / "police-received.jsonl"
        self.rng = ctx.rng("exchange")
        self.schedule: list[tuple[int, int, CallSheet, int, str]] = []  # (gxsj, order, sheet, czlx, bz)
        self.order = 0
        self.pending: list[Version] = []
        self.sheets: dict[str, CallSheet] = {}
        self.recent_sheets: list[str] = []
        self.last_batch_ms = None
        self.seq = 0
        self.redeliver: list[Delivery] = []      # waiting until the original was consumed
        self.chunked: list[tuple[float, Path, bytes]] = []  # (real time, path, remaining bytes)
        self.fkids: set[str] = set()
        self.finished = False

    # -- police side ---------------------------------------------------------------------------
    def take_reports(self, now_ms: int) -> None:
        for r in self.ctx.stream.due(now_ms):
            sheet = CallSheet(self, r)
            sheets = [sheet]
            if not sheet.confidential and not sheet.bad and \
                    self.ctx.rng("repeat-call", r.incident_id).random() < self.args.p_repeat_call:
                sheets.append(CallSheet(self, r, repeat_of=sheet))
            for sh in sheets:
                self.sheets[sh.jjdbh] = sh
                if not sh.confidential and not sh.bad:
                    self.recent_sheets.append(sh.jjdbh)
                    del self.recent_sheets[:-200]
                for gxsj, czlx, bz in sh.plan:
                    self.plan(sh, gxsj, czlx, bz)

    def plan(self, sheet: CallSheet, gxsj: int, czlx: int, bz: str) -> None:
        self.order += 1  # (gxsj, order) is unique: the heap never compares sheets
        heapq.heappush(self.schedule, (gxsj, self.order, sheet, czlx, bz))

    def due_versions(self, now_ms: int) -> None:
        while self.schedule and self.schedule[0][0] <= now_ms:
            gxsj, _, sheet, czlx, bz = heapq.heappop(self.schedule)
            rec = sheet.record(gxsj, czlx, bz)
            kind = "confidential" if sheet.confidential else "record"
            line = _dump(rec)
            if sheet.bad:
                kind = "bad"
                if sheet.bad == "czlx":
                    rec["czlx"] = 7
                elif sheet.bad == "bjxldm":
                    rec["bjxldm"] = rec["bjlbdm"] + "X1"
                elif sheet.bad == "no_jjdbh":
                    rec["jjdbh"] = ""
                line = _dump(rec)
                if sheet.bad == "not_json":
                    line = line[: len(line) // 2]
            extra = {
                "version": _ms_text(gxsj), "czlx": czlx, "mj": sheet.mj,
                "status": "cancelled" if czlx == 3 else "dispatched",
                "expected_category": sheet.category, "street": sheet.yjjd if sheet.yjjd in STATIONS else None,
            }
            if sheet.bad:
                extra["bad"] = sheet.bad
            self.pending.append(Version(gxsj, sheet.report, sheet.jjdbh, line, kind, extra))

    def batch_id(self, now_ms: int) -> str:
        self.seq = self.seq % 9999 + 1
        return datetime.fromtimestamp(now_ms / 1000, BEIJING).strftime("%Y%m%d%H%M%S") + "_%04d" % self.seq

    def make_batches(self, now_ms: int) -> None:
        a = self.args
        if not self.pending:
            return
        if self.last_batch_ms is not None and now_ms - self.last_batch_ms < a.batch_interval * 1000:
            return
        self.last_batch_ms = now_ms
        # Records that come back (a tampered batch sent again, a repeated record) wait for the
        # next batch.
        due, self.pending = sorted(self.pending, key=lambda v: v.gxsj), []
        for i in range(0, len(due), a.batch_max):
            self.send(now_ms, due[i: i + a.batch_max])

    def send(self, now_ms: int, versions: list[Version]) -> None:
        a = self.args
        batch = self.batch_id(now_ms)
        body = "".join(v.line + "\n" for v in versions).encode("utf-8")
        manifest = {
            "batch": batch, "file": f"JQ_{batch}.jsonl",
            "created": datetime.fromtimestamp(now_ms / 1000, BEIJING).isoformat(timespec="seconds"),
            "count": len(versions), "sha256": hashlib.sha256(body).hexdigest(),
            "schema": "FJWJQ/1.2", "sender": "320104000000",
        }
        mbytes = (_dump(manifest) + "\n").encode("utf-8")
        if self.rng.random() < a.p_tamper:
            # Changed on the way (a ferry fault): never matches. The sender sends the records
            # again in the next batch; the tampered copy is not a record of the truth.
            tampered = body.replace("报警".encode(), "报瞥".encode(), 1)
            if tampered == body:
                tampered = body + b"{}\n"
            self.write_pair(Delivery(batch, tampered, mbytes, False, False))
            self.ctx.truth(None, "JQ_" + batch, kind="transport", batch=batch, what="tampered")
            self.ctx.log(f"batch {batch}: tampered ({len(versions)} records, sent again later)")
            self.pending.extend(versions)
            for v in versions:
                v.extra.setdefault("resent_after_tamper", batch)
            return
        d = Delivery(batch, body, mbytes, self.rng.random() < a.p_partial,
                     self.rng.random() < a.p_crlf)
        self.write_pair(d)
        for v in versions:
            self.ctx.truth(v.report, v.record_id, kind=v.kind, batch=batch, **v.extra)
        # §8.3: the sender retried one record: it comes again, identical, in the next batch.
        repeats = [v for v in versions if v.kind == "record" and self.rng.random() < a.p_repeat]
        for v in repeats:
            self.pending.append(Version(v.gxsj, v.report, v.record_id, v.line, "transport", dict(v.extra)))
        if self.rng.random() < a.p_redeliver:
            self.redeliver.append(d)
        self.ctx.log(f"batch {batch}: {len(versions)} records" + (" (partial delivery)" if d.partial else "")
                     + (" (CRLF)" if d.crlf else ""))

    # -- the ferry -----------------------------------------------------------------------------
    def atomic_write(self, path: Path, data: bytes) -> None:
        tmp = path.with_name(".ferry-" + path.name + ".part")
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)

    def write_pair(self, d: Delivery) -> None:
        body = d.jsonl.replace(b"\n", b"\r\n") if d.crlf else d.jsonl
        jpath = self.inbox / f"JQ_{d.batch}.jsonl"
        mpath = self.inbox / f"JQ_{d.batch}.manifest"
        if d.partial and len(body) > 1:
            # §8.1: the manifest arrives first; the .jsonl grows under its final name.
            self.atomic_write(mpath, d.manifest)
            cut = len(body) // 2
            with open(jpath, "wb") as f:
                f.write(body[:cut])
            self.chunked.append((time.monotonic() + self.args.chunk_delay, jpath, body[cut:]))
        else:
            self.atomic_write(jpath, body)
            self.atomic_write(mpath, d.manifest)

    def ferry(self) -> None:
        now = time.monotonic()
        keep = []
        for at, path, rest in self.chunked:
            if at <= now:
                with open(path, "ab") as f:
                    f.write(rest)
            else:
                keep.append((at, path, rest))
        self.chunked = keep
        # §8.2: after its own restart the ferry delivers a consumed batch again.
        waiting = []
        for d in self.redeliver:
            if (self.inbox / f"JQ_{d.batch}.manifest").exists() or (self.inbox / f"JQ_{d.batch}.jsonl").exists():
                waiting.append(d)
                continue
            self.write_pair(Delivery(d.batch, d.jsonl, d.manifest, False, d.crlf))
            self.ctx.truth(None, "JQ_" + d.batch, kind="transport", batch=d.batch, what="re-delivered")
            self.ctx.log(f"batch {d.batch}: re-delivered")
        self.redeliver = waiting

    # -- feedback (§7) -------------------------------------------------------------------------
    def read_outbox(self, now_ms: int) -> None:
        try:
            names = sorted(os.listdir(self.outbox))
        except FileNotFoundError:
            return
        for name in names:
            m = BATCH_RE.match(name)
            if not m:
                continue
            batch = m.group(1)
            mpath = self.outbox / name
            jpath = self.outbox / f"JQFK_{batch}.jsonl"
            if not jpath.exists():
                continue  # the manifest is written last; wait for the pair
            entries = []
            try:
                manifest = json.loads(mpath.read_bytes().decode("utf-8"))
                raw = jpath.read_bytes()
                body = raw.replace(b"\r\n", b"\n")
                problem = None
                if manifest.get("schema") != "FJWJQFK/1.0":
                    problem = f"schema {manifest.get('schema')!r}"
                elif manifest.get("batch") != batch or manifest.get("file") != f"JQFK_{batch}.jsonl":
                    problem = "batch or file name does not match"
                elif hashlib.sha256(body).hexdigest() != manifest.get("sha256"):
                    problem = "sha256 mismatch"
                elif body.count(b"\n") != manifest.get("count") or (body and not body.endswith(b"\n")):
                    problem = "count mismatch"
                if problem is None:
                    for line in body.decode("utf-8").splitlines():
                        fb = json.loads(line)
                        dup = fb.get("fkid") in self.fkids
                        self.fkids.add(fb.get("fkid"))
                        invalid = feedback_problems(fb, self.sheets)
                        entry = dict(fb, batch=batch, duplicate=dup, sender=manifest.get("sender"))
                        if invalid:
                            entry["invalid"] = invalid  # the police side cannot use the line
                        entries.append(entry)
                        if not dup and not invalid:
                            self.apply_feedback(fb, now_ms)
                else:
                    entries.append({"batch": batch, "rejected": problem})
            except (ValueError, UnicodeDecodeError) as e:
                entries.append({"batch": batch, "rejected": f"unreadable: {e.__class__.__name__}"})
            for p in (jpath, mpath):
                try:
                    p.unlink()
                except FileNotFoundError:
                    pass
            with open(self.feedback_log, "a", encoding="utf-8") as f:
                for e in entries:
                    f.write(_dump(e) + "\n")
            self.ctx.log(f"feedback batch {batch}: {len(entries)} lines")

    def apply_feedback(self, fb: dict, now_ms: int) -> None:
        sheet = self.sheets.get(fb.get("jjdbh", ""))
        if sheet is None or fb.get("fkzt") != "退回":
            return
        # 退回: not the street's matter; the command centre re-assigns it to another street.
        others = [s for s in STREETS if s != sheet.yjjd]
        sheet.yjjd = self.rng.choice(others)
        gxsj = max(now_ms, max(p[0] for p in sheet.plan) + 1000)
        bz = f"街道退回（{fb.get('fkdw', '')}），重新移交。"
        sheet.plan.append((gxsj, 2, bz))
        self.plan(sheet, gxsj, 2, bz)

    # -- main loop -----------------------------------------------------------------------------
    def tick(self) -> None:
        now_ms = self.ctx.clock.now_ms()
        self.take_reports(now_ms)
        self.due_versions(now_ms)
        self.make_batches(now_ms)
        self.ferry()
        self.read_outbox(now_ms)
        if not self.finished and self.ctx.stream.exhausted() and not self.schedule \
                and not self.pending and not self.chunked and not self.redeliver:
            self.finished = True
            self.ctx.log(f"all {len(self.sheets)} call sheets delivered")


def run(ctx) -> None:
    def on_term(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    sim = PoliceSim(ctx)
    ctx.ready(dir=str(sim.root), inbox=str(sim.inbox), outbox=str(sim.outbox),
              feedback_log=str(sim.feedback_log))
    ctx.log(f"police exchange: batches into {sim.inbox}, feedback from {sim.outbox}")
    while True:
        sim.tick()
        time.sleep(ctx.args.tick)

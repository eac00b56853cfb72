"""综合行政执法办案系统 案件数据交换 (enforcement-interface.md V1.2): the bureau's CSV exporter.

Every ``--export-every`` simulated seconds (the document: 5 minutes, at minutes 0, 5, 10 ...,
up to 60 s late) an export run writes the cases changed since the previous run into ``--dir``
(the ``ZFAJ/`` share) as ``ZFAJ_yyyyMMddHHmmss_NNN.csv``: written as ``<name>.tmp`` and renamed
when complete (§2), at most ``--max-rows`` rows per file, one row per changed case with its
complete current state, ordered by 更新时间, header of §4, trailer ``#END,<n>`` (§3). A run with
no changed case writes no file. The consumer moves files to ``done/`` and ``rejected/``; the
simulator only writes into the folder (and deletes its own stale ``.tmp`` files after an hour).

Cases evolve along the Report's stages: 立案 → 调查取证 → 审查 (sometimes back to 调查取证) → 决定
(处罚决定书号 and 罚款金额 set) → 执行 → 结案 (结案日期 set); a withdrawn report becomes 结案 from
调查取证 (撤销立案), a rejected one a 不予立案 row without 立案日期. Between two runs only the last
state is exported (§5.4); a case reappears in a later file whenever it changes (§6.7).

Irregularities (§6), each at a configurable rate (0 disables it):

  --p-utf8           file written by export tool V4.0: UTF-8 with BOM, dates `yyyy-MM-dd 00:00:00`;
                     otherwise V3.2: GB18030 (§6.1)
  --p-date-mixed     V3.2 dates typed as `2026/3/9` or `2026年3月9日` (§6.2)
  --p-incomplete     a file renamed without trailer (disk full; truncated, sometimes inside a
                     quoted field), or, for a quarter of them, with a wrong `#END,<n>` (§6.5). The
                     信息科 re-exports the period by hand under a new name (`_NNN` + 1 of the same
                     run) at the next run, through spreadsheet software (§6.3: 证件号码 as
                     `3.20104E+17`, 罚款金额 as `"1,000.00"`)
  --p-blank-after-trailer  a blank line after the trailer in V3.2 files (§6.4)
  --p-whitespace     names and addresses with leading/trailing spaces incl. U+3000 (§6.6)
  --p-unidentified   party columns empty, or 当事人名称 `无名氏` (§6.8)
  --p-multiline      an address with a line break (bare LF or CRLF) inside the quoted field (§3)
  --p-comma          an address with a comma (quoted field) (§9 sample)
  --p-legal          the party is a 法人 (name and 统一社会信用代码 public)
  --p-two-phones     联系电话 with two numbers separated by `;`, `/` or `、` (§4)
  --p-bureau         a case of the district bureau itself (承办街道 `区局直属`)
  --p-orphan-tmp     a run aborted and re-run: a `.tmp` copy is left behind (consumers ignore it)
  --p-slow-copy      the file appears under its final name and is completed --slow-delay real
                     seconds later (not atomic; the consumer must wait, not reject)
  --p-bad            a case whose rows have a value outside the document's lists (案件状态,
                     案件来源, 执法事项编码) or an unreadable date: truth `bad`, must be dead-lettered

Ground truth (``--truth``): one ``record`` line per row in a complete file (record_id = 案件编号,
``version`` = 更新时间 as RFC 3339, ``file``, ``status_native``), ``bad`` lines for rows of bad
cases, ``transport`` lines for rows of incomplete files (they come again in the re-export).
``<dir>/../enforcement-sim-files.jsonl`` (or ``--manifest``) lists every file written and what it
is (regular, incomplete, reexport, orphan tmp), for tests.
"""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

BEIJING = timezone(timedelta(hours=8))

COLUMNS = ["案件编号", "案件来源", "案由", "执法事项编码", "当事人类型", "当事人名称", "证件号码",
           "联系电话", "违法地点", "立案日期", "案件状态", "承办街道", "处罚决定书号", "罚款金额",
           "结案日期", "更新时间"]

SOURCES_OWN = ["巡查发现"] * 6 + ["投诉举报"] * 3 + ["上级交办", "部门移送", "媒体曝光"]
STAGE_STATUS = {
    "registered": "立案", "dispatched": "调查取证", "accepted": "调查取证",
    "in_progress": "审查", "resolved": "决定", "verified": "执行", "closed": "结案",
}
COMPANY_WORDS = ["金陵", "秦淮", "禾丰", "福源", "鑫盛", "和记", "老门东", "聚贤", "瑞华", "天禧",
                 "白鹭", "长乐", "德顺", "夫子庙", "明城"]
COMPANY_KINDS = ["餐饮管理有限公司", "便利店有限公司", "商贸有限公司", "建筑工程有限公司",
                 "装饰工程有限公司", "文化传媒有限公司", "物业管理有限公司", "烧烤店"]
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
FINES = [0, 200, 500, 1000, 2000, 3000, 5000, 10000, 20000]
BAD_FLAVOURS = ["status", "source", "item", "date"]
PLACE_DETAILS = ["门前", "东侧人行道", "北入口西侧", "路口东南角", "楼顶", "后院", "沿街商铺外"]


def add_arguments(p) -> None:
    p.add_argument("--dir", required=True, help="the exchange folder ZFAJ/ (created if missing)")
    p.add_argument("--export-every", type=float, default=300.0,
                   help="simulated seconds between export runs (document: 300)")
    p.add_argument("--late-max", type=float, default=60.0,
                   help="a run starts up to this many simulated seconds late (document: 60)")
    p.add_argument("--max-rows", type=int, default=5000, help="rows per file at most (document: 5000)")
    p.add_argument("--tick", type=float, default=0.1, help="real seconds between checks of the clock")
    p.add_argument("--manifest", default=None,
                   help="JSON lines describing every file written (default <dir>/../enforcement-sim-files.jsonl)")
    p.add_argument("--p-utf8", type=float, default=0.5)
    p.add_argument("--p-date-mixed", type=float, default=0.3)
    p.add_argument("--p-incomplete", type=float, default=0.02)
    p.add_argument("--p-blank-after-trailer", type=float, default=0.3)
    p.add_argument("--p-whitespace", type=float, default=0.1)
    p.add_argument("--p-unidentified", type=float, default=0.1)
    p.add_argument("--p-multiline", type=float, default=0.05)
    p.add_argument("--p-comma", type=float, default=0.1)
    p.add_argument("--p-legal", type=float, default=0.35)
    p.add_argument("--p-two-phones", type=float, default=0.2)
    p.add_argument("--p-bureau", type=float, default=0.05)
    p.add_argument("--p-orphan-tmp", type=float, default=0.01)
    p.add_argument("--p-slow-copy", type=float, default=0.0)
    p.add_argument("--slow-delay", type=float, default=1.0, help="real seconds a slow copy takes")
    p.add_argument("--p-bad", type=float, default=0.0)


def _local(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, BEIJING)


def _rfc3339(ms: int) -> str:
    return _local(ms).strftime("%Y-%m-%dT%H:%M:%S+08:00")


def _csv_field(v: str) -> str:
    if any(c in v for c in ',"\r\n'):
        return '"' + v.replace('"', '""') + '"'
    return v


class Case:
    """One enforcement case (案件), built from a Report; its rows are derived on demand."""

    def __init__(self, sim: "EnforcementSim", report):
        self.sim = sim
        self.report = report
        a = sim.args
        rng = sim.ctx.rng("case", report.incident_id)
        self.rng = rng
        self.id = str(report.native_id("enforcement"))
        # 案件来源: transfers from 12345 / 数字城管 when the incident came from there.
        tf = report.transfer_from
        if tf and tf[0] == "hotline12345":
            self.source = "12345转办"
        elif tf and tf[0] == "dcm":
            self.source = "数字城管转办"
        else:
            self.source = rng.choice(SOURCES_OWN)
        self.cause = report.native_name
        self.item = report.native_code
        self.bad = rng.random() < a.p_bad and BAD_FLAVOURS[rng.randrange(len(BAD_FLAVOURS))]
        # Party.
        p = report.person or {}
        self.party_type = self.party_name = self.party_id = self.phone = ""
        if rng.random() < a.p_unidentified:
            if rng.random() < 0.5:
                self.party_type, self.party_name = "自然人", "无名氏"
        elif rng.random() < a.p_legal:
            self.party_type = "法人"
            word = rng.choice(COMPANY_WORDS)
            if rng.random() < 0.2:
                word = f'"{word}小馆"'
            self.party_name = f"南京{word}{rng.choice(COMPANY_KINDS)}"
            self.party_id = "91320104" + "".join(rng.choice(USCC_ALPHABET) for _ in range(10))
            self.phone = p.get("phone_fixed") or p.get("mobile") or ""
            if rng.random() < a.p_two_phones and p.get("mobile"):
                self.phone = f"{p.get('mobile')}{rng.choice([';', '/', '、'])}{self.phone}"
        else:
            self.party_type = "自然人"
            self.party_name = p.get("name", "")
            self.party_id = p.get("id_number", "")
            self.phone = p.get("mobile", "")
            if rng.random() < a.p_two_phones and p.get("phone_fixed"):
                self.phone = f"{self.phone}{rng.choice([';', '/', '、'])}{p.get('phone_fixed')}"
        # Place of the violation, as the officer wrote it.
        place = report.address or "秦淮区"
        if rng.random() < a.p_comma:
            place = f"{place},{rng.choice(PLACE_DETAILS)}"
        if rng.random() < a.p_multiline:
            brk = rng.choice(["\n", "\r\n"])
            place = f"{place}{brk}（{rng.choice(PLACE_DETAILS)}）"
        self.place = place
        self.ws = rng.random() < a.p_whitespace
        if self.ws:
            pad = rng.choice([" ", "\u3000", "  ", "\u3000\u3000"])
            self.place = pad + self.place if rng.random() < 0.5 else self.place + pad
            if self.party_name:
                self.party_name = self.party_name + rng.choice([" ", "\u3000"])
        self.street = "区局直属" if rng.random() < a.p_bureau else (report.street_name or "区局直属")
        self.date_style = rng.choice(["slash", "cn"]) if rng.random() < a.p_date_mixed else "iso"
        self.close_style = rng.choice(["slash", "cn"]) if rng.random() < a.p_date_mixed else "iso"
        self.fine = rng.choice(FINES)
        self.fine_decimals = rng.random() < 0.5
        self.decision_no = None
        self.timeline = self._timeline(report)

    def _timeline(self, report) -> list[tuple[int, str]]:
        """(ms, native status) steps; consecutive equal statuses are one step."""
        steps: list[tuple[int, str]] = []
        stages = list(report.stages)
        if any(s == "rejected" for _, s in stages):
            ms = next(m for m, s in stages if s == "rejected")
            return [(ms, "不予立案")]
        prev = None
        for i, (ms, stage) in enumerate(stages):
            if stage == "cancelled":
                st = "结案"  # 撤销立案 from 调查取证
            else:
                st = STAGE_STATUS.get(stage)
            if st is None:
                continue
            if st == "审查" and self.rng.random() < 0.15 and i + 1 < len(stages):
                # Supplementary evidence: 审查 → 调查取证 → 审查.
                nxt = stages[i + 1][0]
                gap = max(3000, (nxt - ms) // 4)
                for k, s2 in enumerate(["审查", "调查取证"]):
                    steps.append((ms + k * gap, s2))
                ms = ms + 2 * gap
                prev = "调查取证"
            if st != prev:
                steps.append((ms, st))
                prev = st
        if not steps:
            steps.append((report.reported_ms, "立案"))
        # One-second native clock: strictly increasing update times.
        out = []
        last_s = None
        for ms, st in steps:
            s = ms // 1000
            if last_s is not None and s <= last_s:
                s = last_s + 1
            out.append((s * 1000, st))
            last_s = s
        return out

    def state_at(self, now_ms: int):
        cur = None
        for ms, st in self.timeline:
            if ms <= now_ms:
                cur = (ms, st)
        return cur

    def row(self, now_ms: int, v40: bool, spreadsheet: bool) -> tuple[list[str], dict]:
        upd_ms, status = self.state_at(now_ms)
        reg_ms = self.timeline[0][0]
        statuses = [st for ms, st in self.timeline if ms <= now_ms]
        decided = any(s in ("决定", "执行") for s in statuses) or (status == "结案" and "决定" in statuses)
        if decided and self.decision_no is None:
            self.decision_no = self.sim.next_decision_no(upd_ms)

        def date(ms: int, style: str) -> str:
            d = _local(ms)
            if spreadsheet:
                return f"{d.year}/{d.month}/{d.day}"
            if v40:
                return d.strftime("%Y-%m-%d 00:00:00")
            if style == "slash":
                return f"{d.year}/{d.month}/{d.day}"
            if style == "cn":
                return f"{d.year}年{d.month}月{d.day}日"
            return d.strftime("%Y-%m-%d")

        reg_date = "" if status == "不予立案" else date(reg_ms, self.date_style)
        close_date = date(upd_ms, self.close_style) if status == "结案" else ""
        fine = ""
        if decided:
            if spreadsheet and self.fine >= 1000:
                fine = f"{self.fine:,.2f}"
            else:
                fine = f"{self.fine}.00" if self.fine_decimals and self.fine else str(self.fine)
        party_id = self.party_id
        if spreadsheet and party_id.isdigit() and len(party_id) == 18:
            party_id = "%.5E" % float(party_id)  # 3.20104E+17: digits lost
        source, item = self.source, self.item
        if self.bad == "status":
            status = {"立案": "已立案", "结案": "已结案"}.get(status, status + "中")
        elif self.bad == "source":
            source = "群众来信"
        elif self.bad == "item":
            item = "XK" + item[2:]
        elif self.bad == "date":
            if reg_date:
                reg_date = "2026-13-45"
            else:
                status = "不予立案中"
        fields = [self.id, source, self.cause, item, self.party_type, self.party_name, party_id,
                  self.phone, self.place, reg_date, status, self.street,
                  self.decision_no if decided else "", fine, close_date,
                  _local(upd_ms).strftime("%Y-%m-%d %H:%M:%S")]
        info = {"version": _rfc3339(upd_ms), "status_native": status, "update_ms": upd_ms}
        return fields, info


class EnforcementSim:
    def __init__(self, ctx):
        self.ctx = ctx
        self.args = a = ctx.args
        self.dir = Path(a.dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.manifest = Path(a.manifest) if a.manifest else self.dir.parent / "enforcement-sim-files.jsonl"
        self.rng = ctx.rng("exporter")
        self.cases: dict[str, Case] = {}
        self.interval_ms = max(1, int(a.export_every * 1000))
        now = ctx.clock.now_ms()
        self.last_run_ms = now
        self.next_run_ms = (now // self.interval_ms + 1) * self.interval_ms
        self.used_names: set[str] = set()
        self.decision_serial: dict[int, int] = {}
        self.reexports: list[tuple[str, list]] = []  # (stamp, rows) waiting for the next run
        self.slow: list[tuple[float, Path, bytes]] = []  # (real time, path, rest of the bytes)
        self.tmps: list[tuple[int, Path]] = []  # orphan .tmp files and their sim creation time

    def next_decision_no(self, ms: int) -> str:
        y = _local(ms).year
        self.decision_serial[y] = self.decision_serial.get(y, 0) + 1
        return f"秦综执罚决字〔{y}〕第{self.decision_serial[y]:05d}号"

    def name_for(self, stamp: str) -> str:
        k = 1
        while f"ZFAJ_{stamp}_{k:03d}.csv" in self.used_names:
            k += 1
        name = f"ZFAJ_{stamp}_{k:03d}.csv"
        self.used_names.add(name)
        return name

    def note(self, **info) -> None:
        with open(self.manifest, "a", encoding="utf-8") as f:
            f.write(json.dumps(info, ensure_ascii=False) + "\n")

    # -- the export run ------------------------------------------------------------------------
    def export_run(self, run_ms: int) -> None:
        a = self.args
        changed = []
        for c in self.cases.values():
            st = c.state_at(run_ms)
            if st and self.last_run_ms < st[0] <= run_ms:
                changed.append((st[0], c.id, c))
        late = int(self.rng.uniform(0, max(0.0, min(a.late_max, a.export_every / 5))) * 1000)
        stamp = _local(run_ms + late).strftime("%Y%m%d%H%M%S")
        # Re-exports of earlier incomplete files come first (they carry the older period).
        for rstamp, rows in self.reexports:
            self.write_file(self.name_for(rstamp), rows, v40=False, kind="reexport")
        self.reexports.clear()
        self.last_run_ms = run_ms
        if not changed:
            return
        changed.sort(key=lambda t: (t[0], t[1]))
        for i in range(0, len(changed), max(1, a.max_rows)):
            chunk = [c for _, _, c in changed[i:i + a.max_rows]]
            self.write_file(self.name_for(stamp), [(c, run_ms) for c in chunk],
                            v40=self.rng.random() < a.p_utf8, kind="regular", stamp=stamp)

    def write_file(self, name: str, rows: list, v40: bool, kind: str, stamp: str | None = None) -> None:
        a = self.args
        spreadsheet = kind == "reexport"
        lines = [",".join(COLUMNS)]
        infos = []
        for case, at_ms in rows:
            fields, info = case.row(at_ms, v40, spreadsheet)
            lines.append(",".join(_csv_field(f) for f in fields))
            infos.append((case, info))
        incomplete = kind == "regular" and self.rng.random() < a.p_incomplete and rows
        text_rows = lines[1:]
        flavour = None
        if incomplete:
            flavour = "wrong_count" if self.rng.random() < 0.25 else "truncated"
            if flavour == "wrong_count":
                body = "\r\n".join(lines) + f"\r\n#END,{len(text_rows) + 1}\r\n"
            else:
                keep = "\r\n".join(lines)
                cut = self.rng.randint(len(lines[0]) + 2 + len(text_rows[0]) // 2, len(keep) - 1) \
                    if len(keep) - 1 > len(lines[0]) + 2 + len(text_rows[0]) // 2 else len(keep) - 1
                body = keep[:cut]
            self.reexports.append((stamp, [(c, at) for c, at in rows]))
        else:
            body = "\r\n".join(lines) + f"\r\n#END,{len(text_rows)}\r\n"
            if not v40 and self.rng.random() < a.p_blank_after_trailer:
                body += "\r\n"
        data = (b"\xef\xbb\xbf" + body.encode("utf-8")) if v40 else body.encode("gb18030")
        final = self.dir / name
        slow = not incomplete and self.rng.random() < a.p_slow_copy
        if not incomplete and self.rng.random() < a.p_orphan_tmp:
            orphan = self.dir / (name + ".tmp")
            orphan.write_bytes(data[: max(1, len(data) // 2)])
            self.tmps.append((self.ctx.clock.now_ms(), orphan))
            # The aborted run left its .tmp; the re-run writes the file under a new name.
            final = self.dir / self.name_for(stamp or name[5:19])
            name = final.name
        if slow:
            half = max(1, len(data) // 2)
            final.write_bytes(data[:half])
            self.slow.append((time.monotonic() + a.slow_delay, final, data[half:]))
        else:
            tmp = self.dir / (name + ".tmp")
            tmp.write_bytes(data)
            os.rename(tmp, final)
        truth_kind = "transport" if incomplete else None
        for case, info in infos:
            k = truth_kind or ("bad" if case.bad else "record")
            self.ctx.truth(case.report, case.id, kind=k, version=info["version"], file=name,
                           status_native=info["status_native"], reexport=spreadsheet)
        self.note(file=name, kind="incomplete" if incomplete else kind, flavour=flavour,
                  encoding="utf-8-bom" if v40 else "gb18030", rows=len(rows), slow=slow,
                  record_ids=[c.id for c, _ in infos])
        self.ctx.log(f"{name}: {len(rows)} rows ({'V4.0 UTF-8' if v40 else 'V3.2 GB18030'}, {kind}"
                     + (f", incomplete: {flavour}" if incomplete else "") + (", slow copy" if slow else "") + ")")

    def finish_slow(self) -> None:
        now = time.monotonic()
        rest = []
        for t, path, data in self.slow:
            if t <= now:
                with open(path, "ab") as f:
                    f.write(data)
            else:
                rest.append((t, path, data))
        self.slow = rest

    def expire_tmps(self, now_ms: int) -> None:
        keep = []
        for t, p in self.tmps:
            if now_ms - t > 3600_000:
                try:
                    p.unlink()
                except FileNotFoundError:
                    pass
            else:
                keep.append((t, p))
        self.tmps = keep

    def tick(self) -> None:
        now = self.ctx.clock.now_ms()
        for r in self.ctx.stream.due(now):
            c = Case(self, r)
            self.cases[c.id] = c
        while self.next_run_ms <= now:
            self.export_run(self.next_run_ms)
            self.next_run_ms += self.interval_ms
        self.finish_slow()
        self.expire_tmps(now)
        # Forget cases whose last step was exported long ago.
        if len(self.cases) > 5000:
            for cid in [cid for cid, c in self.cases.items() if c.timeline[-1][0] < self.last_run_ms]:
                del self.cases[cid]

    def done(self) -> bool:
        return (self.ctx.stream.exhausted() and not self.reexports and not self.slow and
                all(c.timeline[-1][0] <= self.last_run_ms for c in self.cases.values()))


def run(ctx) -> None:
    def on_term(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    sim = EnforcementSim(ctx)
    ctx.ready(dir=str(sim.dir), done=str(sim.dir / "done"), rejected=str(sim.dir / "rejected"),
              manifest=str(sim.manifest), export_every=ctx.args.export_every)
    ctx.log(f"enforcement exchange: export runs every {ctx.args.export_every} s (simulated) into {sim.dir}")
    announced = False
    while True:
        sim.tick()
        if not announced and sim.done():
            announced = True
            ctx.log("all cases exported")
        time.sleep(ctx.args.tick)

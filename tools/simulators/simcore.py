"""The simulated district shared by the five department simulators.

One *world* of incidents, deterministic for a seed: incident n happens at a fixed simulated time,
at a place taken from the district's reference data (config/qinhuai), with a category of the
common taxonomy, and is reported by one to three department systems (a system reports it only
when its own code list has a code for that category). Each simulator process builds the same
world from the same arguments and serves the reports of its own system, so an incident reported
by 12345 and by 数字城管 appears in both simulators without them talking to each other.

Some incidents are deliberate near misses of an earlier one (same category next door, same place
with another problem, same place a week later): the ground truth tells them apart, which is what
the correlation issue measures against.

Time: simulated epoch milliseconds. sim_now = sim_start + (wall_now - wall_start) * speed; give
every simulator of one run the same --sim-start/--wall-start (tools/simulators/run-all does).
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import heapq
import json
import math
import os
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_REF = HERE.parent.parent / "config" / "qinhuai"
BEIJING = timezone(timedelta(hours=8))

SYSTEMS = ("dcm", "hotline12345", "enforcement", "police", "gridapp")
# Mapping keys of categories.json per system.
SCHEMES = {
    "dcm": ("dcm.event", "dcm.component"),
    "hotline12345": ("hotline12345.wtfl",),
    "enforcement": ("enforcement.zfsx",),
    "police": ("police.bjxl",),
    "gridapp": ("gridapp.category",),
}
# How often each system is the first to hear of an incident it can report.
PRIMARY_WEIGHT = {"dcm": 30, "hotline12345": 30, "gridapp": 25, "enforcement": 8, "police": 7}
# GPS / pin noise of each system's reported position, metres (12345 callers rarely give one).
NOISE_M = {"dcm": 8, "hotline12345": 60, "enforcement": 30, "police": 40, "gridapp": 12}
# Transfers the documents describe: (from, to) -> probability that the later report is one.
TRANSFERS = {("police", "hotline12345"): 0.6, ("hotline12345", "dcm"): 0.4,
             ("hotline12345", "enforcement"): 0.3, ("dcm", "enforcement"): 0.3}

MULTI_SHARE = 0.22      # incidents reported by more than one system
NEAR_MISS_SHARE = 0.10  # incidents that imitate an earlier one
WEEK_MS = 7 * 24 * 3600 * 1000


# ---- time ----------------------------------------------------------------------------------

def fmt_local(ms: int, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """Beijing local time of an epoch-ms instant, e.g. '2026-03-09 11:20:00'."""
    return datetime.fromtimestamp(ms / 1000, BEIJING).strftime(fmt)


def rfc3339(ms: int) -> str:
    d = datetime.fromtimestamp(ms / 1000, BEIJING)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + ".%03d+08:00" % (ms % 1000)


def parse_time_arg(text: str) -> int:
    """Epoch ms from digits, or from 'YYYY-MM-DD[ HH:MM[:SS]]' Beijing time."""
    if text.isdigit():
        return int(text)
    for f in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return int(datetime.strptime(text, f).replace(tzinfo=BEIJING).timestamp() * 1000)
        except ValueError:
            pass
    raise argparse.ArgumentTypeError(f"not a time: {text!r} (epoch ms or 'YYYY-MM-DD HH:MM:SS')")


class Clock:
    def __init__(self, sim_start_ms: int, wall_start_ms: int, speed: float):
        self.sim_start = sim_start_ms
        self.wall_start = wall_start_ms
        self.speed = speed

    def now_ms(self) -> int:
        return self.sim_start + int((time.time() * 1000 - self.wall_start) * self.speed)

    def wall_seconds_until(self, sim_ms: int) -> float:
        return max(0.0, (sim_ms - self.now_ms()) / self.speed / 1000.0)


# ---- coordinates ---------------------------------------------------------------------------

_A = 6378245.0
_EE = 0.00669342162296594323


def _out_of_china(lon, lat):
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _tlat(x, y):
    r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    r += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return r


def _tlon(x, y):
    r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    r += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return r


def wgs84_to_gcj02(lon: float, lat: float):
    """The published GCJ-02 obfuscation (what Chinese map SDKs return)."""
    if _out_of_china(lon, lat):
        return lon, lat
    dlat = _tlat(lon - 105.0, lat - 35.0)
    dlon = _tlon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(radlat) ** 2
    sq = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sq) * math.pi)
    dlon = (dlon * 180.0) / (_A / sq * math.cos(radlat) * math.pi)
    return lon + dlon, lat + dlat


def wgs84_to_bd09(lon: float, lat: float):
    x, y = wgs84_to_gcj02(lon, lat)
    z = math.sqrt(x * x + y * y) + 0.00002 * math.sin(y * math.pi * 3000.0 / 180.0)
    t = math.atan2(y, x) + 0.000003 * math.cos(x * math.pi * 3000.0 / 180.0)
    return z * math.cos(t) + 0.0065, z * math.sin(t) + 0.006


_to4549 = None


def to_epsg4549(lon: float, lat: float):
    """CGCS2000 / 3-degree Gauss-Kruger CM 120E (easting, northing in metres), via PROJ."""
    global _to4549
    if _to4549 is None:
        from pyproj import Transformer  # python3-pyproj
        _to4549 = Transformer.from_crs("EPSG:4490", "EPSG:4549", always_xy=True)
    return _to4549.transform(lon, lat)


def offset_m(lon: float, lat: float, east_m: float, north_m: float):
    return (lon + east_m / (111320.0 * math.cos(math.radians(lat))), lat + north_m / 110540.0)


def distance_m(lon1, lat1, lon2, lat2) -> float:
    dx = (lon2 - lon1) * 111320.0 * math.cos(math.radians((lat1 + lat2) / 2))
    dy = (lat2 - lat1) * 110540.0
    return math.hypot(dx, dy)


# ---- reference data ------------------------------------------------------------------------

def _point_in_ring(x, y, ring) -> bool:
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i][0], ring[i][1]
        xj, yj = ring[j][0], ring[j][1]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi + 1e-300) + xi:
            inside = not inside
        j = i
    return inside


class Reference:
    def __init__(self, ref_dir: Path):
        self.dir = ref_dir
        load = lambda n: json.loads((ref_dir / n).read_text(encoding="utf-8"))
        self.categories = load("categories.json")
        self.divisions = load("divisions.json")
        self.gazetteer = load("gazetteer.json")
        self.departments = load("departments.json")
        self.streets = {s["code"]: s for s in self.divisions["streets"]}
        self.communities = {c["code"]: c for c in self.divisions["communities"]}
        self.category = {c["code"]: c for c in self.categories["categories"]}
        # system -> category code -> [(scheme, entry)]
        self.codes: dict[str, dict[str, list]] = {s: {} for s in SYSTEMS}
        for system, schemes in SCHEMES.items():
            for scheme in schemes:
                for e in self.categories["mappings"][scheme]["entries"]:
                    self.codes[system].setdefault(e["code"], []).append((scheme, e))
        self.reportable = sorted(c for c in self.category
                                 if any(c in self.codes[s] for s in SYSTEMS))
        self.roads = [g for g in self.gazetteer if g["type"] == "road"]
        self.places = [g for g in self.gazetteer if g["type"] != "road"]
        grids = []
        for f in json.loads((ref_dir / "grid-map.geojson").read_text(encoding="utf-8"))["features"]:
            p = f["properties"]
            if p["layer"] != "grid":
                continue
            ring = f["geometry"]["coordinates"][0]
            xs = [c[0] for c in ring]
            ys = [c[1] for c in ring]
            grids.append((min(xs), min(ys), max(xs), max(ys), ring, p["code"], p["parent"]))
        self.grids = grids

    def grid_at(self, lon: float, lat: float):
        """(grid code, community code) of the comprehensive grid containing the point, or None."""
        for x0, y0, x1, y1, ring, code, parent in self.grids:
            if x0 <= lon <= x1 and y0 <= lat <= y1 and _point_in_ring(lon, lat, ring):
                return code, parent
        return None


# ---- Chinese text --------------------------------------------------------------------------

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国建华志强晓东玉兰海燕春梅红梅文斌宏伟立新永红淑珍凤英"
DOUBLE_SURNAMES = ["欧阳", "司马", "诸葛", "上官"]

FAMILY_TEXT = {
    "city_appearance": ["{thing}已经好几天没人管了，路过的人都捂着鼻子走", "{thing}越来越多，影响周边环境，希望尽快清理",
                        "{thing}堆在路边，天热了有异味，还招苍蝇"],
    "environment": ["{thing}，气味很大，晚上窗户都不敢开", "{thing}问题反复出现，居民意见很大"],
    "water": ["{thing}，下雨后更严重，行人只能绕行", "{thing}，水一直往外冒，附近居民很担心"],
    "roads_traffic": ["{thing}，老人小孩经过很危险", "{thing}，已经有电动车在这里摔倒了"],
    "housing_property": ["{thing}，跟物业反映多次没有解决", "{thing}，楼里住户都受影响"],
    "market_food": ["{thing}，占了一半人行道，早晚高峰走不过去", "{thing}，卫生状况很差，请有关部门管一管"],
    "public_safety": ["{thing}，存在安全隐患，请尽快处理", "{thing}，晚上看不清，担心出事"],
    "fire_safety": ["{thing}，万一着火后果不堪设想", "{thing}，消防通道被堵，请尽快处理"],
    "utilities": ["{thing}，已经好几天了，影响出行", "{thing}，晚上路过很危险"],
    "greening": ["{thing}，树枝挡住了路灯和窗户", "{thing}，绿化带被破坏得很严重"],
    "construction": ["{thing}，施工没有围挡，灰尘很大", "{thing}，不知道有没有审批，请核实"],
    "social_services": ["{thing}，希望社区能帮忙协调", "{thing}，家里老人行动不便，请社区关心一下"],
    "tourism_culture": ["{thing}，游客很多，秩序比较乱", "{thing}，影响景区形象"],
    "noise": ["{thing}，每天晚上十点以后还很吵，严重影响休息", "{thing}，孩子马上要考试了，实在受不了"],
    "dispute": ["{thing}，双方争执不下，希望有关部门调解", "{thing}，已经吵了好几次了，怕出事"],
    "other": ["{thing}，不知道该找哪个部门，请帮忙处理", "{thing}，希望有人来看一下"],
}
URGE = ["请尽快处理。", "希望相关部门尽快解决。", "麻烦派人来看一下。", "谢谢！", "已经反映过一次了，还是没人管。", ""]


def _person(rng: random.Random) -> dict:
    if rng.random() < 0.02:
        surname = rng.choice(DOUBLE_SURNAMES)
    else:
        surname = rng.choice(SURNAMES)
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
    mobile = "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))
    fixed = "025-8" + "".join(rng.choice("0123456789") for _ in range(7))
    birth = datetime(1950, 1, 1) + timedelta(days=rng.randrange(0, 365 * 55))
    body = "320104" + birth.strftime("%Y%m%d") + "%03d" % rng.randrange(1, 999)
    return {"name": surname + given, "mobile": mobile, "phone_fixed": fixed,
            "id_number": body + resident_id_check(body)}


def resident_id_check(body17: str) -> str:
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(c) * k for c, k in zip(body17, w)) % 11]


# ---- the world -----------------------------------------------------------------------------

@dataclass
class Report:
    """One incident as one system received it. Raw personal data in `person`: the simulator
    serves it as a department system would, the adapter must mask it."""
    incident_id: str
    n: int
    system: str
    reported_ms: int
    lon: float
    lat: float
    rep_lon: float
    rep_lat: float
    precision_m: float
    street_code: str
    street_name: str
    community_code: str
    community_name: str
    grid_code: str
    road: str
    house_no: int
    poi: str | None
    address: str
    category: str
    family: str
    native_code: str
    native_name: str
    scheme: str
    title: str
    description: str
    person: dict
    priority: str
    stages: list
    transfer_from: tuple | None
    near_miss_of: str | None
    near_miss_kind: str | None
    rng: random.Random
    _ids: dict = field(default_factory=dict, repr=False)

    def native_id(self, system: str) -> str:
        """The native id of this incident's record in `system` (formats of the documents)."""
        ms = self._ids.get(system, self.reported_ms)
        return native_id(system, self.n, ms)

    def truth(self) -> dict:
        return {"incident": self.incident_id, "system": self.system, "n": self.n,
                "category": self.category, "lon": round(self.lon, 7), "lat": round(self.lat, 7),
                "street_code": self.street_code, "community_code": self.community_code,
                "grid_code": self.grid_code, "reported_ms": self.reported_ms,
                "native_code": self.native_code, "scheme": self.scheme,
                "near_miss_of": self.near_miss_of, "near_miss_kind": self.near_miss_kind,
                "transfer_from": list(self.transfer_from) if self.transfer_from else None}


def native_id(system: str, n: int, ms: int) -> str:
    serial = "%06d" % (n % 1_000_000)
    if system == "dcm":
        return fmt_local(ms, "%y%m%d") + serial
    if system == "hotline12345":
        return "NJ" + fmt_local(ms, "%Y%m%d") + serial
    if system == "enforcement":
        return "ZF320104" + fmt_local(ms, "%Y") + serial
    if system == "police":
        return "320100" + fmt_local(ms, "%Y%m%d") + serial
    if system == "gridapp":
        return "WG" + fmt_local(ms, "%Y%m%d") + serial
    raise ValueError(system)


def _seeded(*keys) -> random.Random:
    h = hashlib.sha256(":".join(str(k) for k in keys).encode()).digest()
    return random.Random(int.from_bytes(h[:8], "big"))


class World:
    def __init__(self, ref: Reference, seed: int, sim_start_ms: int, rate_per_min: float,
                 count: int | None = None):
        self.ref = ref
        self.seed = seed
        self.start = sim_start_ms
        self.interval_ms = 60000.0 / rate_per_min
        self.count = count
        self._cache: dict[int, dict] = {}
        self._meta_cache: dict[int, dict] = {}

    def time_of(self, n: int) -> int:
        return self.start + int(n * self.interval_ms)

    # Meta (cheap): category, reporters and their delays; no geography.
    def _meta(self, n: int) -> dict:
        m = self._meta_cache.get(n)
        if m is None:
            if len(self._meta_cache) > 65536:
                self._meta_cache.clear()
            m = self._meta_cache[n] = self._make_meta(n)
        return m

    def _make_meta(self, n: int) -> dict:
        rng = _seeded(self.seed, "meta", n)
        ref = self.ref
        near = None
        if n > 0 and rng.random() < NEAR_MISS_SHARE:
            kind = rng.choice(("next_door", "other_problem", "week_later"))
            if kind == "week_later":
                j = n - int(round(WEEK_MS / self.interval_ms))
            else:
                j = n - rng.randint(1, min(n, 40))
            if j >= 0:
                near = (j, kind)
        if near and near[1] != "other_problem":
            category = self._meta(near[0])["category"]
        else:
            category = rng.choice(ref.reportable)
            if near:  # another problem at the same place
                fam = ref.category[self._meta(near[0])["category"]]["family"]
                options = [c for c in ref.reportable if c != self._meta(near[0])["category"]
                           and ref.category[c]["family"] == fam] or ref.reportable
                category = rng.choice(options)
        can = [s for s in SYSTEMS if category in ref.codes[s]]
        primary = rng.choices(can, weights=[PRIMARY_WEIGHT[s] for s in can])[0]
        reporters = [(primary, 0)]
        others = [s for s in can if s != primary]
        if others and rng.random() < MULTI_SHARE:
            k = 1 if len(others) == 1 or rng.random() < 0.7 else 2
            for s in rng.sample(others, k):
                reporters.append((s, rng.randint(60_000, 45 * 60_000)))
        return {"category": category, "reporters": reporters, "near": near}

    def incident(self, n: int) -> dict:
        if n in self._cache:
            return self._cache[n]
        meta = self._meta(n)
        rng = _seeded(self.seed, "place", n)
        ref = self.ref
        near = meta["near"]
        if near:
            base = self.incident(near[0])
            if near[1] == "next_door":
                for _ in range(12):  # next door, but still inside the district
                    ang = rng.uniform(0, 2 * math.pi)
                    d = rng.uniform(120, 260)
                    lon, lat = offset_m(base["lon"], base["lat"], d * math.cos(ang), d * math.sin(ang))
                    if ref.grid_at(lon, lat):
                        break
            else:
                lon, lat = offset_m(base["lon"], base["lat"], rng.uniform(-10, 10), rng.uniform(-10, 10))
        else:
            for _ in range(20):
                anchor = rng.choice(ref.roads if rng.random() < 0.7 else ref.places)
                lon, lat = offset_m(anchor["lon"], anchor["lat"], rng.uniform(-60, 60), rng.uniform(-60, 60))
                if ref.grid_at(lon, lat):
                    break
        hit = ref.grid_at(lon, lat)
        grid, community = hit if hit else ("", "")
        street = community[:9] if community else ""
        # The nearest road and place give the address text.
        road = min(ref.roads, key=lambda r: distance_m(lon, lat, r["lon"], r["lat"]))
        place = min(ref.places, key=lambda r: distance_m(lon, lat, r["lon"], r["lat"]))
        hn = road.get("house_numbers") or {"from": 1, "to": 200}
        house = rng.randint(hn["from"], max(hn["from"], hn["to"]))
        poi = place["name"] if distance_m(lon, lat, place["lon"], place["lat"]) < 250 else None
        cat = ref.category[meta["category"]]
        inc = {"n": n, "id": "I%d-%06d" % (self.seed, n), "t": self.time_of(n), "lon": lon,
               "lat": lat, "grid": grid, "community": community, "street": street,
               "road": road["name"], "house": house, "poi": poi, "category": meta["category"],
               "family": cat["family"], "priority": cat.get("default_priority", "general"),
               "reporters": meta["reporters"], "near": near}
        if rng.random() < 0.08:
            inc["priority"] = "larger"
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[n] = inc
        return inc

    def report(self, n: int, system: str) -> Report | None:
        inc = self.incident(n)
        delays = dict(inc["reporters"])
        if system not in delays:
            return None
        ref = self.ref
        rng = _seeded(self.seed, "report", n, system)
        t = inc["t"] + delays[system]
        ids = {s: inc["t"] + d for s, d in inc["reporters"]}
        scheme, entry = rng.choice(ref.codes[system][inc["category"]])
        noise = NOISE_M[system]
        rl, ra = offset_m(inc["lon"], inc["lat"], rng.gauss(0, noise), rng.gauss(0, noise))
        street = ref.streets.get(inc["street"], {"name": ""})
        comm = ref.communities.get(inc["community"], {"name": "", "short_name": ""})
        where = inc["road"] + "%d号" % inc["house"]
        if inc["poi"] and rng.random() < 0.5:
            where = inc["poi"] + rng.choice(("门口", "附近", "东侧", "北门", "对面"))
        address = where if where.startswith("秦淮区") else "秦淮区" + street["name"] + where
        thing_name = entry["name"]
        thing = (where + rng.choice(("有", "出现", "发现")) + thing_name)
        text = rng.choice(FAMILY_TEXT.get(inc["family"], FAMILY_TEXT["other"])).format(thing=thing)
        description = text + "，" + rng.choice(URGE) if rng.random() < 0.8 else text + "。"
        description = description.rstrip("，")
        # Lifecycle: each system's own pace, relative to its report.
        stages = []
        s = t
        fate = rng.random()
        for stage, lo, hi in (("registered", 2, 30), ("dispatched", 5, 90), ("accepted", 5, 60),
                              ("in_progress", 10, 240), ("resolved", 30, 1440),
                              ("verified", 30, 720), ("closed", 30, 1440)):
            s += rng.randint(lo, hi) * 60_000
            stages.append((s, stage))
            if fate < 0.05 and stage == "registered":
                stages.append((s + rng.randint(5, 60) * 60_000, "rejected"))
                break
            if 0.05 <= fate < 0.08 and stage == "dispatched":
                stages.append((s + rng.randint(5, 60) * 60_000, "cancelled"))
                break
        transfer = None
        for src, d in inc["reporters"]:
            if d < delays[system] and (src, system) in TRANSFERS and \
                    _seeded(self.seed, "transfer", n, src, system).random() < TRANSFERS[(src, system)]:
                transfer = (src, native_id(src, n, ids[src]))
                break
        near = inc["near"]
        return Report(
            incident_id=inc["id"], n=n, system=system, reported_ms=t, lon=inc["lon"], lat=inc["lat"],
            rep_lon=rl, rep_lat=ra, precision_m=float(noise), street_code=inc["street"],
            street_name=street["name"], community_code=inc["community"],
            community_name=comm["name"], grid_code=inc["grid"], road=inc["road"],
            house_no=inc["house"], poi=inc["poi"], address=address, category=inc["category"],
            family=inc["family"], native_code=entry["native"], native_name=entry["name"],
            scheme=scheme, title=(inc["poi"] or inc["road"]) + thing_name, description=description,
            person=_person(rng), priority=inc["priority"], stages=stages, transfer_from=transfer,
            near_miss_of=("I%d-%06d" % (self.seed, near[0])) if near else None,
            near_miss_kind=near[1] if near else None, rng=rng, _ids=ids)

    def share(self, system: str, sample: int = 2000) -> float:
        """Expected reports of `system` per incident."""
        hits = sum(1 for n in range(sample) for s, _ in self._meta(n)["reporters"] if s == system)
        return max(hits / sample, 1e-6)


class Stream:
    """The reports of one system in the order the system receives them."""

    MAX_DELAY_MS = 45 * 60_000 + 1

    def __init__(self, world: World, system: str):
        self.world = world
        self.system = system
        self.next_n = 0
        self.heap: list = []
        self.delivered = 0

    def due(self, now_ms: int) -> list[Report]:
        w = self.world
        while (w.count is None or self.next_n < w.count) and w.time_of(self.next_n) <= now_ms:
            n = self.next_n
            self.next_n += 1
            for s, d in w._meta(n)["reporters"]:
                if s == self.system:
                    heapq.heappush(self.heap, (w.time_of(n) + d, n))
        out = []
        while self.heap and self.heap[0][0] <= now_ms:
            _, n = heapq.heappop(self.heap)
            out.append(w.report(n, self.system))
        self.delivered += len(out)
        return out

    def exhausted(self) -> bool:
        w = self.world
        return w.count is not None and self.next_n >= w.count and not self.heap


# ---- the process around a simulator ------------------------------------------------------------

class Context:
    def __init__(self, dept: str, args: argparse.Namespace):
        self.dept = dept
        self.args = args
        self.ref = Reference(Path(args.reference))
        self.clock = Clock(args.sim_start, args.wall_start, args.speed)
        probe = World(self.ref, args.seed, args.sim_start, 1.0)
        if args.rate is not None:
            args.world_rate = args.rate / probe.share(dept)
        self.world = World(self.ref, args.seed, args.sim_start, args.world_rate, args.count)
        self.stream = Stream(self.world, dept)
        self.records_per_min = args.world_rate * probe.share(dept)
        self._truth_lock = threading.Lock()
        self._truth = open(args.truth, "a", encoding="utf-8") if args.truth else None

    def log(self, msg: str) -> None:
        print(f"{datetime.now().strftime('%H:%M:%S.%f')[:-3]} casehub-sim {self.dept}: {msg}",
              flush=True)

    def rng(self, *keys) -> random.Random:
        return _seeded(self.args.seed, self.dept, *keys)

    def truth(self, report: Report | None, record_id: str, kind: str = "record", **extra) -> None:
        line = report.truth() if report is not None else {"system": self.dept}
        line.update({"record_id": record_id, "kind": kind})
        line.update(extra)
        if self._truth is None:
            return
        with self._truth_lock:
            self._truth.write(json.dumps(line, ensure_ascii=False) + "\n")
            self._truth.flush()

    def ready(self, **info) -> None:
        info.update({"dept": self.dept, "pid": os.getpid(),
                     "records_per_minute": round(self.records_per_min, 3)})
        self.log("ready " + json.dumps(info, ensure_ascii=False))
        if self.args.ready_file:
            tmp = self.args.ready_file + ".tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(info, f, ensure_ascii=False)
            os.replace(tmp, self.args.ready_file)


def add_common_arguments(p: argparse.ArgumentParser) -> None:
    now = int(time.time() * 1000)
    g = p.add_argument_group("world (give every simulator of one run the same values)")
    g.add_argument("--seed", type=int, default=1, help="world seed (default 1)")
    g.add_argument("--world-rate", type=float, default=30.0,
                   help="incidents per simulated minute in the whole district (default 30)")
    g.add_argument("--rate", type=float, default=None,
                   help="this system's records per simulated minute (sets --world-rate)")
    g.add_argument("--count", type=int, default=None, help="incidents in the world (default: endless)")
    g.add_argument("--sim-start", type=parse_time_arg, default=now,
                   help="simulated time of the first incident: epoch ms or 'YYYY-MM-DD HH:MM:SS' (default now)")
    g.add_argument("--wall-start", type=int, default=now,
                   help="wall-clock epoch ms at which simulated time is --sim-start (default now)")
    g.add_argument("--speed", type=float, default=1.0, help="simulated seconds per wall second")
    g.add_argument("--reference", default=str(DEFAULT_REF), help="reference data folder")
    g = p.add_argument_group("process")
    g.add_argument("--truth", default=None, help="append ground truth (JSON lines) to this file")
    g.add_argument("--ready-file", default=None,
                   help="write this JSON file (port, dirs...) once serving")

"""One simulated district on this machine: the five department simulators and casehubd, started
on free ports in a work folder, configured from config/casehub.toml. Shared by the tools that
need a whole running world (tools/correlation-eval, tools/simulate-year). Standard library only.

    from world import Failure, Procs, find_build, free_port, wait_ready, hub_config
"""

from __future__ import annotations

import ctypes
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
SIMS = REPO / "tools" / "simulators"
SYSTEMS = ("dcm", "hotline12345", "enforcement", "police", "gridapp")
DEMO_PORTS = {18401, 18402, 18405, 18415}  # the README's demo: never taken by a test world
BEIJING = dt.timezone(dt.timedelta(hours=8))

PROGRAM = "world"  # the prefix of log lines: set by the tool that imports this


class Failure(Exception):
    """The run cannot go on: message for the user, exit 2."""


def log(msg: str) -> None:
    print(f"{PROGRAM}: {msg}", file=sys.stderr, flush=True)


_libc = None


def _child_setup():
    """In the child: its own process group (our Ctrl-C is ours to pass on), and SIGTERM when
    this program dies, however it dies."""
    os.setpgrp()
    try:
        _libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Procs:
    def __init__(self):
        self.procs: list[tuple[str, subprocess.Popen, Path]] = []

    def start(self, name: str, cmd: list[str], logfile: Path, cwd=None) -> subprocess.Popen:
        global _libc
        if _libc is None:
            try:
                _libc = ctypes.CDLL(None, use_errno=True)
            except OSError:
                _libc = False
        out = open(logfile, "ab")
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             preexec_fn=_child_setup, cwd=cwd)
        out.close()
        self.procs.append((name, p, logfile))
        return p

    def check(self) -> None:
        for name, p, logfile in self.procs:
            if p.poll() is not None:
                raise Failure(f"{name} exited with {p.returncode}; last lines of {logfile}:\n" + tail(logfile))

    def stop(self, names=None, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `timeout` seconds; in the order given."""
        sel = [t for t in self.procs if names is None or t[0] in names]
        for name, p, _ in sel:
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout
        for name, p, _ in sel:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log(f"{name} did not stop within {timeout:g} s: killed")
                p.kill()
                p.wait()


def tail(path: Path, n: int = 15) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join("    " + l for l in lines[-n:])


def free_port() -> int:
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in DEMO_PORTS:
            return port
    raise Failure("no free port")


def wait_ready(files: dict[str, Path], procs: Procs, timeout: float = 60.0) -> dict[str, dict]:
    """The simulators' ready files (their ports), once all exist."""
    out = {}
    deadline = time.monotonic() + timeout
    while len(out) < len(files):
        procs.check()
        for name, f in files.items():
            if name not in out and f.exists():
                try:
                    out[name] = json.loads(f.read_text(encoding="utf-8"))
                except ValueError:
                    pass
        if time.monotonic() > deadline:
            raise Failure(f"simulators not ready after {timeout:g} s: {sorted(set(files) - set(out))}")
        time.sleep(0.1)
    return out


def find_build(build: Path) -> tuple[Path, Path]:
    """casehubd (with casehub-runner beside it) and the plugins folder of a build."""
    build = build.resolve()
    cands = [build / "bin" / "casehubd", build / "host" / "daemon" / "casehubd"]
    daemon = next((c for c in cands if c.is_file() and os.access(c, os.X_OK)), None)
    if daemon is None:
        found = sorted(build.glob("**/casehubd"))
        daemon = next((c for c in found if c.is_file() and os.access(c, os.X_OK)), None)
    if daemon is None:
        raise Failure(f"no casehubd under {build} (build it: cmake --build {build}; or pass --build DIR)")
    if not (daemon.parent / "casehub-runner").exists():
        raise Failure(f"no casehub-runner next to {daemon}")
    plugins = build / "plugins"
    lacking = [s for s in SYSTEMS if not (plugins / f"{s}.so").exists()]
    if lacking:
        raise Failure(f"{plugins}: no plugin for {', '.join(lacking)} (build the adapters)")
    return daemon, plugins


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(k, ensure_ascii=False)} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def toml_table(d: dict, inline_tables: bool = False) -> list[str]:
    """key = value lines; sub-tables are skipped (written as their own sections by the caller)
    unless inline_tables."""
    return [f"{k} = {toml_value(v)}" for k, v in d.items() if inline_tables or not isinstance(v, dict)]


def hub_config(work: Path, plugins: Path, ports: dict, sim_start_ms: int, *, log_level: str = "info",
               synchronous: str = "normal", sections: dict | None = None) -> Path:
    """config/casehub.toml with its addresses, ports and folders pointed at this run. `sections`
    replace or add whole top-level tables (e.g. {"command": {...}, "http": {"enabled": False}})."""
    base = tomllib.loads((REPO / "config" / "casehub.toml").read_text(encoding="utf-8"))
    ref = REPO / "config" / "qinhuai"
    cats = str(ref / "categories.json")
    hub = dict(base.get("hub", {}))
    hub.update({"data_dir": str(work / "hub"), "plugin_path": [str(plugins)],
                "reference_dir": str(ref), "log_level": log_level, "synchronous": synchronous})
    for k in ("intake_endpoint", "control_endpoint", "feed_endpoint", "snapshot_endpoint"):
        hub.pop(k, None)  # defaults: ipc:// sockets under data_dir
    start = sim_start_ms - 24 * 3600_000  # well before the first incident, whatever the clocks do
    start_local = dt.datetime.fromtimestamp(start / 1000, BEIJING)
    per = {
        "dcm": {"base_url": f"http://127.0.0.1:{ports['dcm']}", "start_from": start_local.strftime("%Y-%m-%d %H:%M:%S"),
                "poll_interval_ms": 1000},
        "hotline12345": {"base_url": f"http://127.0.0.1:{ports['hotline12345']}",
                         "initial_updated_after": start_local.isoformat(timespec="seconds"),
                         "poll_interval_ms": 1000},
        "enforcement": {"dir": str(work / "exchange" / "enforcement"), "scan_interval_ms": 500,
                        "incomplete_grace_s": 10},
        "police": {"exchange_dir": str(work / "exchange" / "police"), "scan_interval_ms": 500},
        "gridapp": {"listen_port": ports["webhook"], "app_base_url": f"http://127.0.0.1:{ports['gridapp']}",
                    "catchup_interval_s": 10},
    }
    lines = [f"# generated by {PROGRAM} from config/casehub.toml", "", "[hub]"]
    lines += toml_table(hub)
    # [correlation] too: what a run measures is the configuration, not the compiled defaults.
    tables = {s: base[s] for s in ("supervisor", "flow", "correlation") if s in base}
    tables.update(sections or {})
    for section, values in tables.items():
        lines += ["", f"[{section}]"] + toml_table(values, inline_tables=True)
    seen = set()
    for a in base.get("adapters", []):
        aid = a.get("id")
        if aid not in per:
            continue
        seen.add(aid)
        conf = dict(a.get("config", {}))
        conf.update(per[aid])
        conf.setdefault("categories_file", cats)
        lines += ["", "[[adapters]]"] + toml_table({k: v for k, v in a.items() if k != "config"})
        lines += ["[adapters.config]"] + toml_table(conf)
    if seen != set(SYSTEMS):
        raise Failure(f"config/casehub.toml lacks adapters {sorted(set(SYSTEMS) - seen)}")
    path = work / "casehub.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def store_name(cfg: Path) -> str:
    hub = tomllib.loads(cfg.read_text(encoding="utf-8")).get("hub", {})
    return hub.get("store", "casehub.db")


def start_simulators(procs: Procs, work: Path, world: list[str], *, sim_args: dict | None = None,
                     retry_scale: float = 1.0) -> tuple[dict, dict]:
    """The five simulators of one world (`world`: the shared --seed/--world-rate/... options),
    with their exchange folders under `work`. Returns (ports incl. the hub's webhook port,
    truth files)."""
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    ports = {"webhook": free_port()}
    ex = work / "exchange"
    per = {
        "dcm": ["--port", "0"],
        "hotline12345": ["--port", "0"],
        "enforcement": ["--dir", str(ex / "enforcement")],
        "police": ["--dir", str(ex / "police")],
        "gridapp": ["--port", "0", "--retry-scale", repr(retry_scale),
                    "--webhook-url", f"http://127.0.0.1:{ports['webhook']}/webhook/v1/events"],
    }
    for dept, extra in (sim_args or {}).items():
        per[dept] += extra
    truth = {s: work / f"{s}.truth.jsonl" for s in SYSTEMS}
    ready = {s: logs / f"{s}.ready" for s in SYSTEMS}
    for s in SYSTEMS:
        procs.start(f"simulator {s}", [sys.executable, str(SIMS / "casehub-sim"), s, *world,
                                       "--truth", str(truth[s]), "--ready-file", str(ready[s]), *per[s]],
                    logs / f"{s}.log")
    info = wait_ready(ready, procs)
    for s in ("dcm", "hotline12345", "gridapp"):
        ports[s] = info[s]["port"]
    return ports, truth

"""CPU and memory of processes, read from /proc (no psutil).

``Sampler`` reads a set of named process groups every ``interval`` seconds in a
thread: CPU seconds (utime+stime) and resident memory, plus the machine's total
busy CPU from /proc/stat, so that a window's figures are differences of samples.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process (all its threads), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2:].split()  # after "(comm)": field 3 onwards
    return (int(fields[11]) + int(fields[12])) / TICK  # fields 14 and 15 of stat(5)


def memory_kib(pid: int) -> tuple[int, int] | None:
    """(VmRSS, VmHWM) in KiB: resident now, and the peak since the process started."""
    try:
        with open(f"/proc/{pid}/status") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    values = {}
    for line in lines:
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, value = line.split(":", 1)
            values[key] = int(value.split()[0])
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores."""
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + parts[4]  # idle + iowait
    total = sum(parts[:8])  # without guest time, which is already in user
    return (total - idle) / TICK, total / TICK


def listener_pid(port: int) -> int | None:
    """The process listening on a local TCP port (e.g. the Kafka broker), or None."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(cols[9])
        except OSError:
            continue
    if not inodes:
        return None
    wanted = {f"socket:[{i}]" for i in inodes}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") in wanted:
                    return int(pid)
        except OSError:
            continue
    return None


@dataclass
class GroupSample:
    cpu: float  # CPU seconds, summed over the group's pids, as last seen
    rss_kib: int  # resident memory now, summed
    hwm_kib: int  # peak resident memory since start, summed (meaningful for one pid)


@dataclass
class Sampler:
    """Samples named groups of pids; ``groups`` gives {name: [pid, ...]} at each sample
    (called in the sampler's thread only, after the first sample)."""

    groups: Callable[[], dict[str, list[int]]]
    interval: float = 0.5
    samples: list[tuple[float, float, dict[str, GroupSample]]] = field(default_factory=list)
    # CPU last seen per pid, so a process that exits keeps its share.
    _last_cpu: dict[tuple[str, int], float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.pids_seen: set[int] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def sample(self) -> tuple[float, float, dict[str, GroupSample]]:
        now = time.monotonic()
        busy, _ = machine_cpu()
        try:
            groups = self.groups()
        except Exception:  # pids cannot be listed right now: keep what was last seen
            groups = {name: [] for (name, _) in self._last_cpu}
        out = {}
        for name, pids in groups.items():
            self.pids_seen.update(pids)
            rss = hwm = 0
            for pid in pids:
                cpu = cpu_seconds(pid)
                if cpu is not None:
                    self._last_cpu[(name, pid)] = cpu
                mem = memory_kib(pid)
                if mem:
                    rss += mem[0]
                    hwm += mem[1]
            cpu_total = sum(v for (g, _), v in self._last_cpu.items() if g == name)
            out[name] = GroupSample(cpu_total, rss, hwm)
        entry = (now, busy, out)
        with self._lock:
            self.samples.append(entry)
        return entry

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self) -> Sampler:
        self.sample()
        self._thread = threading.Thread(target=self._run, name="procstats", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)

    def window(self, start: float, end: float) -> dict:
        """Per group: CPU seconds used, cores (CPU s / wall s), peak RSS sampled, and
        the machine's busy cores, between the samples nearest to ``start`` and ``end``."""
        with self._lock:
            inside = [s for s in self.samples if start - self.interval <= s[0] <= end + self.interval]
        if len(inside) < 2:
            return {}
        first = min(inside, key=lambda s: abs(s[0] - start))
        last = min(inside, key=lambda s: abs(s[0] - end))
        wall = max(last[0] - first[0], 1e-9)
        groups = {}
        for name in last[2]:
            a, b = first[2].get(name), last[2].get(name)
            if a is None or b is None:
                continue
            used = max(b.cpu - a.cpu, 0.0)
            peak = max(s[2][name].rss_kib for s in inside if name in s[2])
            groups[name] = {
                "cpu_s": round(used, 2), "cores": round(used / wall, 3),
                "peak_rss_mib": round(peak / 1024, 1), "hwm_mib": round(b.hwm_kib / 1024, 1),
            }
        busy = (last[1] - first[1]) / wall
        return {"wall_s": round(wall, 2), "machine_busy_cores": round(busy, 3), "groups": groups}


def all_processes() -> dict[int, tuple[float, str]]:
    """CPU seconds and a short command line of every process on the machine."""
    out = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        cpu = cpu_seconds(int(pid))
        if cpu is None:
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            cmd = ""
        out[int(pid)] = (cpu, cmd[:90] or f"[{pid}]")
    return out


def top_others(before: dict, after: dict, ours: set[int], wall: float, n: int = 6) -> list:
    """The processes outside ``ours`` that used the most CPU between two snapshots:
    [(cores, command), ...], to say what "other" was."""
    used = []
    for pid, (cpu, cmd) in after.items():
        if pid in ours:
            continue
        delta = cpu - before.get(pid, (0.0, ""))[0] if pid in before else cpu
        if delta > 0:
            used.append((round(delta / wall, 3), cmd))
    return sorted(used, reverse=True)[:n]

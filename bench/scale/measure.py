"""Measuring one command for bench/scale/run: wall time, the process's peak RSS, output size,
with the page cache dropped first (cold) or not (warm), optionally inside a memory cgroup of
its own (whose peak counts the page cache the command pulled in, and whose limit caps it).

Cold needs root (writes /proc/sys/vm/drop_caches). The cgroup is made under this process's
own memory cgroup (v1 `memory` hierarchy or v2 with the memory controller), so it stays inside
whatever limits the caller runs under; it is removed after the run. Python stdlib only."""

import os
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from typing import NamedTuple, Optional

DROP_CACHES = "/proc/sys/vm/drop_caches"


class Run(NamedTuple):
    seconds: float
    rss_bytes: int                # the command's peak resident set (ru_maxrss)
    cgroup_peak: Optional[int]    # memory + page cache charged to its cgroup, when it had one
    stdout_bytes: int
    stdout_lines: int
    returncode: int
    stderr: str
    timed_out: bool = False       # killed after the timeout: seconds is the timeout
    read_bytes: int = 0           # read from disk on its behalf (ru_inblock: readahead too)


def can_drop_caches():
    return os.geteuid() == 0 and os.access(DROP_CACHES, os.W_OK)


def drop_caches():
    """Writes dirty pages back, then drops the clean page cache, dentries and inodes."""
    subprocess.run(["sync"], check=True)
    with open(DROP_CACHES, "w") as f:
        f.write("3\n")


class MemoryCgroups:
    """Makes memory cgroups under this process's own: v2 when the unified hierarchy has the
    memory controller, else v1's `memory` hierarchy. `problem` says why none can be made."""

    def __init__(self):
        self.kind = self.base = None
        self.problem = None
        self.counter = 0
        try:
            with open("/proc/self/cgroup") as f:
                lines = [line.rstrip("\n").split(":", 2) for line in f]
        except OSError as error:
            self.problem = f"cannot read /proc/self/cgroup: {error}"
            return
        for _, controllers, path in lines:
            if "memory" in controllers.split(","):
                self.kind, self.base = "v1", "/sys/fs/cgroup/memory" + path
        for _, controllers, path in lines:
            if controllers == "" and self.kind is None:
                root = "/sys/fs/cgroup"
                try:
                    with open(os.path.join(root, "cgroup.controllers")) as f:
                        if "memory" in f.read().split():
                            self.kind, self.base = "v2", root + path
                except OSError:
                    pass
        if self.kind is None:
            self.problem = "no memory cgroup controller found"
        elif not os.access(self.base, os.W_OK):
            self.problem = f"cannot create cgroups under {self.base} (not root?)"

    def create(self, limit_bytes=None):
        """A new empty cgroup (its directory), limited to limit_bytes when given."""
        self.counter += 1
        path = os.path.join(self.base, f"archiver-scale-{os.getpid()}-{self.counter}")
        os.mkdir(path)
        if limit_bytes is not None:
            name = "memory.limit_in_bytes" if self.kind == "v1" else "memory.max"
            with open(os.path.join(path, name), "w") as f:
                f.write(str(int(limit_bytes)))
        return path

    def peak(self, path):
        name = "memory.max_usage_in_bytes" if self.kind == "v1" else "memory.peak"
        try:
            with open(os.path.join(path, name)) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    @staticmethod
    def remove(path):
        for attempt in range(50):
            try:
                os.rmdir(path)
                return
            except OSError:
                time.sleep(0.1)  # the last process of the cgroup is still exiting


def run_once(command, *, env=None, cgroup=None, stdout_path=os.devnull, timeout=None):
    """Runs `command` once with stdout into stdout_path (then counted) and stderr kept.
    With `cgroup` (a dir from MemoryCgroups.create) the child joins it before it execs.
    After `timeout` seconds it is killed (SIGKILL: doveadm ends on SIGTERM only between
    ioloop runs) and the Run says timed_out."""
    def join_cgroup():
        if cgroup is not None:
            with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))

    with open(stdout_path, "wb") as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env,
                                   preexec_fn=join_cgroup)
        fired = threading.Event()

        def kill():
            fired.set()
            process.send_signal(signal.SIGKILL)

        timer = threading.Timer(timeout, kill) if timeout else None
        if timer:
            timer.start()
        _, status, usage = os.wait4(process.pid, 0)  # wait4: the child's own rusage
        seconds = time.perf_counter() - started
        if timer:
            timer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read(100000).decode(errors="replace")
    size = lines = 0
    if stdout_path != os.devnull:
        size = os.path.getsize(stdout_path)
        with open(stdout_path, "rb") as f:
            while True:
                block = f.read(1 << 22)
                if not block:
                    break
                lines += block.count(b"\n")
    read = usage.ru_inblock * 512
    if fired.is_set():
        return Run(timeout, usage.ru_maxrss * 1024, None, size, lines, 0, stderr, True, read)
    return Run(seconds, usage.ru_maxrss * 1024, None, size, lines, process.returncode, stderr,
               False, read)


def measure(command, *, runs, cold, env=None, cgroups=None, cap_bytes=None, prepare=None,
            stdout_path=os.devnull, warmup=True, timeout=None):
    """`runs` timed runs of `command`: warm after one untimed run (unless not warmup), or
    cold (caches dropped before each). A run killed after `timeout` seconds ends the series
    (it is the last Run returned). `prepare` (a callable) runs before each run, untimed (e.g. removes the last
    run's output). With cgroups, each run gets a fresh cgroup (limited to cap_bytes when
    given). Returns the list of Runs; raises RuntimeError on a non-zero exit."""
    results = []
    untimed = 1 if warmup and not cold else 0
    for number in range(runs + untimed):
        if prepare:
            prepare()
        if cold:
            drop_caches()
        cgroup = cgroups.create(cap_bytes) if cgroups is not None else None
        try:
            run = run_once(command, env=env, cgroup=cgroup, stdout_path=stdout_path,
                           timeout=timeout)
            if cgroup is not None:
                run = run._replace(cgroup_peak=cgroups.peak(cgroup))
        finally:
            if cgroup is not None:
                cgroups.remove(cgroup)
        if run.returncode != 0:
            raise RuntimeError(f"{' '.join(command[-8:])} exited {run.returncode}: "
                               f"{run.stderr.strip()[-2000:]}")
        if number >= untimed or run.timed_out:
            results.append(run)
        if run.timed_out:
            break
    return results


def median_run(results):
    """The run with the median time (the upper one of two middles), and the largest peaks."""
    if any(r.timed_out for r in results):
        return next(r for r in results if r.timed_out)
    ordered = sorted(results, key=lambda r: r.seconds)
    middle = ordered[len(ordered) // 2]
    peaks = [r.cgroup_peak for r in results if r.cgroup_peak is not None]
    return middle._replace(rss_bytes=max(r.rss_bytes for r in results),
                           cgroup_peak=max(peaks) if peaks else None,
                           seconds=statistics.median(r.seconds for r in results))

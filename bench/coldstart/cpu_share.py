"""Lambda's CPU share on this machine: a cgroup CPU quota the candidate process starts in.

Lambda gives a function CPU in proportion to its memory: 1,769 MB is one vCPU ("At 1,769 MB, a
function has the equivalent of one vCPU (one vCPU-second of credits per second)",
https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html), so 256 MB is 0.145 of one.
The limiter here is the kernel's CFS bandwidth control, the mechanism container runtimes use for a
CPU limit: a cgroup whose processes together run at most QUOTA µs of CPU per PERIOD µs
(`cpu.max` on cgroup v2, `cpu.cfs_quota_us` / `cpu.cfs_period_us` on v1). The period is Linux's
default, 100 ms; AWS does not publish the period Lambda uses, and the share, not the period, sets
the time a CPU-bound start takes once it spans several periods (a start that needs C ms of CPU
takes about C / share ms). A process joins the cgroup between fork and exec (`preexec_fn`), so
everything it runs from its first instruction is limited, its threads and children too; the
harness, the Runtime API and the emulator are not (on Lambda they are not the function's CPU).

Needs root (or a delegated cgroup); `CpuShare.create` says what is missing otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

ONE_VCPU_MB = 1769
PERIOD_US = 100_000
ROOT = Path("/sys/fs/cgroup")


class CpuShareError(Exception):
    """The machine cannot limit a process's CPU this way (no cgroup, or no permission)."""


def share_for_memory(memory_mb: int) -> float:
    return memory_mb / ONE_VCPU_MB


class CpuShare:
    """One cgroup with a CPU quota; `join` is a preexec_fn that moves the new process into it."""

    def __init__(self, directory: Path, share: float, version: int):
        self.directory = directory
        self.share = share
        self.version = version
        self.quota_us = max(1000, round(share * PERIOD_US))

    @classmethod
    def create(cls, name: str, share: float) -> "CpuShare":
        if not 0 < share <= 1:
            raise CpuShareError(f"a CPU share must be in (0, 1], not {share}")
        v2 = ROOT / "cgroup.controllers"
        try:
            if v2.exists():
                return cls._create_v2(name, share)
            if (ROOT / "cpu" / "cpu.cfs_quota_us").exists():
                return cls._create_v1(name, share)
        except OSError as e:
            raise CpuShareError(f"cannot create a CPU-limited cgroup ({e}); run as root, or "
                                "with a cgroup delegated to this user") from e
        raise CpuShareError(f"no cgroup CPU controller under {ROOT}")

    @classmethod
    def _create_v2(cls, name: str, share: float) -> "CpuShare":
        # Our own cgroup's parent: a cgroup with processes cannot also hand controllers to children.
        own = Path(open("/proc/self/cgroup").read().strip().split("::", 1)[1].lstrip("/"))
        parent = ROOT / own.parent
        if "cpu" not in (parent / "cgroup.controllers").read_text().split():
            raise CpuShareError(f"the cpu controller is not available in {parent}")
        subtree = parent / "cgroup.subtree_control"
        if "cpu" not in subtree.read_text().split():
            subtree.write_text("+cpu")
        directory = parent / name
        directory.mkdir(exist_ok=True)
        limiter = cls(directory, share, 2)
        (directory / "cpu.max").write_text(f"{limiter.quota_us} {PERIOD_US}")
        return limiter

    @classmethod
    def _create_v1(cls, name: str, share: float) -> "CpuShare":
        directory = ROOT / "cpu" / name
        directory.mkdir(exist_ok=True)
        limiter = cls(directory, share, 1)
        (directory / "cpu.cfs_period_us").write_text(str(PERIOD_US))
        (directory / "cpu.cfs_quota_us").write_text(str(limiter.quota_us))
        return limiter

    def join(self) -> None:
        """Runs in the child between fork and exec: moves it (pid 0 = the writer) into the cgroup."""
        fd = os.open(self.directory / "cgroup.procs", os.O_WRONLY)
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)

    def throttled(self) -> dict:
        """cpu.stat: how often the quota stopped the cgroup, and for how long in all."""
        stats = {}
        for line in (self.directory / "cpu.stat").read_text().splitlines():
            key, _, value = line.partition(" ")
            if value.strip().isdigit():
                stats[key] = int(value)
        return stats

    def describe(self) -> str:
        where = "cpu.max" if self.version == 2 else "cpu.cfs_quota_us / cpu.cfs_period_us"
        return (f"cgroup v{self.version} {where} = {self.quota_us} / {PERIOD_US} µs "
                f"({self.share:.3f} of one CPU)")

    def remove(self) -> None:
        try:
            self.directory.rmdir()
        except OSError:
            pass  # a process still in it (reaped later) or already gone: nothing to undo

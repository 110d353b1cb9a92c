"""What one learner's workspace may take: CPU, memory, processes, disk, and idle time.

The sizing rule (TLJH writes it as "concurrent users × per-user maximum + 128 MB"): the
machine keeps 1 GiB for itself, Incus and the hub, and shares the rest between the learners,
each getting between 512 MiB (JupyterLab, a kernel and a terminal need about 200 MB) and
2 GiB.  One CPU's worth of time each (a hard allowance, on whichever core is free): a learner's
busy loop can take one core's time, never the whole machine, and the scheduler shares the rest.
The defaults come from the machine's size and the class's; `class create --workspace KEY=VALUE,...` overrides any of
them, and the choice is kept on the class project.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from ..classroom.spec import parse_size
from ..errors import UsageError
from ..i18n import M, Message

MIB = 2**20
RESERVED = 1024 * MIB
FLOOR, CEILING = 512 * MIB, 2048 * MIB


def machine_memory() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            for line in info:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4096 * MIB


@dataclass(frozen=True)
class WorkspaceLimits:
    cpu: int = 1
    memory: str = "1024MiB"
    processes: int = 512
    disk: str = "3GiB"
    idle: int = 60  # minutes without activity before the idle culler stops a workspace

    def __post_init__(self) -> None:
        parse_size(self.memory), parse_size(self.disk)
        if self.cpu < 1 or self.processes < 64 or self.idle < 1:
            raise UsageError(M("hub.limits.too_small", "A workspace needs at least 1 CPU, 64 processes and 1 minute "
                                                       "before it is stopped when idle."))
        if parse_size(self.memory) < 256 * MIB:
            raise UsageError(M("hub.limits.memory_small", "A workspace needs at least 256MiB of memory: JupyterLab "
                                                          "alone takes about 150 MB."))

    @classmethod
    def default_for(cls, learners: int, memory: int | None = None) -> WorkspaceLimits:
        share = ((memory or machine_memory()) - RESERVED) // max(1, learners)
        share = min(CEILING, max(FLOOR, share // (64 * MIB) * 64 * MIB))
        return cls(memory=f"{share // MIB}MiB")

    def with_text(self, text: str | None) -> WorkspaceLimits:
        """These limits, changed by `cpu=1,memory=768MiB,processes=500,disk=2GiB,idle=45`."""
        if not text:
            return self
        names = {f.name: f.type for f in fields(self)}
        changes: dict[str, Any] = {}
        for item in text.split(","):
            key, sep, value = item.partition("=")
            key, value = key.strip(), value.strip()
            if not sep or key not in names or not value:
                raise UsageError(M("hub.limits.bad", "“{item}” is not a workspace limit: write KEY=VALUE pairs "
                                                     "separated by commas, with KEY among {keys} (for example "
                                                     "memory=768MiB,idle=45).",
                                   item=item, keys=", ".join(names)))
            if key in ("memory", "disk"):
                changes[key] = value
            elif value.isdigit():
                changes[key] = int(value)
            else:
                raise UsageError(M("hub.limits.bad_number", "The workspace limit {key} takes a whole number, "
                                                            "not “{value}”.", key=key, value=value))
        return replace(self, **changes)

    def to_text(self) -> str:
        return ",".join(f"{k}={v}" for k, v in asdict(self).items())

    def instance_config(self) -> dict[str, str]:
        # CPU time, not pinned cores: limits.cpu=1 pins each workspace to one core, and with three
        # workspaces on two cores two of them share one (cpusets 0, 1, 0), so a learner's busy loop halves
        # the time of the neighbour pinned with them. An allowance lets the scheduler use any free core.
        return {"limits.cpu.allowance": f"{self.cpu * 100}ms/100ms", "limits.memory": self.memory,
                "limits.memory.enforce": "hard", "limits.processes": str(self.processes),
                "security.idmap.isolated": "true", "boot.autostart": "false"}

    def describe(self) -> Message:
        return M("hub.limits.describe", "Each learner's workspace: {cpu} CPU, {memory} of memory, {processes} "
                                        "processes, {disk} of disk; stopped after {idle} min without activity (its "
                                        "files are kept).",
                 cpu=self.cpu, memory=self.memory, processes=self.processes, disk=self.disk, idle=self.idle)

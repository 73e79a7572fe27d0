"""Fixed-time traffic-signal plans: a cycle of phases, each saying which signal groups show green or yellow and
whether pedestrians may walk. Every group not green or yellow in a phase is red. Times are seconds; the plan is
periodic with period `cycle`, and `offset` shifts it (state at t is the state at (t + offset) mod cycle).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Phase:
    name: str
    duration: float  # seconds, > 0
    green: frozenset[str] = frozenset()
    yellow: frozenset[str] = frozenset()
    walk: bool = False  # pedestrians may start crossing the signalised crosswalks


@dataclass
class SignalPlan:
    phases: list[Phase]
    offset: float = 0.0
    _starts: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        if not self.phases or any(p.duration <= 0 for p in self.phases):
            raise ValueError("a signal plan needs phases of positive duration")
        self._starts = np.concatenate([[0.0], np.cumsum([p.duration for p in self.phases])])

    @property
    def cycle(self) -> float:
        return float(self._starts[-1])

    @property
    def groups(self) -> list[str]:
        g: set[str] = set()
        for p in self.phases:
            g |= p.green | p.yellow
        return sorted(g)

    def with_offset(self, offset: float) -> "SignalPlan":
        return SignalPlan(list(self.phases), offset=float(offset))

    def phase_index(self, t: float) -> int:
        tau = (float(t) + self.offset) % self.cycle
        return int(np.searchsorted(self._starts, tau, side="right") - 1)

    def phase_at(self, t: float) -> Phase:
        return self.phases[self.phase_index(t)]

    def time_in_phase(self, t: float) -> float:
        tau = (float(t) + self.offset) % self.cycle
        return tau - float(self._starts[self.phase_index(t)])

    def time_left_in_phase(self, t: float) -> float:
        return self.phases[self.phase_index(t)].duration - self.time_in_phase(t)

    def state(self, group: str, t: float) -> str:
        """"green" | "yellow" | "red" for a signal group at time t."""
        p = self.phase_at(t)
        if group in p.green:
            return "green"
        if group in p.yellow:
            return "yellow"
        return "red"

    def walk(self, t: float) -> bool:
        return self.phase_at(t).walk

    def offset_for(self, phase_name: str, t: float, into: float) -> float:
        """The plan offset that puts time t `into` seconds after the start of the first phase called
        `phase_name`."""
        for i, p in enumerate(self.phases):
            if p.name == phase_name:
                return float((self._starts[i] + into - t) % self.cycle)
        raise KeyError(f"no phase {phase_name!r} (phases: {[p.name for p in self.phases]})")


def two_group_plan(a: str, b: str, green: float, yellow: float = 3.0, all_red: float = 2.0,
                   walk: float = 0.0, walk_clear: float = 3.0) -> SignalPlan:
    """Group `a` green, yellow, all red; group `b` green, yellow, all red; then (if walk > 0) an exclusive
    pedestrian phase of `walk` seconds plus `walk_clear` seconds of flashing don't-walk (all vehicle signals red)."""
    ph = [
        Phase(f"{a}_green", green, green=frozenset({a})),
        Phase(f"{a}_yellow", yellow, yellow=frozenset({a})),
        Phase(f"{a}_all_red", all_red),
        Phase(f"{b}_green", green, green=frozenset({b})),
        Phase(f"{b}_yellow", yellow, yellow=frozenset({b})),
        Phase(f"{b}_all_red", all_red),
    ]
    if walk > 0:
        ph += [Phase("walk", walk, walk=True), Phase("walk_clear", walk_clear)]
    return SignalPlan(ph)

"""Compare what the sync stored with the simulated account's truth.

Shared by the fault soak (``bench/soak.py``) and its short CI variant
(``tests/integration/test_simulated_faults.py``). Call with Django set up and
the simulator frozen (speed 0), so the truth holds still while it is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import simulator.faults

# The simulator's malformed bodies include two that are not malformed by the
# contract: an unknown TrainingJobStatus or SecondaryStatus. The product stores
# those as sent, by design (AWS adds statuses). Injected transiently on a
# terminal job whose LastModifiedTime did not move, they would be a lie the
# product has no reason to read again, so the soak draws only the bodies that
# break the contract; "unknown status stored as is" has its own test.
CONTRACT_BREAKING = ("missing_status", "creation_time_string", "instance_count_string")


@contextmanager
def contract_breaking_malformations() -> Iterator[None]:
    saved = simulator.faults.MALFORMATIONS
    simulator.faults.MALFORMATIONS = CONTRACT_BREAKING
    try:
        yield
    finally:
        simulator.faults.MALFORMATIONS = saved


def _expected(truth: Any) -> dict[str, Any]:
    from jobs.domain.billing import billable_seconds
    from jobs.domain.statuses import TERMINAL

    terminal = truth.status in TERMINAL
    return {
        "status": truth.status,
        "secondary_status": truth.secondary_status,
        "failure_reason": truth.failure_reason,
        "transitions": [(t.status, t.start_time, t.end_time, t.message) for t in truth.transitions],
        "metrics": sorted((m.name, m.value) for m in truth.metrics),
        "reported_billable_seconds": truth.reported_billable_seconds,
        "training_time_seconds": truth.training_time_seconds,
        # A running job's computed billable time counts up to the worker's
        # wall clock at its last describe, not the simulator's: only a
        # finished job's total is a fixed truth.
        "billable_seconds": (
            billable_seconds(truth.training_start_time, truth.training_end_time, truth.instance_count, now=None)
            if terminal and truth.training_end_time is not None
            else None
        ),
    }


def _actual(job: Any, terminal_billable: bool) -> dict[str, Any]:
    return {
        "status": job.status,
        "secondary_status": job.secondary_status,
        "failure_reason": job.failure_reason,
        "transitions": [(t.status, t.start_time, t.end_time, t.message) for t in job.transitions.all()],
        "metrics": sorted((m.name, m.value) for m in job.metrics.all()),
        "reported_billable_seconds": job.reported_billable_seconds,
        "training_time_seconds": job.training_time_seconds,
        "billable_seconds": job.billable_seconds if terminal_billable else None,
    }


def _short(value: Any, width: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= width else f"{text[: width - 3]}..."


def mismatches(sim: Any, *, limit: int | None = None) -> list[str]:
    """Every difference between the database and the simulator's truth, one line each."""
    from jobs.domain.parse import parse_training_job
    from jobs.models import TrainingJob

    stored = {j.name: j for j in TrainingJob.objects.prefetch_related("transitions", "metrics")}
    names = sim.job_names()
    problems: list[str] = []
    missing = [n for n in names if n not in stored]
    extra = set(stored) - set(names)
    problems += [f"{n}: not stored" for n in missing]
    problems += [f"{n}: stored but not in the account" for n in sorted(extra)]
    for name in names:
        job = stored.get(name)
        if job is None:
            continue
        expected = _expected(parse_training_job(sim.describe(name)))
        actual = _actual(job, expected["billable_seconds"] is not None)
        for key, want in expected.items():
            if actual[key] != want:
                problems.append(f"{name}.{key}: stored {_short(actual[key])}, truth {_short(want)}")
        if limit is not None and len(problems) >= limit:
            break
    return problems

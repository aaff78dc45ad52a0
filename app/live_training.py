"""A Playground training running on one of the app's model threads while its event streams the
progress: the recipe from widget values, the job (updates queue, stop flag, time cap, one
training at a time), the check of the trained model on fresh contexts, and the checkpoint zip.

    job = LiveTraining(recipe); job.start()        # train_points on a model thread
    row, scape = job.updates.get()                  # every eval_every iterations
    job.stop.set(); trained = job.finish()          # the model trained so far, checked, zipped
"""

from __future__ import annotations

import queue
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import ebt_core as ebt
from app.inputs import LIMITS, MAX_SEED, float_in, int_in
from app.point_runs import landscape_of, modes_of, probe_context
from app.runtime import submit
from ebt_core.points.recipe import OBJECTIVES, PointRecipe

SLOT = threading.BoundedSemaphore(LIMITS["trainings"])  # trainings running at once, app-wide
CHECK_CONTEXTS = 32  # fresh contexts of the post-training check
PROBE_SAMPLES = 16  # candidates drawn on the probe landscape while training
PROBE_RESOLUTION = 41
UPDATES = 12  # live updates per training (eval_every = iters / UPDATES)
THINK = {"steps": 8, "samples": 32}  # the trained model's default ThinkConfig (as points-ebt)


def playground_recipe(task, objective, iters, lr, samples, steps_min, steps_max, step_size,
                      alpha_jitter, langevin, replay, final_only, detach, start_std,
                      seed) -> PointRecipe:  # fmt: skip
    """Widget values → PointRecipe. The app checks its budgets; PointRecipe checks the rest
    (task, objective, steps_max ≥ steps_min, …) and names the field."""
    iters = int_in("iters", iters, 1, LIMITS["train_iters"])
    samples = int_in("samples", samples, 1, LIMITS["train_samples"])
    steps_max = int_in("steps_max", steps_max, 1, LIMITS["train_steps"])
    if iters * samples * steps_max > LIMITS["train_work"]:
        raise ValueError(
            f"iters × samples × steps_max = {iters} × {samples} × {steps_max} = "
            f"{iters * samples * steps_max} exceeds this server's training budget of "
            f"{LIMITS['train_work']}; lower iters, samples or steps_max"
        )
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {list(OBJECTIVES)}, got {objective!r}")
    return PointRecipe.from_dict(
        dict(
            task=task, objective=objective, iters=iters, samples=samples, steps_max=steps_max,
            lr=float_in("lr", lr, 1e-5, 0.1), steps_min=int_in("steps_min", steps_min, 1, 64),
            model={"step_size": float_in("step_size", step_size, 1e-3, 100.0)},
            alpha_jitter=float_in("alpha_jitter", alpha_jitter, 1.0, 10.0),
            langevin=float_in("langevin", langevin, 0.0, 1.0),
            replay=float_in("replay", replay, 0.0, 0.9), final_only=final_only, detach=detach,
            start_std=float_in("start_std", start_std, 0.01, 2.0),
            seed=int_in("seed", seed, 0, MAX_SEED), think=THINK,
            eval_every=max(1, iters // UPDATES),
        )
    )  # fmt: skip


@dataclass
class Trained:
    """A visitor's trained model (kept in their gr.State): the model, how it was trained,
    its check on fresh contexts, and its checkpoint zip."""

    model: ebt.PointEBT
    recipe: dict
    metrics: list[dict]
    check: dict
    zip_path: str
    seconds: float
    stopped: bool

    @property
    def task(self) -> str:
        return self.recipe["task"]


def probe_window(task: str) -> tuple:
    """The fixed frame of the probe landscape: the last probe point ± 0.45 and its modes."""
    context = probe_context(task)
    pts = np.concatenate([context[-1:] - 0.45, context[-1:] + 0.45])
    modes = modes_of(task, context)
    if modes is not None:
        pts = np.concatenate([pts, modes])
    return tuple(pts.min(0)), tuple(pts.max(0))


@dataclass
class LiveTraining:
    """One training on a model thread; `updates` receives (metrics row, probe landscape)."""

    recipe: PointRecipe
    max_seconds: float = LIMITS["train_seconds"]
    updates: queue.Queue = field(default_factory=queue.Queue)
    stop: threading.Event = field(default_factory=threading.Event)
    timed_out: bool = False
    future: object = None

    def start(self) -> None:
        self.future = submit(self._run)

    def _run(self):
        # One intra-op thread while training: the tiny model gains nothing from two, and on a
        # busy 2-CPU machine two threads made each iteration 10–20× slower (44–90 ms vs 920 ms,
        # measured with other jobs running); the other core stays with the other visitors.
        import torch  # here, not at import: the app serves its first page before torch loads

        from ebt_core.points.training import train_points

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        deadline = time.perf_counter() + self.max_seconds
        try:
            return train_points(self.recipe, self._progress, lambda: self._stop_now(deadline))
        finally:
            torch.set_num_threads(threads)
            SLOT.release()

    def _stop_now(self, deadline: float) -> bool:
        self.timed_out = time.perf_counter() > deadline
        return self.stop.is_set() or self.timed_out

    def _progress(self, row: dict, model) -> None:
        """Every eval_every iterations: the model's descents at the probe context, exactly."""
        task = self.recipe.task
        context = probe_context(task)
        config = ebt.ThinkConfig(steps=THINK["steps"], samples=PROBE_SAMPLES, seed=0)
        run = ebt.think(model, context, config, 1)
        scape = landscape_of(
            model, run, PROBE_RESOLUTION, modes_of(task, context), probe_window(task)
        )
        self.updates.put((row, scape))

    @property
    def done(self) -> bool:
        return self.future is not None and self.future.done()


def task_check(model: ebt.PointEBT, task: str) -> dict:
    """The done-when numbers on CHECK_CONTEXTS fresh contexts of the task (the test split:
    seeds never used in training) at the model's defaults (32 candidates, 8 steps)."""
    from ebt_core.points import measures  # (torch: imported on first use, not with the app)

    contexts, modes = measures.fork_contexts(CHECK_CONTEXTS, "test", task=task)
    config = ebt.ThinkConfig.from_dict({**model.think_defaults.to_dict(), **THINK})
    out = measures.candidate_metrics(model, contexts, modes, config)
    out["passed"] = bool(
        out["near_share"] >= 0.8
        and min(out["mode_shares"]) >= 0.2
        and out["chosen_distance"] <= measures.NEAR
        and out["chosen_near_share"] >= 0.9
    )
    return out


def export_zip(model: ebt.PointEBT, metrics: list[dict], name: str) -> str:
    """The model as a checkpoint directory `name`/ (ebt.save) zipped → the zip's path (in a
    fresh temporary folder; `discard` removes it)."""
    folder = Path(tempfile.mkdtemp(prefix="ebt-playground-"))
    ebt.save(model, folder / name, metrics=metrics)
    return shutil.make_archive(str(folder / name), "zip", root_dir=folder, base_dir=name)


def discard(trained: Trained | None) -> None:
    """gr.State's delete_callback: remove a visitor's checkpoint zip when their session ends."""
    if trained is not None:
        shutil.rmtree(Path(trained.zip_path).parent, ignore_errors=True)

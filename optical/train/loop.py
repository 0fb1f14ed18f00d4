"""The distillation loop: one readable function in commented phases.

The module is over 400 lines on purpose: the loop is one job, read top to bottom, and its
phases share the run's state, so cutting them into modules would only scatter that state.

set-up (config, device, processes, models, data, teacher cache, geometry, optimiser,
resume) -> for each step: lr -> forward/backward over micro-batches -> clip -> step ->
zero_grad -> log -> eval/keep best -> checkpoint -> finish (final student, summary).

The config is validated before anything else; the run folder is locked for the run's life
(:func:`optical.train.lock.run_lock`: a second writer gets a clear error); each set-up
phase says what it is doing on stderr (``run.progress``), with progress bars for the
teacher outputs and the teacher's corpus index when they are computed.

``--resume`` (``resume=True``) continues the folder's checkpoint with the same settings:
only the settings in :data:`RESUMABLE_CHANGES` may differ from the checkpoint's; with no
checkpoint to resume, a note on stderr says that the run starts from step 0.

Test hook: with ``OPTICAL_TEST_KILL_AT_STEP=N`` in the environment, the main process
kills itself (SIGKILL) right after logging step ``N``: a deterministic crash point for
the resume tests.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import nn

from optical import run_folder
from optical.encoders import Encoder, mean_pool
from optical.losses import TokenGeometry, cross_entropy_ranking, info_nce, optical_loss, pooled_mse
from optical.paths import atomic_write_json
from optical.systems import corpus_name
from optical.train.checkpoint import find_checkpoint, load_checkpoint, save_checkpoint
from optical.train.config import DistillConfig
from optical.train.config_values import flatten_settings
from optical.train.data import (
    batch_order,
    dev_collection,
    load_training_pairs,
    micro_batches,
    shard,
)
from optical.train.distributed import (
    DistInfo,
    all_reduce_mean,
    barrier,
    cleanup,
    init_distributed,
    resolve_device,
)
from optical.train.lock import run_lock
from optical.train.student import (
    build_student,
    check_tokenizer_coverage,
    parameter_distance,
    save_student,
)
from optical.train.teacher_cache import TeacherOutputs, teacher_outputs

__all__ = ["distill", "lr_at", "seed_everything", "RESUMABLE_CHANGES"]

#: settings that may differ between a checkpoint and the run that resumes it
RESUMABLE_CHANGES = frozenset({"run.progress", "run.device", "run.bf16", "run.eval_every",
                               "run.checkpoint_every", "run.name", "optim.max_steps", "optim.epochs"})
KILL_AT_STEP_ENV = "OPTICAL_TEST_KILL_AT_STEP"


def seed_everything(seed: int, deterministic: bool) -> None:
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)


def lr_at(step: int, total: int, base: float, warmup_ratio: float, schedule: str) -> float:
    """Learning rate at ``step`` (0-based): linear warm-up, then linear/cosine decay or constant."""
    warmup = int(round(total * warmup_ratio))
    if step < warmup:
        return base * (step + 1) / warmup
    if schedule == "constant":
        return base
    progress = (step - warmup) / max(total - warmup, 1)
    if schedule == "cosine":
        return base * 0.5 * (1 + math.cos(math.pi * progress))
    return base * max(0.0, 1 - progress)


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if p.ndim < 2 or "LayerNorm" in name or name.endswith("bias") else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


class _Objective:
    """Computes the configured loss for a micro-batch of pair indices."""

    def __init__(self, cfg: DistillConfig, student: Encoder, forward: nn.Module, targets: TeacherOutputs,
                 pairs, geometry: TokenGeometry | None, reference: dict[str, torch.Tensor] | None) -> None:
        self.cfg, self.student, self.forward, self.targets = cfg, student, forward, targets
        self.pairs, self.geometry, self.reference = pairs, geometry, reference
        self.is_query = cfg.model.student_side == "query"

    def _distill_term(self, hidden, attn, content, idx, device) -> torch.Tensor:
        obj = self.cfg.objective
        if obj.name == "optical":
            t_tok, t_mask = self.targets.token_batch(idx, device)
            loss = optical_loss(hidden, content, t_tok, t_mask, self.geometry, eps=obj.eps, max_iter=obj.max_iter,
                                reg_m=obj.reg_m, marginals=obj.marginals, detach_plan=obj.detach_plan).loss
        else:
            pooled = mean_pool(hidden.float(), attn)
            target = self.targets.pooled_batch(idx, device)
            if obj.name == "mse":
                return pooled_mse(pooled, target)
            if obj.name == "infonce":
                return info_nce(pooled, target, obj.temperature)
            return cross_entropy_ranking(pooled, target, temperature=obj.temperature)
        if obj.mse_weight:
            loss = loss + obj.mse_weight * pooled_mse(mean_pool(hidden.float(), attn), self.targets.pooled_batch(idx, device))
        return loss

    def __call__(self, idx: list[int], device: torch.device) -> torch.Tensor:
        obj = self.cfg.objective
        texts = [self.pairs.student[i] for i in idx]
        anchor = obj.anchor_weight > 0 and obj.name != "cross_entropy"
        if anchor:  # English through the student too, in the same forward (one DDP pass)
            texts += [self.pairs.teacher[i] for i in idx]
        batch = self.student.tokenize(texts, self.is_query, max_length=self.cfg.model.max_length)
        out = self.forward(batch)
        n = len(idx)
        loss = self._distill_term(out.hidden[:n], out.attention_mask[:n], out.content_mask[:n], idx, device)
        if anchor:
            loss = loss + obj.anchor_weight * self._distill_term(
                out.hidden[n:], out.attention_mask[n:], out.content_mask[n:], idx, device)
        if obj.l2sp_weight and self.reference is not None:
            loss = loss + obj.l2sp_weight * parameter_distance(self.student, self.reference).to(loss.device)
        return loss


def _dev_eval(student: Encoder, teacher: Encoder, collection, n_queries: int, is_query: bool,
              corpus: str, progress: bool = False) -> dict[str, float]:
    """MRR@10 and R@1 of student queries against the teacher's (cached) corpus index."""
    import random

    from optical.evaluation import evaluate
    from optical.evaluation.measure_sets import DEV_MEASURES
    from optical.retrieval import Retriever, corpus_index

    qids = sorted(collection.qrels)
    qids = sorted(random.Random(0).sample(qids, min(n_queries, len(qids))))  # a fixed spread-out sample
    queries = {q: collection.queries[q] for q in qids}
    index = corpus_index(teacher, collection.corpus, name=corpus, progress=progress)
    retriever = Retriever(student if is_query else teacher, teacher, index)
    run = retriever.search(queries, k=10)
    # the aligned verse (grade 2) is the target, as in the test tables
    res = evaluate(run, {q: collection.qrels[q] for q in qids}, list(DEV_MEASURES.values()))
    return {key: float(res[measure]) for key, measure in DEV_MEASURES.items()}


def distill(cfg: DistillConfig, resume: bool = False) -> dict[str, Any]:
    """Train a student as ``cfg`` says; return the run summary (also in ``summary.json``)."""
    # --- set-up: settings, processes, device, run folder (locked for the run's life) ------
    cfg.validate()
    info: DistInfo = init_distributed()
    device = resolve_device(cfg.run.device, info)
    run_dir = Path(cfg.run.out_dir)
    with run_lock(run_dir, enabled=info.is_main):
        return _distill(cfg, resume, info, device, run_dir)


def _say(*parts: Any) -> None:
    print(*parts, file=sys.stderr, flush=True)


def _check_resume(cfg: DistillConfig, ckpt: Path) -> None:
    """Refuse to resume a checkpoint trained with other settings (before any model loads)."""
    try:
        saved = json.loads((ckpt / "state.json").read_text(encoding="utf-8")).get("config") or {}
    except (OSError, ValueError) as err:
        raise ValueError(f"checkpoint {ckpt} cannot be read ({err}); set run.out_dir to a new folder") from err
    old, new = flatten_settings(saved), flatten_settings(cfg.to_dict())
    changed = sorted(k for k in new if k in old and old[k] != new[k] and k not in RESUMABLE_CHANGES)
    if changed:
        diff = ", ".join(f"{k}={old[k]!r} (now {new[k]!r})" for k in changed)
        raise ValueError(f"--resume: the checkpoint in {ckpt.parent} was trained with {diff}; resume with "
                         "the same settings (only " + ", ".join(sorted(RESUMABLE_CHANGES)) +
                         " may change) or set run.out_dir to a new folder")


def _distill(cfg: DistillConfig, resume: bool, info: DistInfo, device: torch.device,
             run_dir: Path) -> dict[str, Any]:
    ckpt = find_checkpoint(run_dir)
    if ckpt is not None and not resume:
        raise ValueError(f"{run_dir} already holds a checkpoint: pass --resume to continue it, "
                         "or set run.out_dir to a new folder")
    if ckpt is not None:
        _check_resume(cfg, ckpt)
    elif resume and info.is_main:
        _say(f"note: --resume: no checkpoint in {run_dir}; starting a new run from step 0")
    if info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(run_dir / run_folder.CONFIG, cfg.to_dict())
    seed_everything(cfg.run.seed, cfg.run.deterministic)
    show = info.is_main and cfg.run.progress
    say = _say if show else (lambda *a, **k: None)

    # --- models: frozen teacher, trainable student ----------------------------------------
    # Both encoders keep the default retrieval settings (so the teacher's corpus index is the
    # same one `optical bench` uses); training texts are truncated to model.max_length.
    say(f"loading the teacher {cfg.model.teacher} on {device}")
    teacher = Encoder(cfg.model.teacher).to(device).eval()
    teacher.requires_grad_(False)
    say(f"building the student from {cfg.model.student or cfg.model.teacher}")
    student = build_student(
        cfg.model.student or cfg.model.teacher, teacher.hidden_size, cfg.model.projection, teacher.max_length,
        cfg.model.freeze_embeddings, cfg.model.freeze_layers, cfg.model.truncate_layers, cfg.model.dropout,
    ).to(device)
    is_query = cfg.model.student_side == "query"

    # --- data and teacher targets (computed once, cached on disk) -------------------------
    say(f"loading the training pairs ({cfg.data.train})")
    pairs = load_training_pairs(cfg.data.train, cfg.objective.name, cfg.data.max_pairs, cfg.data.subset_seed,
                                cfg.data.extra_train, cfg.data.extra_fraction, cfg.data.labels)
    check_tokenizer_coverage(student, pairs.student)
    # distillation: the teacher reads the English side as the student's side (query/document);
    # cross-entropy: the teacher encodes the relevant documents (the other side).
    teacher_is_query = is_query if cfg.objective.name != "cross_entropy" else not is_query
    say(f"teacher outputs for {len(pairs)} texts (computed once, then read from the cache)")
    if info.is_main:
        targets = teacher_outputs(teacher, pairs.teacher, teacher_is_query, max_length=cfg.model.max_length,
                                  progress=cfg.run.progress)
    barrier(info)
    if not info.is_main:
        targets = teacher_outputs(teacher, pairs.teacher, teacher_is_query, max_length=cfg.model.max_length,
                                  progress=False)
    if cfg.objective.name == "optical":
        say(f"fitting the token geometry ({cfg.objective.geometry})")
    geometry = TokenGeometry.fit(targets.sample_tokens(seed=cfg.run.seed), cfg.objective.geometry) \
        if cfg.objective.name == "optical" else None
    dev = None
    if (cfg.run.eval_every or cfg.run.keep_best) and is_query:
        say(f"loading the dev collection ({cfg.data.dev or cfg.data.train})")
        dev = dev_collection(cfg.data.dev, cfg.data.train)
    elif cfg.run.eval_every or cfg.run.keep_best:
        say("note: periodic dev retrieval needs a query-side student; the last student is kept")

    # --- optimiser, schedule, processes ---------------------------------------------------
    optimizer = torch.optim.AdamW(_param_groups(student, cfg.optim.weight_decay), lr=cfg.optim.lr)
    steps_per_epoch = len(pairs) // cfg.optim.batch_size
    if steps_per_epoch == 0:
        raise ValueError(f"{len(pairs)} training pairs are fewer than one batch of {cfg.optim.batch_size}")
    total_steps = cfg.optim.max_steps or max(1, math.ceil(cfg.optim.epochs * steps_per_epoch))
    forward: nn.Module = student
    if info.enabled:
        forward = torch.nn.parallel.DistributedDataParallel(
            student, device_ids=[device.index] if device.type == "cuda" else None)
    reference = ({n: p.detach().clone() for n, p in student.named_parameters() if p.requires_grad}
                 if cfg.objective.l2sp_weight else None)
    objective = _Objective(cfg, student, forward, targets, pairs, geometry, reference)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if (device.type == "cuda" and cfg.run.bf16) \
        else torch.autocast("cpu", enabled=False)

    # --- resume ---------------------------------------------------------------------------
    state: dict[str, Any] = {"step": 0, "best": None, "best_step": None, "elapsed": 0.0}
    if ckpt is not None:
        say(f"loading the checkpoint {ckpt}")
        state = load_checkpoint(ckpt, student, optimizer)
        say(f"resumed from {ckpt} at step {state['step']}/{total_steps}")
        _truncate_log(run_dir / run_folder.METRICS, state["step"], info)
    if state["step"] == 0 and info.is_main:
        (run_dir / run_folder.METRICS).write_text("")
    lengths = [len(t) for t in pairs.student]
    say(f"training {cfg.system_name()}: {len(pairs)} pairs, {total_steps} steps of {cfg.optim.batch_size} "
        f"on {device} x{info.world_size}; trainable {sum(p.numel() for p in student.parameters() if p.requires_grad):,} "
        f"of {sum(p.numel() for p in student.parameters()):,} parameters")

    from tqdm.auto import tqdm

    if dev is not None and state["step"] == 0 and info.is_main:  # the untrained student, for reference
        say(f"step 0: the teacher's index of the dev corpus ({len(dev.corpus)} documents; built once, "
            f"then cached) and the untrained student's dev retrieval ({cfg.data.dev_queries} queries)")
        scores = _dev_eval(student, teacher, dev, cfg.data.dev_queries, is_query,
                           corpus_name(cfg.data.dev or cfg.data.train), progress=show)
        _log(run_dir, {"step": 0, **scores}, info)
        say(f"step 0 (before training): dev MRR@10 {scores['dev_rr10']:.4f}  R@1 {scores['dev_r1']:.4f}")
    barrier(info)
    bar = tqdm(total=total_steps, initial=state["step"], desc=cfg.system_name(), unit="step",
               disable=not show)
    kill_at = int(os.environ.get(KILL_AT_STEP_ENV, "0") or 0) if info.is_main else 0
    order_epoch, order = -1, []
    start = time.time() - state.get("elapsed", 0.0)
    student.train()
    while state["step"] < total_steps:
        step = state["step"]
        epoch, pos = divmod(step, steps_per_epoch)
        if epoch != order_epoch:
            order, order_epoch = batch_order(lengths, cfg.optim.batch_size, cfg.run.seed, epoch), epoch
        local = shard(order[pos], info.rank, info.world_size)

        # lr for this step
        lr = lr_at(step, total_steps, cfg.optim.lr, cfg.optim.warmup_ratio, cfg.optim.schedule)
        for group in optimizer.param_groups:
            group["lr"] = lr

        # forward/backward over micro-batches (gradients synchronised on the last one)
        t0 = time.time()
        total_loss = torch.zeros((), device=device)
        micro = micro_batches(local, cfg.optim.grad_accum)
        for i, idx in enumerate(micro):
            sync = i == len(micro) - 1 or not info.enabled
            ctx = forward.no_sync() if not sync else nullcontext()
            with ctx, autocast:
                loss = objective(idx, device) / len(micro)
            loss.backward()
            total_loss += loss.detach()

        # clip, step, zero_grad
        if cfg.optim.clip_norm:
            torch.nn.utils.clip_grad_norm_([p for p in student.parameters() if p.requires_grad], cfg.optim.clip_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        state["step"] = step = step + 1
        state["elapsed"] = time.time() - start

        # log
        loss_value = float(all_reduce_mean(total_loss, info))
        if not math.isfinite(loss_value):
            raise FloatingPointError(f"loss became {loss_value} at step {step}: lower optim.lr or raise objective.eps")
        record = {"step": step, "loss": loss_value, "lr": lr,
                  "pairs_per_s": cfg.optim.batch_size / max(time.time() - t0, 1e-9), "elapsed": state["elapsed"]}
        _log(run_dir, record, info)
        if step == kill_at:  # test hook: a crash at a known point (see the module docstring)
            import signal

            os.kill(os.getpid(), signal.SIGKILL)
        bar.update(1)
        bar.set_postfix(loss=f"{loss_value:.4f}", pairs_s=f"{record['pairs_per_s']:.1f}")

        # eval / keep best
        last = step == total_steps
        if dev is not None and ((cfg.run.eval_every and step % cfg.run.eval_every == 0) or last):
            if info.is_main:
                scores = _dev_eval(student, teacher, dev, cfg.data.dev_queries, is_query,
                                   corpus_name(cfg.data.dev or cfg.data.train))
                _log(run_dir, {"step": step, **scores}, info)
                bar.write(f"step {step}: dev MRR@10 {scores['dev_rr10']:.4f}  R@1 {scores['dev_r1']:.4f}",
                          file=sys.stderr)
                if cfg.run.keep_best and (state["best"] is None or scores["dev_rr10"] > state["best"]):
                    state["best"], state["best_step"] = scores["dev_rr10"], step
                    save_student(student, run_dir / "best", _provenance(cfg, step))
            student.train()
            barrier(info)

        # checkpoint (rank 0 writes)
        if (cfg.run.checkpoint_every and step % cfg.run.checkpoint_every == 0) or last:
            if info.is_main:
                save_checkpoint(run_dir, student, optimizer, state | {"config": cfg.to_dict()})
            barrier(info)
    bar.close()

    # --- finish: final student (best on dev when kept), summary ---------------------------
    summary: dict[str, Any] = {}
    if info.is_main:
        save_student(student, run_dir / "last", _provenance(cfg, state["step"]))
        final = "best" if (cfg.run.keep_best and (run_dir / "best").is_dir()) else "last"
        summary = {
            "system": cfg.system_name(), "student": str(run_dir / final), "teacher": cfg.model.teacher,
            "student_side": cfg.model.student_side, "steps": state["step"], "pairs": len(pairs),
            "best_dev_rr10": state["best"], "best_step": state["best_step"], "train_seconds": state["elapsed"],
            "world_size": info.world_size, "device": str(device), "config": cfg.to_dict(),
        }
        atomic_write_json(run_dir / run_folder.SUMMARY, summary)
    barrier(info)
    cleanup(info)
    return summary


def _provenance(cfg: DistillConfig, step: int) -> dict[str, Any]:
    return {"teacher": cfg.model.teacher, "objective": cfg.objective.name, "train": cfg.data.train,
            "step": step, "system": cfg.system_name(), "student_side": cfg.model.student_side}


def _log(run_dir: Path, record: dict[str, Any], info: DistInfo) -> None:
    if info.is_main:
        with open(run_dir / run_folder.METRICS, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")


def _truncate_log(path: Path, step: int, info: DistInfo) -> None:
    """After a resume, drop log lines written after the checkpoint (they will be redone)."""
    if not info.is_main or not path.is_file():
        return
    keep = [ln for ln in path.read_text().splitlines() if ln.strip() and json.loads(ln)["step"] <= step]
    path.write_text("".join(ln + "\n" for ln in keep))

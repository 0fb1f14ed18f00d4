"""``optical demo``: the main job on the embedded default, then the app.

Pipeline (each step is skipped when already done):
  1. the teacher's index of the English New Testament (pooled + token vectors);
  2. zero-shot evaluation on the default languages -> runs/results.jsonl;
  3. a small OPTICAL Swahili student (configs/demo_optical_sw.toml) -> runs/demo/;
  4. its evaluation on the same languages.
The app starts first and the pipeline runs beside it (log: runs/demo.log), so the
browser opens at once and the results view fills in as steps finish.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

DEMO_LANGUAGES = "sw,tl,bn,hi,de,fr,en"
ROOT = Path(__file__).resolve().parents[2]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the main job on the embedded default and open the app",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--no-app", action="store_true", help="run the pipeline in the foreground, no app")
    p.add_argument("--app-only", action="store_true", help="start the app, skip the pipeline")
    p.add_argument("--port", type=int, default=8501, help="app port (default 8501)")
    p.add_argument("--languages", default=DEMO_LANGUAGES, help=f"evaluation languages (default {DEMO_LANGUAGES})")
    p.add_argument("--config", default=str(ROOT / "configs" / "demo_optical_sw.toml"), help="demo student config")
    p.set_defaults(func=run)


def pipeline(languages: str, config: str) -> None:
    from optical.dataset_loading import load_collection
    from optical.results import ResultsStore
    from optical.results.collect import bench
    from optical.retrieval import corpus_index
    from optical.run_folder import RunFolder
    from optical.systems import ZERO_SHOT, load_encoder_cached, parse_system
    from optical.train.config import load_config
    from optical.train.loop import distill

    def say(msg: str) -> None:
        print(f"[demo {time.strftime('%H:%M:%S')}] {msg}", flush=True)

    store = ResultsStore()
    datasets = [f"bible:{c}" for c in languages.split(",")]
    say("1/4 teacher index of the English New Testament (built once, ~4 min on 2 cores)")
    corpus_index(load_encoder_cached(ZERO_SHOT), load_collection("bible:sw").corpus, "bible", with_tokens=True)
    say("2/4 zero-shot evaluation")
    bench([parse_system("zero-shot")], datasets, store=store, progress=say)
    cfg = load_config(config)
    run_dir = Path(cfg.run.out_dir)
    if RunFolder(run_dir).finished:
        say(f"3/4 demo student already trained ({run_dir})")
    else:
        from optical.train.checkpoint import find_checkpoint

        say(f"3/4 training the demo student -> {run_dir}")
        distill(cfg, resume=find_checkpoint(run_dir) is not None)
    say("4/4 evaluating the demo student")
    bench([parse_system(str(run_dir))], datasets, store=store, progress=say)
    say(f"done: results in {store.path}; compare the systems in the app's results view")


def run(args: argparse.Namespace) -> int:
    if not args.app_only:  # a bad student config is refused here, not later in the background log
        from optical.train.config import load_config

        load_config(args.config)
    if args.no_app:
        pipeline(args.languages, args.config)
        return 0
    app = ROOT / "app.py"
    if not app.is_file():
        raise FileNotFoundError(f"{app} not found: `optical demo` runs from a checkout of the repository")
    worker = None
    if not args.app_only:
        log = Path("runs") / "demo.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "optical", "demo", "--no-app", "--languages", args.languages,
               "--config", args.config]
        worker = subprocess.Popen(cmd, stdout=open(log, "a"), stderr=subprocess.STDOUT)
        print(f"demo pipeline running in the background (pid {worker.pid}); follow it with: tail -f {log}")
    print(f"starting the app on http://localhost:{args.port}")
    env = os.environ | {"OPTICAL_DEMO_LOG": str(Path("runs") / "demo.log")}
    try:
        return subprocess.call([sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true",
                                "--server.port", str(args.port), "--server.fileWatcherType", "none"], env=env)
    finally:
        if worker is not None and worker.poll() is None:
            print("the demo pipeline is still running; it resumes where it stopped next time")
            worker.terminate()

"""Load test of the app on loopback: many users at once, each preparing photos, training a tiny twin and
generating portraits in their own workspace, as jobs.

The app runs as its own process (``python app.py``, as users start it) with a scratch home and runs
folder and its default slots (one "gpu" slot for training and generation, one "cpu" slot for the rest).
Each client is a separate ``gradio_client`` session with its own workspace token; all start together.
One client is greedy: after its training it queues ``--greedy`` generations at once. Reported:

- failed jobs and failed requests (must be 0);
- queue wait (job started - job queued) per kind, median and worst, from the queue database;
- fairness: the longest run of consecutive "gpu" starts by one user while another user's job waited
  (1 means strict turns);
- the server process's resident memory, sampled every second, after warm-up (flat means the jobs'
  memory stays in their own processes).

    python benchmarks/load_test.py [--clients 8] [--rounds 1] [--steps 6] [--count 2] [--greedy 3]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from facechain.examples import write_example_photos  # noqa: E402


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def wait_for_server(url: str, process: subprocess.Popen, timeout: float = 180) -> None:
    import urllib.request

    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the app exited during start-up")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(1)
    raise TimeoutError(f"the app did not answer at {url}")


def longest_unfair_run(rows: list[sqlite3.Row]) -> int:
    """The longest run of consecutive starts (in one slot class) by one owner while a job of another
    owner, queued before that start, was still waiting."""
    longest, run, last_owner = 0, 0, None
    for row in rows:
        others_waiting = any(
            other["owner"] != row["owner"] and other["created"] < row["started"] < other["started"] for other in rows
        )
        run = run + 1 if row["owner"] == last_owner and others_waiting else 1
        last_owner = row["owner"]
        longest = max(longest, run)
    return longest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1, help="prepare + train + generate per client")
    parser.add_argument("--steps", type=int, default=6, help="tiny training steps")
    parser.add_argument("--count", type=int, default=2, help="portraits per generation")
    parser.add_argument("--greedy", type=int, default=3, help="generations the first client queues at once")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "load_test.json"))
    args = parser.parse_args()
    from gradio_client import Client, handle_file

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        photos = write_example_photos(scratch / "photos")
        port = free_port()
        env = {
            **os.environ,
            "FACECHAIN_HOME": str(scratch / "home"),
            "FACECHAIN_FACE_BACKEND": "dlib",
            "GRADIO_SERVER_PORT": str(port),
            "GRADIO_SERVER_NAME": "127.0.0.1",
            "GRADIO_ANALYTICS_ENABLED": "False",
        }
        server = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py")],
            cwd=scratch,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}/"
        memory: list[tuple[float, float]] = []
        failures: list[str] = []
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.wait(1.0):
                memory.append((time.perf_counter() - started, resident_mb(server.pid)))

        def workflow(index: int) -> None:
            client = Client(url, verbose=False)
            token, _ = client.predict("", api_name="/workspace")
            for round_index in range(args.rounds):
                try:
                    uploads = [handle_file(str(photos[i])) for i in (0, 1, 4)]
                    client.predict(uploads, "sks", "", 20, token, api_name="/prepare")
                    name = f"twin{round_index}"
                    status, _, _ = client.predict(
                        None, name, "Tiny offline demo model", args.steps, 0.0, token, api_name="/train"
                    )
                    if "Done" not in status:
                        failures.append(f"client {index}: {status}")
                    calls = args.greedy if index == 0 else 1
                    pending = [
                        client.submit(name, "natural", "", args.count, i, 0.9, 0.25, token, api_name="/generate")
                        for i in range(calls)
                    ]
                    for call in pending:
                        gallery, _, _ = call.result()
                        if len(gallery) != args.count:
                            failures.append(f"client {index}: {len(gallery)} portraits instead of {args.count}")
                except Exception as error:  # counted and reported; the load test goes on
                    failures.append(f"client {index}: {type(error).__name__}: {error}")

        try:
            wait_for_server(url, server)
            started = time.perf_counter()
            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            with ThreadPoolExecutor(args.clients) as pool:
                list(pool.map(workflow, range(args.clients)))
            elapsed = time.perf_counter() - started
            sampling.set()
            sampler.join()
        finally:
            server.terminate()
            server.wait(60)
        db = sqlite3.connect(scratch / "runs" / "jobs.sqlite3")
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT * FROM jobs ORDER BY started").fetchall()

    waits: dict[str, list[float]] = {}
    for row in rows:
        waits.setdefault(row["kind"], []).append(row["started"] - row["created"])
    failed_jobs = [f"{row['kind']} {row['status']}: {row['error']}" for row in rows if row["status"] != "succeeded"]
    warm = [mb for at, mb in memory if at > elapsed / 4]  # after the first quarter: models built, caches filled
    summary = {
        "clients": args.clients,
        "rounds": args.rounds,
        "training_steps": args.steps,
        "portraits_per_generation": args.count,
        "greedy_generations": args.greedy,
        "jobs": len(rows),
        "failed_jobs": failed_jobs,
        "failed_requests": failures,
        "elapsed_s": elapsed,
        "queue_wait_s": {
            kind: {"median": statistics.median(values), "worst": max(values), "jobs": len(values)}
            for kind, values in waits.items()
        },
        "longest_unfair_run": {
            slot: longest_unfair_run([row for row in rows if row["slot"] == slot]) for slot in ("gpu", "cpu")
        },
        "server_rss_mb": {
            "start": memory[0][1] if memory else None,
            "after_warm_up_min": min(warm) if warm else None,
            "after_warm_up_max": max(warm) if warm else None,
            "end": memory[-1][1] if memory else None,
        },
    }
    print(
        f"{len(rows)} jobs from {args.clients} clients in {elapsed:.0f} s: {len(failed_jobs)} failed jobs, "
        f"{len(failures)} failed requests"
    )
    print(f"{'kind':10} {'jobs':>5} {'median wait s':>14} {'worst wait s':>13}")
    for kind, values in summary["queue_wait_s"].items():
        print(f"{kind:10} {values['jobs']:>5} {values['median']:>14.1f} {values['worst']:>13.1f}")
    print(f"longest run of one user's starts while another waited: {summary['longest_unfair_run']}")
    rss = summary["server_rss_mb"]
    print(
        f"server RSS MB: start {rss['start']:.0f}, after warm-up {rss['after_warm_up_min']:.0f}-"
        f"{rss['after_warm_up_max']:.0f}, end {rss['end']:.0f}"
    )
    Path(args.out).write_text(json.dumps(summary, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

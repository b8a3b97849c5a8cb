"""Load test of the app: several clients send generate requests at once, on loopback.

The app runs as its own process (``python app.py``, as users start it) with a scratch home and runs
folder. Each client is a separate ``gradio_client`` session owning a copy of one trained tiny model;
every client submits ``--requests`` generations at the same moment, for ``--rounds`` rounds. Reported:
failures (must be 0), latency per request (queue wait included), and the server's resident memory
after each round (flat means no leak per request).

    python benchmarks/load_test.py [--clients 4] [--requests 2] [--rounds 3] [--count 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from train_bench import make_dataset  # noqa: E402

from facechain.config import Settings  # noqa: E402
from facechain.portrait import TrainConfig, train  # noqa: E402


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=2, help="simultaneous requests per client per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=2, help="portraits per request")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "load_test.json"))
    args = parser.parse_args()
    from gradio_client import Client

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        home = scratch / "home"
        dataset, _, _ = make_dataset(scratch)
        model = scratch / "model"
        train(
            TrainConfig(dataset=dataset, out=model, tiny=True, steps=5, validation_images=0, sude_weight=0),
            Settings(home=home),
        )
        port = free_port()
        env = {
            **os.environ,
            "FACECHAIN_HOME": str(home),
            "FACECHAIN_FACE_BACKEND": "dlib",
            "GRADIO_SERVER_PORT": str(port),
            "GRADIO_SERVER_NAME": "127.0.0.1",
            "OMP_NUM_THREADS": "2",
        }
        server = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py")],
            cwd=scratch,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}/"
        try:
            wait_for_server(url, server)
            clients = [Client(url, verbose=False) for _ in range(args.clients)]
            for client in clients:  # each session owns its model, as after training in the app
                shutil.copytree(model, scratch / "runs" / "sessions" / client.session_hash / "models" / "me")
            memory, latencies, failures = [resident_mb(server.pid)], [], []

            def one_request(client, index):
                started = time.perf_counter()
                try:
                    gallery, _, _ = client.predict(
                        "me", "natural", "", args.count, index, 0.9, 0.25, api_name="/generate"
                    )
                    if len(gallery) != args.count:
                        failures.append(f"{len(gallery)} images instead of {args.count}")
                except Exception as error:  # counted and reported, the load test goes on
                    failures.append(f"{type(error).__name__}: {error}")
                latencies.append(time.perf_counter() - started)

            started = time.perf_counter()
            with ThreadPoolExecutor(args.clients * args.requests) as pool:
                for round_index in range(args.rounds):
                    jobs = [
                        pool.submit(one_request, client, round_index * 100 + i)
                        for client in clients
                        for i in range(args.requests)
                    ]
                    for job in jobs:
                        job.result()
                    memory.append(resident_mb(server.pid))
                    print(f"round {round_index + 1}: {len(jobs)} requests, server RSS {memory[-1]:.0f} MB", flush=True)
            elapsed = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(30)

    total = args.clients * args.requests * args.rounds
    summary = {
        "clients": args.clients,
        "requests_per_round": args.clients * args.requests,
        "rounds": args.rounds,
        "portraits_per_request": args.count,
        "requests": total,
        "failures": failures,
        "latency_s": {"median": statistics.median(latencies), "max": max(latencies), "min": min(latencies)},
        "throughput_requests_per_s": total / elapsed,
        "server_rss_mb": memory,
    }
    print(
        f"{total} requests from {args.clients} clients: {len(failures)} failed; latency median "
        f"{summary['latency_s']['median']:.1f} s, max {summary['latency_s']['max']:.1f} s (queue wait included); "
        f"{summary['throughput_requests_per_s']:.2f} requests/s"
    )
    print("server RSS (MB) at start and after each round: " + ", ".join(f"{m:.0f}" for m in memory))
    Path(args.out).write_text(json.dumps(summary, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

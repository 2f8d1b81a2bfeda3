"""API: requests/s and p50/p99 latency of ``GET /flows/{id}`` and ``GET /runs?property=flowId==…``
served by ``xdmflow serve --role api`` (uvicorn, one process) over a store of 10,000 flows with
runs, against a minimal FastAPI app returning the same bodies (``bench.systems.minimal_app``,
uvicorn, one process) — both on loopback, loaded by ``wrk`` (one thread, keep-alive).

wrk's own CPU time is recorded (``wrk_cpu_share`` = its CPU seconds / duration) to show the
load generator is not the bottleneck, and each server's CPU time per request
(``server_cpu_ms_per_req``: user + system seconds of the server process over the run / requests
served), which a busy machine disturbs far less than req/s.

    python -m bench.systems.api_bench --workdir /tmp/xdmflow-bench --flows 10000 --duration 10
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.common import Measurement, emit
from bench.systems.populate import populate
from bench.systems.service import FAR_FUTURE, FS, BenchService

WRK_HINT = "wrk is not installed: apt-get install -y wrk (Debian/Ubuntu) or brew install wrk"


def _free_port() -> int:
    from xdmflow.cli.demo import free_port

    return free_port()


def _wait_up(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    if not m:
        raise ValueError(text)
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v


def wrk(url: str, headers: dict[str, str], duration: int, connections: int) -> dict[str, float]:
    """Run wrk once; requests/s, p50/p99 (ms), non-2xx count and wrk's CPU share."""
    if shutil.which("wrk") is None:
        raise RuntimeError(WRK_HINT)
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    took = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errs = re.search(r"Socket errors:.*", out)
    return {
        "rps": rps,
        "p50_ms": p50,
        "p99_ms": p99,
        "non_2xx": float(bad.group(1)) if bad else 0.0,
        "wrk_cpu_share": cpu / took,
        "socket_errors": 1.0 if errs else 0.0,
    }


def _cpu_seconds(proc: subprocess.Popen[bytes]) -> float:
    """User + system CPU seconds of a running process, all its threads (Linux ``/proc``)."""
    fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _spawn(cmd: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run(
    workdir: Path, flows: int, runs_per_flow: int, duration: int, connections: int, repeat: int
) -> list[Measurement]:
    home = workdir / "homes" / "api"
    if home.exists():
        shutil.rmtree(home)
    with BenchService(home, role="api") as svc:
        ids = populate(
            svc,
            workdir / "data",
            flows,
            schedule={"startTime": FAR_FUTURE, "frequency": "once"},
            runs_per_flow=runs_per_flow,
        )
        creds = dict(svc.ctx.credentials)
    flow_id = ids[len(ids) // 2]
    paths = {
        "GET /flows/{id}": f"{FS}/flows/{flow_id}",
        "GET /runs?property=flowId==…": f"{FS}/runs?property=flowId=={flow_id}",
    }
    env = {**os.environ, "XDMFLOW_HOME": str(home)}
    port = _free_port()
    server = _spawn(
        [sys.executable, "-m", "xdmflow.cli.main", "serve", "--role", "api", "--port", str(port)], env
    )
    results: list[Measurement] = []
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_up(f"{base}/health")
        tok = httpx.post(
            f"{base}/ims/token/v3",
            data={
                "grant_type": "client_credentials",
                "client_id": creds["client_id"],
                "client_secret": creds["client_secret"],
            },
        ).json()["access_token"]
        headers = {
            "Authorization": f"Bearer {tok}",
            "x-api-key": creds["client_id"],
            "x-gw-ims-org-id": creds["org_id"],
            "x-sandbox-name": "prod",
        }
        bodies = {}
        for key, name in (("flow", "GET /flows/{id}"), ("runs", "GET /runs?property=flowId==…")):
            r = httpx.get(base + paths[name], headers=headers)
            r.raise_for_status()
            bodies[key] = r.json()
        assert len(bodies["runs"]["items"]) == runs_per_flow, len(bodies["runs"]["items"])
        body_file = workdir / "api-bodies.json"
        body_file.write_text(json.dumps(bodies), encoding="utf-8")
        mport = _free_port()
        minimal = _spawn(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.systems.minimal_app:app",
                "--port",
                str(mport),
                "--log-level",
                "warning",
            ],
            {**env, "BENCH_BODIES": str(body_file)},
        )
        try:
            mbase = f"http://127.0.0.1:{mport}"
            _wait_up(mbase + paths["GET /flows/{id}"])
            for name, path in paths.items():
                ours = Measurement("xdmflow API", name, 0)
                anchor = Measurement("minimal FastAPI", name, 0)
                for i in range(repeat):
                    for m, url, h, proc in (
                        (anchor, mbase + path, {}, minimal),
                        (ours, base + path, headers, server),
                    ):
                        wrk(url, h, 2, connections)  # warm-up
                        cpu0 = _cpu_seconds(proc)
                        res = wrk(url, h, duration, connections)
                        # the server's CPU per request: steadier than req/s on a shared machine
                        res["server_cpu_ms_per_req"] = (
                            (_cpu_seconds(proc) - cpu0) * 1000 / max(res["rps"] * duration, 1)
                        )
                        if res["non_2xx"]:
                            raise RuntimeError(f"{url}: {res['non_2xx']:.0f} non-2xx responses")
                        for k, v in res.items():
                            m.extra.setdefault(k, []).append(v)
                        m.seconds.append(1 / res["rps"])
                        print(
                            f"    {m.system:16s} {name} {i + 1}: {res['rps']:,.0f} req/s, "
                            f"p50 {res['p50_ms']:.1f} ms, p99 {res['p99_ms']:.1f} ms, "
                            f"server CPU {res['server_cpu_ms_per_req']:.2f} ms/req "
                            f"(wrk CPU {res['wrk_cpu_share']:.0%})",
                            flush=True,
                        )
                size = len(json.dumps(bodies["flow" if "flows" in name else "runs"]))
                ours.notes = anchor.notes = (
                    f"{connections} connections, {duration} s per run, body {size:,} B"
                )
                results += [ours, anchor]
        finally:
            _stop(minimal)
    finally:
        _stop(server)
    for m in results:
        m.extra["flows_in_store"] = flows
        m.extra["runs_in_store"] = flows * runs_per_flow
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--flows", type=int, default=10_000)
    ap.add_argument("--runs-per-flow", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json-out")
    a = ap.parse_args()
    emit(a.json_out, run(a.workdir, a.flows, a.runs_per_flow, a.duration, a.connections, a.repeat))


if __name__ == "__main__":
    main()

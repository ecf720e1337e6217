"""The steps of scripts/gpu_check.sh, run with the installed sngan (never the checkout's folder).

    python gpu_check.py --mode gpu|cpu-smoke --out DIR --tests TESTS_DIR --pyproject PYPROJECT

Each step writes its log to DIR/<step>.log and its figures to DIR/gpu_check.json; the exit code is 0 only when
every step passed. cpu-smoke runs the same steps at tiny sizes on the CPU (aot_eager instead of inductor, no
CUDA graphs), so the script itself is proven before a GPU's minutes are spent on it.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time

EXIT_INTERRUPTED = 75  # sngan.errors.EXIT_INTERRUPTED: stopped by SIGTERM after a checkpoint


def sizes(mode: str) -> dict:
    """Run lengths and widths per mode: gpu fits 7 minutes on one H200, cpu-smoke 5 minutes on 2 cores."""
    if mode == "gpu":
        return {"device": "cuda", "resume_steps": 400, "cut_after": 100, "resume_widths": [],
                "presets": "default,gpu,reduce-overhead", "tp_steps": 60, "tp_warmup": 20, "paper_widths": [],
                "batch": 64, "oh_steps": 60, "oh_d_steps": 30}
    return {"device": "cpu", "resume_steps": 16, "cut_after": 8, "resume_widths": ["arch.g_ch=16", "arch.d_ch=8"],
            "presets": "default,aot_eager", "tp_steps": 2, "tp_warmup": 2,
            "paper_widths": ["arch.g_ch=16", "arch.d_ch=16", "optim.g_batch_size=8"], "batch": 4, "oh_steps": 2,
            "oh_d_steps": 1}


class Check:
    def __init__(self, out: str, mode: str):
        self.out, self.mode, self.steps = out, mode, {}
        self.sngan = [sys.executable, "-m", "sngan.cli"]

    def log(self, name: str) -> str:
        return os.path.join(self.out, f"{name}.log")

    def run(self, name: str, args: list[str], env: dict | None = None, timeout: int = 420) -> int:
        with open(self.log(name), "a") as f:
            f.write("$ " + " ".join(args) + "\n")
            f.flush()
            try:
                return subprocess.run(args, stdout=f, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
                                      timeout=timeout).returncode
            except subprocess.TimeoutExpired:
                f.write(f"timed out after {timeout} s\n")
                return 124

    def step(self, name: str, func) -> None:
        start = time.time()
        try:
            result = func()
        except Exception as e:  # a step that breaks is a failed step with its reason, the others still run
            result = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        result["seconds"] = round(time.time() - start, 1)
        self.steps[name] = result
        print(f"{name:12} {'ok' if result['ok'] else 'FAIL'} {result['seconds']:7.1f} s  "
              + json.dumps({k: v for k, v in result.items() if k not in ('ok', 'seconds')})[:300], flush=True)
        self.write()

    def write(self) -> None:
        import torch

        record = {"mode": self.mode, "torch": torch.__version__,
                  "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
                  "ok": all(s["ok"] for s in self.steps.values()), "steps": self.steps}
        with open(os.path.join(self.out, "gpu_check.json"), "w") as f:
            json.dump(record, f, indent=2)


def installed_sngan() -> dict:
    """Where sngan is imported from: it must be the installed copy, with its configs inside."""
    import sngan
    import sngan.conf

    where = os.path.dirname(sngan.__file__)
    checkout = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    shadowed = os.path.realpath(where).startswith(os.path.realpath(checkout) + os.sep)
    return {"ok": not shadowed and os.path.isfile(os.path.join(where, "conf", "train.yaml")), "sngan": where}


def generator_difference(run_a: str, run_b: str) -> tuple[float, int, int]:
    """Max abs difference of G's weights between the newest checkpoints of two runs, and their steps."""
    import torch

    def newest(run):
        folder = os.path.join(run, "checkpoints")
        name = sorted(f for f in os.listdir(folder) if f.startswith("ckpt_") and f.endswith(".pt"))[-1]
        return torch.load(os.path.join(folder, name), map_location="cpu", weights_only=True)

    a, b = newest(run_a), newest(run_b)
    diff = max((a["G"][k].float() - b["G"][k].float()).abs().max().item() for k in a["G"]
               if a["G"][k].is_floating_point())
    return diff, int(a["step"]), int(b["step"])


def scalar_step(run: str) -> int:
    try:
        with open(os.path.join(run, "scalars.jsonl")) as f:
            return max((json.loads(line)["step"] for line in f if line.strip()), default=0)
    except (OSError, ValueError):
        return 0


def resume(check: Check, s: dict, preset: str) -> dict:
    """Train, stop with SIGTERM early, rerun the same command: it must resume from the stop's checkpoint and end as
    close to a run that was never stopped as two unstopped runs are to each other (CUDA kernels are not all
    deterministic: that distance is the floor); bitwise equal on the CPU's default path."""
    name = f"resume_{preset.replace('-', '_')}"
    root = os.path.join(check.out, name)
    job = ["train", "dataset=digits", "arch=dcgan", f"speed={'gpu' if preset != 'default' else 'default'}",
           f"device={s['device']}", f"train.steps={s['resume_steps']}", "train.log_every=2", "train.progress=false",
           "metrics.enabled=false", "train.ckpt_every=100000", "train.sample_every=100000", *s["resume_widths"]]
    if preset == "aot_eager":
        job.append("speed.compile=aot_eager")
    full, again, cut = (os.path.join(root, n) for n in ("full", "full_again", "cut"))
    with open(check.log(name), "a") as f:  # two uninterrupted runs and the one to stop, side by side
        unstopped = [subprocess.Popen(check.sngan + job + [f"hydra.run.dir={d}"], stdout=f, stderr=subprocess.STDOUT)
                     for d in (full, again)]
        stopped = subprocess.Popen(check.sngan + job + [f"hydra.run.dir={cut}"], stdout=f, stderr=subprocess.STDOUT)
        deadline = time.time() + 300
        while scalar_step(cut) < s["cut_after"] and stopped.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        stopped.send_signal(signal.SIGTERM)
        stop_rc = stopped.wait(timeout=300)
        full_rcs = [p.wait(timeout=420) for p in unstopped]
    stopped_at = scalar_step(cut)
    rerun_rc = check.run(name, check.sngan + job + [f"hydra.run.dir={cut}"])
    with open(check.log(name)) as f:
        resumed = re.search(r"resumed from \S+ at step \d+", f.read()) is not None
    diff, step_full, step_cut = generator_difference(full, cut)
    floor = generator_difference(full, again)[0]
    exact_expected = s["device"] == "cpu" and preset == "default"
    close = diff == 0.0 if exact_expected else diff <= 10 * floor + 1e-5
    ok = (full_rcs == [0, 0] and stop_rc == EXIT_INTERRUPTED and rerun_rc == 0 and resumed
          and step_full == step_cut == s["resume_steps"] and stopped_at < s["resume_steps"] and close)
    return {"ok": ok, "max_abs_G_diff": diff, "unstopped_runs_max_abs_G_diff": floor,
            "bitwise_expected": exact_expected, "stopped_near_step": stopped_at,
            "exit_codes": {"uninterrupted": full_rcs, "sigterm": stop_rc, "rerun": rerun_rc}, "resumed": resumed}


def throughput(check: Check, s: dict) -> dict:
    """G updates/s of the paper's ResNet CIFAR-10 job per speed preset, compile logs on (graph breaks and
    recompiles are counted from this same run)."""
    out = os.path.join(check.out, "throughput.json")
    rc = check.run("throughput", check.sngan + [
        "bench", "--throughput", "--pairs", "resnet:cifar10", "--presets", s["presets"], "--steps", str(s["tp_steps"]),
        "--warmup", str(s["tp_warmup"]), "--batch-size", str(s["batch"]), "--device", s["device"], "--json", out,
        *s["paper_widths"]], env={"TORCH_LOGS": "graph_breaks,recompiles"})
    rows = json.load(open(out)) if rc == 0 and os.path.exists(out) else []
    per_preset = {r["options"]: round(r["G_updates_per_s"], 2) for r in rows if "G_updates_per_s" in r}
    failed = {r["options"]: r["error"] for r in rows if "error" in r}
    return {"ok": rc == 0 and not failed and len(per_preset) == len(s["presets"].split(",")),
            "G_updates_per_s": per_preset, "failed": failed, "job": "experiment=cifar10_resnet_sn, synthetic CIFAR-10"}


def compile_counts(check: Check) -> dict:
    """Graph breaks and recompiles in the throughput run's compiled presets (TORCH_LOGS). Expected: no graph break,
    and no function reaching dynamo's recompile limit (G and D share the fast path's forward, so its entries are
    the grad-mode and shape variants of both: 3 recompiles on the CPU smoke run of the digits CNN)."""
    text = open(check.log("throughput")).read()
    breaks = len(re.findall(r"Graph break", text))
    recompiles = len(re.findall(r"Recompiling function", text))
    limit_hit = len(re.findall(r"(recompile_limit|cache_size_limit) reached", text))
    return {"ok": os.path.exists(check.log("throughput")) and breaks == 0 and limit_hit == 0,
            "graph_breaks": breaks, "recompiles": recompiles, "recompile_limit_hit": limit_hit}


def overhead(check: Check, s: dict) -> dict:
    """The same job in the trainer and in a bare loop of the same modules: the trainer's overhead."""
    out = os.path.join(check.out, "overhead.json")
    rc = check.run("overhead", check.sngan + [
        "bench", "--overhead", "--arch", "resnet", "--dataset", "cifar10", "--steps", str(s["oh_steps"]),
        "--warmup", str(s["tp_warmup"]), "--d-steps", str(s["oh_d_steps"]), "--repeats", "1",
        "--batch-size", str(s["batch"]), "--device", s["device"], "--json", out, *s["paper_widths"]])
    if rc != 0:
        return {"ok": False, "exit_code": rc}
    r = json.load(open(out))
    return {"ok": True, "trainer_over_bare": round(r["trainer_over_bare"], 3),
            "bare_G_updates_per_s": round(100.0 / r["bare_sec_per_100"], 2),
            "trainer_G_updates_per_s": round(100.0 / r["trainer_sec_per_100"], 2),
            "sn_over_none_d_step": round(r["sn_over_none"], 3)}


def host_syncs(check: Check, s: dict) -> dict:
    """FLOPs, aten ops and (on CUDA) host synchronizations per G update of the paper's job: 0 syncs expected."""
    out = os.path.join(check.out, "ops.json")
    rc = check.run("ops", check.sngan + ["bench", "--ops", "--arch", "resnet", "--dataset", "cifar10",
                                         "--device", s["device"], "--json", out, f"batch_size={s['batch']}",
                                         *s["paper_widths"]])
    if rc != 0:
        return {"ok": False, "exit_code": rc}
    r = json.load(open(out))
    grouped = r["grouped_sn"]
    syncs = {k: grouped[k] for k in ("sync_debug_warnings", "profiler_synchronizations", "profiler_dtoh_copies")
             if k in grouped}
    return {"ok": s["device"] == "cpu" or (len(syncs) == 3 and not any(syncs.values())),
            "TFLOP_per_G_update": round(grouped["flops"] / 1e12, 4),
            "aten_ops": {"per_layer_sn": r["per_layer_sn"]["aten_ops"], "grouped_sn": grouped["aten_ops"]},
            "host_syncs": syncs if syncs else "not counted on the CPU"}


def gpu_tests(check: Check, tests: str, pyproject: str) -> dict:
    rc = check.run("gpu_tests", [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider",
                                 "-c", pyproject, "--rootdir", os.path.dirname(pyproject), tests])
    text = open(check.log("gpu_tests")).read()
    counts = dict((k, int(n)) for n, k in re.findall(r"(\d+) (passed|failed|skipped|deselected|error)", text))
    # exit 5: none collected; on the CPU the gpu tests skip, which is a pass of the script's path
    return {"ok": rc == 0 or (check.mode == "cpu-smoke" and rc == 5), "exit_code": rc, **counts}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["gpu", "cpu-smoke"], required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--tests", required=True)
    parser.add_argument("--pyproject", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    s = sizes(args.mode)
    check = Check(args.out, args.mode)
    check.step("install", installed_sngan)
    if not check.steps["install"]["ok"]:
        sys.exit(1)
    for preset in (["default", "gpu"] if args.mode == "gpu" else ["default", "aot_eager"]):
        check.step(f"resume_{preset.replace('-', '_')}", lambda p=preset: resume(check, s, p))
    check.step("throughput", lambda: throughput(check, s))
    check.step("compile", lambda: compile_counts(check))
    check.step("overhead", lambda: overhead(check, s))
    check.step("host_syncs", lambda: host_syncs(check, s))
    check.step("gpu_tests", lambda: gpu_tests(check, args.tests, args.pyproject))
    ok = all(step["ok"] for step in check.steps.values())
    print(f"gpu_check {args.mode}: {'all steps passed' if ok else 'FAILED'}; {os.path.join(args.out, 'gpu_check.json')}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

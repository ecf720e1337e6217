"""Data-parallel training under torchrun: one process per device, one run folder, rank 0 writes.

`torchrun --nproc_per_node=N $(which sngan) train ...` sets RANK, WORLD_SIZE, LOCAL_RANK and
MASTER_ADDR/PORT in each process. Every rank then:
- joins one process group (gloo for CPU tensors, NCCL for CUDA tensors);
- uses the run folder rank 0 chose (`shared_run_dir`), and only rank 0 writes into it;
- takes rows rank::world of every global batch (real images via BatchPlan, noise via `shard`), so the
  global batch equals the single-process batch_size;
- trains through DistributedDataParallel wrappers (`wrap`), which all-reduce gradients during
  backward: D's wrapper in the D step, G's in the G step. G's loss calls the plain D, so that pass
  syncs nothing for D (its gradients there are zeroed before D's next step anyway);
- keeps the plain modules for everything else (state dicts, EMA, samples, sigma reports), so layer
  names in checkpoints and TB tags carry no 'module.' prefix;
- copies rank 0's buffers (BN running statistics; SN's u/v agree anyway) to all ranks once after each G
  step, so every rank holds the same state at every step boundary (`broadcast_buffers`; DDP's own broadcast
  before every forward is off, it would only repeat that copy).
"""
from __future__ import annotations

import atexit
import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from ..errors import ConfigError


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def adopt_submitit_tasks() -> bool:
    """Inside a submitit job of several tasks (hydra/launcher=slurm with hydra.launcher.gpus_per_node=N runs
    N tasks per node), set torchrun's variables from submitit's job environment, so the same rules hold:
    one process group, one run folder, rank 0 writes. False outside such a job."""
    if not os.environ.get("SUBMITIT_EXECUTOR") or "WORLD_SIZE" in os.environ:
        return False
    import submitit

    env = submitit.JobEnvironment()
    if env.num_tasks <= 1:
        return False
    digits = "".join(c for c in str(env.job_id) if c.isdigit()) or "0"
    os.environ.update(RANK=str(env.global_rank), WORLD_SIZE=str(env.num_tasks), LOCAL_RANK=str(env.local_rank),
                      MASTER_ADDR=os.environ.get("MASTER_ADDR", env.hostnames[0]),
                      MASTER_PORT=os.environ.get("MASTER_PORT", str(20000 + int(digits[-6:]) % 20000)))
    return True


def init_from_env() -> bool:
    """Join the process group torchrun (or a multi-task submitit job) describes, once; False when neither."""
    adopt_submitit_tasks()
    if not launched_by_torchrun():
        return False
    if not dist.is_initialized():
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if torch.cuda.is_available():
            torch.cuda.set_device(local_rank % torch.cuda.device_count())
            backend = "cpu:gloo,cuda:nccl"  # gloo for small CPU messages (run folder, flags), NCCL for tensors
        else:
            backend = "gloo"
        # rank 0 alone runs the metrics (minutes for 50k Inception samples) while the others wait in
        # the next collective: allow that wait, well past the default 10 minutes
        minutes = int(os.environ.get("SNGAN_DIST_TIMEOUT_MIN", "120"))
        dist.init_process_group(backend=backend, timeout=datetime.timedelta(minutes=minutes))
        atexit.register(_destroy)
    return True


def _destroy() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def agree_run_dir(run_dir: str) -> str:
    """Under torchrun (or a multi-task submitit job): join the process group and return rank 0's run folder on
    every rank (each composed its own config; only rank 0's folder is used). Elsewhere `run_dir` itself."""
    if not init_from_env():
        return run_dir
    chosen = [run_dir]
    dist.broadcast_object_list(chosen, src=0, device=torch.device("cpu"))
    return chosen[0]


@dataclass
class Parallel:
    """This process's place in the run: rank, world size, whether it writes."""

    rank: int = 0
    world: int = 1

    @property
    def is_writer(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def device(self, device: torch.device) -> torch.device:
        """One GPU per process: cuda -> cuda:LOCAL_RANK under torchrun; an explicit index would put every
        rank on that one GPU, so it is refused."""
        if self.active and device.type == "cuda":
            if device.index is not None:
                raise ConfigError(f"device={device} under torchrun would put every rank on that GPU: pass device=cuda "
                                  f"or device=auto (rank r uses cuda:LOCAL_RANK)")
            return torch.device("cuda", torch.cuda.current_device())
        return device

    def shared_run_dir(self, run_dir: str) -> str:
        """Rank 0's run folder (an absolute path) on every rank."""
        chosen = [os.path.abspath(run_dir)]
        if self.active:
            dist.broadcast_object_list(chosen, src=0, device=torch.device("cpu"))
        return chosen[0]

    def check_batch(self, batch_size: int, key: str = "batch_size") -> None:
        if batch_size % self.world:
            raise ConfigError(f"{key}={batch_size} does not split over {self.world} processes: "
                              f"pass a {key} divisible by {self.world}")

    def shard(self, batch: torch.Tensor | None) -> torch.Tensor | None:
        """This rank's rows of a global batch (rows rank, rank+world, ..., as BatchPlan splits data)."""
        return batch if batch is None or not self.active else batch[self.rank::self.world]

    def shard_stream(self, stream):
        return ShardedStream(stream, self) if self.active else stream

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def wrap(self, module: nn.Module) -> nn.Module:
        """module inside DistributedDataParallel (which also copies rank 0's parameters and buffers
        to every rank now); the module itself when not distributed."""
        if not self.active:
            return module
        from torch.nn.parallel import DistributedDataParallel

        device = next(module.parameters()).device
        return DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None,
                                       broadcast_buffers=False)  # broadcast_buffers() copies them once per G step

    def broadcast_buffers(self, *modules: nn.Module) -> None:
        """Rank 0's buffers on every rank (BN running statistics; SN's u/v agree anyway)."""
        if not self.active:
            return
        _coalesced([b for m in modules for b in m.buffers()], lambda flat: dist.broadcast(flat, src=0))

    def average_scalars(self, values: dict[str, float]) -> dict[str, float]:
        """Logged values averaged over ranks (each rank's loss is its shard's mean)."""
        if not self.active or not values:
            return values
        keys = sorted(values)
        t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64)
        dist.all_reduce(t.div_(self.world))
        return dict(zip(keys, t.tolist()))

    def max_tensor(self, t: torch.Tensor) -> torch.Tensor:
        """The elementwise max of `t` over ranks (a device tensor stays on its device)."""
        if not self.active:
            return t
        t = t.clone()
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return t

    def any_flags(self, flags: list[bool]) -> list[bool]:
        """Each flag true on every rank when it is true on any (a stop signal may reach one rank first)."""
        if not self.active:
            return list(flags)
        t = torch.tensor([1 if f else 0 for f in flags])
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return [bool(v) for v in t.tolist()]


def _coalesced(tensors: list[torch.Tensor], collective) -> None:
    """Run `collective` on one flat buffer per (device, dtype) and copy the result back."""
    groups: dict = {}
    for t in tensors:
        groups.setdefault((t.device, t.dtype), []).append(t)
    for group in groups.values():
        flat = torch.cat([t.reshape(-1) for t in group])
        collective(flat)
        offset = 0
        for t in group:
            t.copy_(flat[offset:offset + t.numel()].view_as(t))
            offset += t.numel()


def setup(batch_size: int) -> Parallel:
    """This process's Parallel: joins torchrun's process group when there is one."""
    if not (init_from_env() or (dist.is_available() and dist.is_initialized())):
        return Parallel()
    par = Parallel(dist.get_rank(), dist.get_world_size())
    par.check_batch(int(batch_size))
    return par


class ShardedStream:
    """This rank's rows of each global batch of a stream that yields whole batches (2-D points)."""

    def __init__(self, stream, par: Parallel):
        self.stream, self.par = stream, par

    @property
    def position(self) -> int:
        return self.stream.position

    def next(self):
        return tuple(self.par.shard(t) for t in self.stream.next())

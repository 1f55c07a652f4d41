"""Did anything else compete for the device while a point was sampled?

A number measured while another process held a core or the GPU says how busy the machine
was, not how fast the operator is (with a busy neighbour, the same point's median varied
10–30× between processes, issue 10). A probe is read before and after the sampling phase;
``assess`` turns its readings into a verdict with the reasons.

CPU (Linux): the scheduler's own account. ``/proc/self/task/*/schedstat`` gives, per thread
of this process, the time spent *runnable but waiting for a CPU*; summed over threads and
divided by threads × wall time of the sampling phase it is the **wait share**. A quiet
machine keeps it near zero; a neighbour spinning on one of two cores pushes it to 0.3–0.5.
The CPU share (process CPU time / (threads × wall)) and the load (``/proc/loadavg``: the
1-minute average and the instantaneous count of runnable tasks) are recorded beside it.

CUDA (NVML, the optional ``nvidia-ml-py``): other processes on the GPU, the throttle reasons
(thermal and power-brake slowdowns), and the SM clock against its maximum.

Thresholds (a point is contended when any holds):
- CPU: wait share > ``CPU_WAIT_SHARE`` (0.10: threads waited for a core over 10 % of the
  time); without schedstat, CPU share < ``CPU_SHARE_FLOOR`` (0.5) together with a 1-minute
  load above the core count;
- CUDA: another compute process on the device; an active thermal, slowdown or power-brake
  throttle reason; SM clock below ``SM_CLOCK_FLOOR`` (0.8) × its maximum at the end of
  sampling.
"""

from __future__ import annotations

import glob
import os

import torch

CPU_WAIT_SHARE = 0.10
CPU_SHARE_FLOOR = 0.5
SM_CLOCK_FLOOR = 0.8


def _schedstat_wait_ns() -> int | None:
    """Total ns this process's threads spent runnable but not running (None: unsupported)."""
    total, seen = 0, False
    for path in glob.glob("/proc/self/task/*/schedstat"):
        try:
            with open(path) as handle:
                total += int(handle.read().split()[1])
                seen = True
        except (OSError, IndexError, ValueError):
            continue  # a thread that ended between glob and open
    return total if seen else None


def _load() -> tuple[float | None, int | None]:
    """(1-minute load average, tasks runnable now) from /proc/loadavg."""
    try:
        with open("/proc/loadavg") as handle:
            fields = handle.read().split()
        return float(fields[0]), int(fields[3].split("/")[0])
    except (OSError, IndexError, ValueError):
        return None, None


class CpuProbe:
    def __init__(self) -> None:
        self.wait0: int | None = None

    def start(self) -> None:
        self.wait0 = _schedstat_wait_ns()

    def stop(self, wall_s: float, cpu_s: float, threads: int) -> dict:
        wait1 = _schedstat_wait_ns()
        load1, running = _load()
        waited = (
            (wait1 - self.wait0) / 1e9 if wait1 is not None and self.wait0 is not None else None
        )
        span = max(wall_s, 1e-9) * threads
        return {
            "cores": os.cpu_count(),
            "threads": threads,
            "wait_share": None if waited is None else waited / span,
            "cpu_share": cpu_s / span,
            "load_1min": load1,
            "runnable_now": running,
        }


class CudaProbe:
    """NVML readings; records why it could not read them instead of failing."""

    def __init__(self, device: torch.device) -> None:
        self.index = device.index if device.index is not None else torch.cuda.current_device()
        self.handle, self.error = None, None
        try:
            import pynvml

            pynvml.nvmlInit()
            self.nvml = pynvml
            self.handle = pynvml.nvmlDeviceGetHandleByIndex(self.index)
        except Exception as error:  # not installed, no driver library, no permission
            self.error = f"NVML unavailable: {type(error).__name__}: {error}"

    def start(self) -> None:
        pass

    def stop(self, wall_s: float, cpu_s: float, threads: int) -> dict:
        if self.handle is None:
            return {"nvml": self.error}
        nvml, handle = self.nvml, self.handle
        try:
            reasons = nvml.nvmlDeviceGetCurrentClocksThrottleReasons(handle)
            slowdowns = {
                "hw_slowdown": nvml.nvmlClocksThrottleReasonHwSlowdown,
                "sw_thermal": nvml.nvmlClocksThrottleReasonSwThermalSlowdown,
                "hw_thermal": nvml.nvmlClocksThrottleReasonHwThermalSlowdown,
                "hw_power_brake": nvml.nvmlClocksThrottleReasonHwPowerBrakeSlowdown,
            }
            others = [
                p.pid
                for p in nvml.nvmlDeviceGetComputeRunningProcesses(handle)
                if p.pid != os.getpid()
            ]
            return {
                "sm_clock_mhz": nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_SM),
                "sm_clock_max_mhz": nvml.nvmlDeviceGetMaxClockInfo(handle, nvml.NVML_CLOCK_SM),
                "throttle": sorted(name for name, bit in slowdowns.items() if reasons & bit),
                "other_processes": others,
            }
        except Exception as error:
            return {"nvml": f"NVML query failed: {type(error).__name__}: {error}"}


def probe(device: torch.device) -> CpuProbe | CudaProbe:
    return CudaProbe(device) if device.type == "cuda" else CpuProbe()


def assess(readings: dict) -> list[str]:
    """The reasons a sampling phase counts as contended (empty: it does not)."""
    reasons = []
    wait = readings.get("wait_share")
    if wait is not None and wait > CPU_WAIT_SHARE:
        reasons.append(f"threads waited for a CPU {wait:.0%} of the time (> {CPU_WAIT_SHARE:.0%})")
    load, cores = readings.get("load_1min"), readings.get("cores")
    share = readings.get("cpu_share")
    no_schedstat = wait is None and share is not None and load is not None and cores
    if no_schedstat and share < CPU_SHARE_FLOOR and load > cores:
        reasons.append(
            f"CPU share {share:.0%} < {CPU_SHARE_FLOOR:.0%} with load {load:.1f} > {cores} cores"
        )
    if readings.get("other_processes"):
        reasons.append(f"other processes on the GPU: {readings['other_processes']}")
    if readings.get("throttle"):
        reasons.append(f"GPU throttled: {', '.join(readings['throttle'])}")
    clock, top = readings.get("sm_clock_mhz"), readings.get("sm_clock_max_mhz")
    if clock and top and clock < SM_CLOCK_FLOOR * top:
        reasons.append(f"SM clock {clock} MHz < {SM_CLOCK_FLOOR:.0%} of {top} MHz")
    return reasons

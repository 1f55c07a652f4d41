"""Ahead-of-time compilation of the Triton Monarch kernel for GPUs this machine does not have.

``triton.compile`` lowers the kernel to PTX and a cubin for any CUDA target with no GPU
present; ``cuobjdump`` (shipped in the triton wheel) reads the cubin's resource usage. That is
how every shipped configuration is checked for what a GPU would refuse or run slowly: local-
memory spills, shared memory over the per-block limit, and DFTs that missed the tensor cores.

Nothing here runs the kernel: these are static facts about compiled code, not measurements.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import re
import subprocess
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass

import torch

from hyperf.ops.longconv import triton_monarch as tm

# Largest dynamic shared memory one block may opt into (CUDA C Programming Guide, Table 21):
# the SM's 164 KB (A100) / 228 KB (H100) less the 1 KB the driver reserves per block.
SHARED_LIMIT = {80: 163 * 1024, 90: 227 * 1024}
TARGETS = tuple(SHARED_LIMIT)
DTYPE_NAMES = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}
# SASS opcodes worth counting: tensor-core MMAs, global/shared/local memory, barriers.
SASS_GROUPS = {
    "mma": ("HMMA",),
    "wgmma": ("HGMMA",),
    "ld.global": ("LDG",),
    "st.global": ("STG",),
    "shared": ("LDS", "STS", "LDSM"),
    "local": ("LDL", "STL"),
    "barrier": ("BAR",),
}


@dataclass(frozen=True)
class CompiledConfig:
    """What the compiler made of one (FFT size, configuration, dtype, target)."""

    target: int
    n: int
    factors: tuple[int, int]
    stage: str  # "fused", or "spectrum"/"output" of the two-pass scheme
    config: tm.KernelConfig
    dtype: str
    precision: str
    mma_operands: str  # the MMAs' operand types in the PTX, e.g. "f16", "bf16", "tf32"
    registers: int
    stack_bytes: int
    local_bytes: int
    shared_bytes: int
    shared_limit: int
    ptx_mma: int  # mma.sync in the PTX
    ptx_wgmma: int  # wgmma.mma_async in the PTX
    sass: dict[str, int]  # static instruction counts by group
    traffic: tm.Traffic  # the kernel's own account of one program's bytes

    @property
    def spills(self) -> bool:
        return self.stack_bytes > 0 or self.local_bytes > 0 or self.sass.get("local", 0) > 0

    @property
    def fits_shared(self) -> bool:
        return self.shared_bytes <= self.shared_limit

    @property
    def programs_per_sm(self) -> int:
        """Programs one SM holds at once, as its 65536 registers allow."""
        return 65536 // (self.registers * 32 * self.config.num_warps)

    @property
    def uses_tensor_cores(self) -> bool:
        return self.ptx_mma + self.ptx_wgmma > 0

    def as_row(self) -> dict:
        row = asdict(self)
        row.pop("config")
        row.update(self.config.as_dict(), spills=self.spills, fits_shared=self.fits_shared)
        row.update(programs_per_sm=self.programs_per_sm)
        return row


def shipped(target: int, dtype: torch.dtype) -> list[tuple[int, tm.KernelConfig, str]]:
    """Every (FFT size, configuration, stage) the autotuner may pick on this target for dtype."""
    return [
        (n, config, stage)
        for n in tm.FACTORS
        if n <= tm.max_fft(target, dtype)
        for config in tm.configs(n, dtype)
        for stage in tm.stages(tm.shape(n // 2, dtype, target))
    ]


def tool(name: str) -> str:
    """Path of a CUDA binary tool shipped inside the triton wheel."""
    import triton

    path = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", name)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{name} not found at {path}; reinstall triton")
    return path


def signature(dtype: torch.dtype) -> dict[str, str]:
    """Triton argument types: rows, scratch and DFT factors in the input dtype, twiddles, K̂
    and D in fp32, sizes i32."""
    in_dtype = {"x_ptr", "y_ptr", "e_ptr", "gate_in_ptr", "gate_out_ptr"}
    in_dtype |= {"f1_r_ptr", "f1_i_ptr", "f2_r_ptr", "f2_i_ptr", "f2_ni_ptr"}
    types = {}
    for name in tm.kernel_arg_names():
        if name in in_dtype:
            types[name] = "*" + DTYPE_NAMES[dtype]
        elif name.endswith("_ptr"):
            types[name] = "*fp32"
        elif name.isupper():
            types[name] = "constexpr"
        else:
            types[name] = "i32"
    return types


@functools.cache
def compile_config(n: int, config: tm.KernelConfig, dtype: torch.dtype, target: int, stage: str):
    """Compile one stage with gates and skip on (the largest variant) for sm_<target>."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    s = tm.shape(n // 2, dtype, target)
    constants = dict(
        N1=s.n1, N2=s.n2, STAGE=tm.STAGES[stage], **config.constants(),
        HAS_SKIP=True, HAS_GATE_IN=True, HAS_GATE_OUT=True, PRECISION=tm.precision(dtype),
    )  # fmt: skip
    source = ASTSource(tm.compiled_kernel(), signature(dtype), constants)
    options = {"num_warps": config.num_warps, "num_stages": config.num_stages}
    options["enable_fp_fusion"] = True  # what a launch compiles with by default
    return triton.compile(source, target=GPUTarget("cuda", target, 32), options=options)


def resource_usage(cubin: bytes) -> dict[str, int]:
    """REG, STACK, SHARED, LOCAL of the kernel, from ``cuobjdump --dump-resource-usage``."""
    text = _cuobjdump(cubin, "--dump-resource-usage")
    found = re.search(r"REG:(\d+) STACK:(\d+) SHARED:(\d+) LOCAL:(\d+)", text)
    if not found:
        raise RuntimeError(f"cuobjdump printed no resource usage:\n{text}")
    return dict(zip(("REG", "STACK", "SHARED", "LOCAL"), map(int, found.groups()), strict=True))


def sass_mix(cubin: bytes) -> dict[str, int]:
    """Static count of SASS instructions by group (``cuobjdump -sass``)."""
    line = r"/\*[0-9a-f]{4}\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9]*)"  # /*0040*/ @P0 OPCODE
    opcodes = re.findall(line, _cuobjdump(cubin, "-sass"))
    return {
        group: sum(1 for op in opcodes if op.startswith(prefixes))
        for group, prefixes in SASS_GROUPS.items()
    }


def _cuobjdump(cubin: bytes, flag: str) -> str:
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(cubin)
        f.flush()
        done = subprocess.run([tool("cuobjdump"), flag, f.name], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"cuobjdump {flag} failed: {done.stderr.strip()}")
    return done.stdout


def mma_operand_types(ptx: str) -> str:
    """The operand types of the PTX's MMAs: mma.sync's A type, wgmma's A type, e.g. "f16"."""
    found = re.findall(r"\bmma\.sync\.aligned\.m\d+n\d+k\d+\.row\.col\.f32\.(\w+)\.", ptx)
    found += re.findall(r"\bwgmma\.mma_async\.sync\.aligned\.m\d+n\d+k\d+\.f32\.(\w+)\.", ptx)
    return "+".join(sorted(set(found))) or "none"


def inspect(
    n: int, config: tm.KernelConfig, dtype: torch.dtype, target: int, stage: str
) -> CompiledConfig:
    """Compile one configuration and read back what the GPU would be given."""
    kernel = compile_config(n, config, dtype, target, stage)
    s = tm.shape(n // 2, dtype, target)
    cubin, ptx = kernel.asm["cubin"], kernel.asm["ptx"]
    usage = resource_usage(cubin)
    return CompiledConfig(
        target=target,
        n=n,
        factors=(s.n1, s.n2),
        stage=stage,
        config=config,
        dtype=DTYPE_NAMES[dtype],
        precision=tm.precision(dtype),
        mma_operands=mma_operand_types(ptx),
        registers=usage["REG"],
        stack_bytes=usage["STACK"],
        local_bytes=usage["LOCAL"],
        # Triton's dynamic shared memory plus any static allocation ptxas reports.
        shared_bytes=kernel.metadata.shared + usage["SHARED"],
        shared_limit=SHARED_LIMIT[target],
        ptx_mma=len(re.findall(r"\bmma\.sync\.", ptx)),
        ptx_wgmma=len(re.findall(r"\bwgmma\.mma_async\.", ptx)),
        sass=sass_mix(cubin),
        traffic=tm.traffic(s, config, dtype, n // 2, stage),
    )


def _inspect_job(job: tuple) -> CompiledConfig:
    return inspect(*job)


def kernel_table(
    targets: tuple[int, ...] = TARGETS,
    dtypes: tuple[torch.dtype, ...] = tm.DTYPES,
    jobs: int | None = None,
) -> list[CompiledConfig]:
    """Every shipped configuration compiled for every target and dtype, ``jobs`` compiles at
    a time in worker processes (default: one per core; each compile takes seconds)."""
    work = [
        (n, config, dtype, target, stage)
        for target in targets
        for dtype in dtypes
        for n, config, stage in shipped(target, dtype)
    ]
    jobs = jobs or os.cpu_count() or 1
    if jobs == 1:
        return [_inspect_job(job) for job in work]
    context = multiprocessing.get_context("spawn")  # no forked copies of torch's threads
    with ProcessPoolExecutor(jobs, mp_context=context) as pool:
        return list(pool.map(_inspect_job, work))

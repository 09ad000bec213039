"""Host cost per training step (issue 24): a full-depth, tiny-width OLMoE-shaped run whose step is nearly all host work on the CPU.
  write PATH [HIDDEN [EXPERTS]] the proxy checkpoint: OLMoE family, 16 layers, HIDDEN (64) wide, EXPERTS (64) of width HIDDEN/2, top 8, fp32
  run PATH [FLAGS...]          fsdp_qlora_train on it in this process (context 64, batch 2, LoRA r16 on attention and every expert,
                               the GPU default's feature set: --experts_kernel grouped, --compile true, checkpointing, --loss chunked);
                               prints each step line, then one JSON line: median step_s after WARM (3) steps
                               PROFILE=cprofile|torch: profile steps WARM..WARM+PSTEPS (5) and print the top functions (cumulative / self)
  ref PATH                     the reference loop: the same transformers model in bf16, forward (its own loss from labels), backward, AdamW
                               on the attention and expert weights; no quantization, LoRA, FSDP, compile or checkpointing; median step_s
  olmoe FOLDER                 the full-size OLMoE-1B-7B random checkpoint (fsdp_qlora.benchmark's shape) in FOLDER, written unless there
On a GPU `run` also reports, from steps WARM.. (profiler off): syncs a step (torch.cuda.set_sync_debug_mode('warn') over one step: each
wait of the host for the GPU), and, over PSTEPS more steps traced with CUDA activity only (kernels; no CPU op recording), the GPU's busy
time a step (the union of kernel intervals) against the wall time of those steps: host-bound when busy << wall; and the TOP kernels by
GPU time (name, ms a step, calls a step).
OLD_SYNCS=1 puts back the waits issue 24 removed (counts made on the GPU and read there, pageable batch copies, a GPU stop-flag
all-reduce each step, the router walk each step), to A/B them in one call.
Environment: STEPS (12), WARM (3), PSTEPS (5), TOP (40)."""
import os, sys, json, time, statistics
from pathlib import Path

STEPS, WARM, PSTEPS, TOP = (int(os.environ.get(k, d)) for k, d in (('STEPS', 12), ('WARM', 3), ('PSTEPS', 5), ('TOP', 40)))


def write(path, hidden='64', experts='64'):
    from fsdp_qlora.testing import make_tiny_checkpoint
    import torch
    h = int(hidden)
    make_tiny_checkpoint(path, 'olmoe', n_layers=16, max_shard_size='200MB', dtype=torch.float32, hidden_size=h, intermediate_size=h//2,
                         num_experts=int(experts), num_experts_per_tok=8, num_attention_heads=4, num_key_value_heads=4)
    print(path)


def _flags(path, extra):
    base = dict(model_name=path, train_type='custom_qlora', world_size=1, batch_size=2, context_length=64, dataset='random_tokens',
                dataset_samples=2*(STEPS + 2), max_steps=STEPS, lora_rank=16, lora_alpha=32, lora_dropout=0, lora_target_modules='all',
                log_to='stdout', save_model='false', precision='bf16', experts_kernel='grouped', compile='true', loss='chunked',
                use_gradient_checkpointing='true', use_activation_cpu_offload='true', output_dir='/tmp/hostcost_out')
    argv = [f'--{k}={v}' for k, v in base.items()]
    return argv + list(extra)


class Steps:
    "Wraps fsdp_qlora.train.train_step: times each call's start-to-start interval (the full loop iteration) and toggles a profiler"
    def __init__(self, prof=None):
        import fsdp_qlora.train as T
        self.T, self.orig, self.prof, self.n, self.starts, self.cpu = T, T.train_step, prof, 0, [], []
        T.train_step = self

    def __call__(self, *a, **kw):
        self.starts.append(time.perf_counter()); self.cpu.append(time.process_time())
        if self.prof is not None and self.n == WARM: self.prof.enable()
        if self.prof is not None and self.n == WARM + PSTEPS: self.prof.disable()
        self.n += 1
        return self.orig(*a, **kw)

    def median(self, cpu=False):
        t = self.cpu if cpu else self.starts
        d = [b - a for a, b in zip(t, t[1:])][WARM:]
        return statistics.median(d) if d else None


def old_syncs():
    "The train step's host waits before issue 24, put back by patching (OLD_SYNCS=1)"
    import torch, torch.distributed as dist
    import fsdp_qlora.train as T, fsdp_qlora.moe as M, fsdp_qlora.checkpoint as C
    T.host_collectives = lambda: False
    T._to_device = lambda v, dev: v.to(dev, non_blocking=True)
    M.moe_parts = lambda model: ([m for m, _ in M.router_modules(model)], M._causal_lm(model), M._loss_func(M._causal_lm(model)))
    def agreed(self, device):
        flag = torch.tensor(float(self.signum), device=device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return int(flag.item())
    C.Stopper.agreed = agreed


class GpuSteps(Steps):
    "Steps on a GPU: after WARM steps, one step under sync debug 'warn' (its syncs counted), then PSTEPS steps traced for kernels only"
    def __init__(self):
        super().__init__(None)
        self.syncs, self.busy, self.traced, self.trace = None, [], None, None   # not self.prof: Steps' own profiler hook

    def __call__(self, *a, **kw):
        import torch, warnings
        n = self.n
        if n == WARM + 1 + PSTEPS and self.trace is not None: self._stop()
        if n == WARM:
            torch.cuda.synchronize()
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter('always'); torch.cuda.set_sync_debug_mode('warn')
                try: r = super().__call__(*a, **kw)
                finally: torch.cuda.set_sync_debug_mode(0)
            self.syncs = [str(x.message).splitlines()[0][:160] for x in w if 'synchroniz' in str(x.message)]
            return r
        if n == WARM + 1:
            from torch.profiler import profile, ProfilerActivity
            torch.cuda.synchronize()
            self.trace = profile(activities=[ProfilerActivity.CUDA]); self.trace.__enter__(); self.t0 = time.perf_counter()
        return super().__call__(*a, **kw)

    def _stop(self):
        import torch
        torch.cuda.synchronize(); wall = time.perf_counter() - self.t0
        self.trace.__exit__(None, None, None)
        evs = [e for e in self.trace.profiler.kineto_results.events() if e.device_type().name == 'CUDA']   # kernels and copies on the GPU
        iv = sorted((e.start_ns()/1e3, (e.start_ns() + e.duration_ns())/1e3) for e in evs)   # (us)
        by = {}
        for e in evs: t = by.setdefault(e.name()[:70], [0, 0]); t[0] += e.duration_ns()/1e6/PSTEPS; t[1] += 1/PSTEPS
        busy, end = 0, None
        for a, b in iv:                                   # the union of kernel intervals (us)
            if end is None or a > end: busy += b - a; end = b
            elif b > end: busy += b - end; end = b
        self.traced = dict(traced_steps=PSTEPS, traced_wall_s=round(wall/PSTEPS, 4), gpu_busy_s=round(busy/1e6/PSTEPS, 4),
                           kernels_per_step=len(iv)//PSTEPS,
                           top_kernels=[(k, round(ms, 2), round(n, 1)) for k, (ms, n) in sorted(by.items(), key=lambda kv: -kv[1][0])[:TOP]])
        self.trace = None

    def median(self, cpu=False):
        t = self.cpu if cpu else self.starts                 # the steps after the sync-debug and traced ones
        d = [b - a for a, b in zip(t, t[1:])][WARM + 1 + PSTEPS:]
        return statistics.median(d) if d else None


class TorchProf:
    def __init__(self):
        from torch.profiler import profile, ProfilerActivity
        self.p = profile(activities=[ProfilerActivity.CPU])
    def enable(self): self.p.__enter__()
    def disable(self): self.p.__exit__(None, None, None)
    def report(self):
        print(self.p.key_averages().table(sort_by='self_cpu_time_total', row_limit=TOP, max_name_column_width=70))


class CProf:
    def __init__(self):
        import cProfile
        self.p = cProfile.Profile()
    def enable(self): self.p.enable()
    def disable(self): self.p.disable()
    def report(self):
        import pstats, io
        if os.environ.get('PSTATS'): self.p.dump_stats(os.environ['PSTATS'])      # for scripts/hostcost.py table
        for key in ('cumulative', 'tottime'):
            s = io.StringIO(); pstats.Stats(self.p, stream=s).sort_stats(key).print_stats(TOP); print(s.getvalue())


def run(path, *extra):
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    from fsdp_qlora.cli import train_cli
    import torch
    kind = os.environ.get('PROFILE')
    prof = dict(cprofile=CProf, torch=TorchProf)[kind]() if kind else None
    if os.environ.get('OLD_SYNCS') == '1': old_syncs()
    cuda = torch.cuda.is_available() and not kind
    st = GpuSteps() if cuda else Steps(prof)
    if os.environ.get('GUARDS'):                  # GUARDS=skip_nn|skip_globals...: torch.compiler's guard filter for the compiled layers (an experiment)
        import torch, fsdp_qlora.train as T
        from functools import partial
        filt = dict(skip_nn=torch.compiler.skip_guard_on_all_nn_modules_unsafe, keep_tensor=torch.compiler.keep_tensor_guards_unsafe,
                    skip_inbuilt=torch.compiler.skip_guard_on_inbuilt_nn_modules_unsafe)[os.environ['GUARDS']]
        T.compile_layers = partial(T.compile_layers, options=dict(guard_filter_fn=filt))
    t = time.perf_counter()
    try: train_cli(_flags(path, extra))
    except SystemExit as e:
        if e.code: raise
    if prof is not None: prof.report()
    gpu = dict(syncs_per_step=len(st.syncs) if st.syncs is not None else None, syncs=sorted(set(st.syncs or []))[:6], **(st.traced or {})) if cuda else {}
    print(json.dumps(dict(step_s=st.median(), cpu_s=st.median(cpu=True), steps=st.n, warm=WARM, wall_s=round(time.perf_counter() - t, 1), flags=list(extra),
                          old_syncs=os.environ.get('OLD_SYNCS') == '1', profiled=kind, profiled_steps=PSTEPS if kind else 0, **gpu)), flush=True)


def ref(path):
    "The reference loop (see the module's docstring)"
    import torch
    from transformers import AutoModelForCausalLM
    torch.manual_seed(0)
    m = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16)
    for n, p in m.named_parameters(): p.requires_grad_(('proj' in n or 'experts' in n) and 'embed' not in n)
    opt = torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1e-4)
    x = torch.randint(0, 32000, (2, 64))
    ts = []
    for i in range(STEPS):
        t = time.perf_counter()
        out = m(input_ids=x, labels=x)
        out.loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
        ts.append(time.perf_counter() - t)
    print(json.dumps(dict(ref_step_s=statistics.median(ts[WARM:]), steps=STEPS, experts_impl=m.config._experts_implementation
                          if hasattr(m.config, '_experts_implementation') else None)), flush=True)


def olmoe(folder):
    from fsdp_qlora.benchmark import SHAPES, bench_checkpoint
    t = time.perf_counter()
    print(bench_checkpoint(SHAPES['olmoe_1b_7b'], folder), f"{time.perf_counter() - t:.0f}s", flush=True)


if __name__ == '__main__':
    cmd, *args = sys.argv[1:]
    dict(write=write, run=run, ref=ref, olmoe=olmoe)[cmd](*args)

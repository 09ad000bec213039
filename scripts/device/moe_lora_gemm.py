"""Where an OLMoE-1B-7B expert layer's GEMM time goes on one GPU: the frozen base's grouped GEMM against the LoRA's narrow ones.
The OLMoE profile (MoE chapter, `kernels_moe_olmoe_auto_H100_2026-12-07.txt`) has 352 grouped-GEMM calls a step (96 of the base,
256 of the rank-16 LoRA) taking 52.6 ms, and does not say which are which. Here each piece alone, forward + backward, at the
training shape (4,096 tokens, top 8 of 64 experts, hidden 2048, expert intermediate 1024, rank 16, bf16), rows spread evenly:
  base        F.grouped_mm over the dequantized stack, input gradient only (the base is frozen)
  lora        the LoRA update as the grouped rows run it (`_low_rank_grouped`: two grouped GEMMs, gradients of x, A and B)
  lora_dense  gate_up only, whose LoRA input is the token's own row (each token's k pair rows are copies): A for every expert
              as one dense GEMM over the tokens, each pair's r columns gathered, then the grouped B (a candidate, not in the package)
Prints one JSON line per case: median ms of REPS rounds (each 10 calls queued, one wait). On the CPU: a small smoke-test shape.
Usage: python3 scripts/device/moe_lora_gemm.py [reps=10]"""
import sys, json, time, statistics, torch
import torch.nn.functional as F
from fsdp_qlora.moe import _low_rank_grouped

reps = int(sys.argv[1]) if len(sys.argv) > 1 else 10
cuda = torch.cuda.is_available()
dev, dt = torch.device('cuda' if cuda else 'cpu'), torch.bfloat16 if cuda else torch.float32
T, k, E, H, I, r = (4096, 8, 64, 2048, 1024, 16) if cuda else (64, 2, 4, 64, 32, 8)
torch.manual_seed(0)
tok = torch.arange(T, device=dev).repeat_interleave(k)                            # pair -> token
expert = torch.stack([torch.randperm(E, device=dev)[:k] for _ in range(T)]).flatten()   # pair -> expert, k distinct a token
order = expert.argsort(stable=True); tok, expert = tok[order], expert[order]          # pairs grouped by expert
offs = torch.searchsorted(expert, torch.arange(E, device=dev), right=True).to(torch.int32)

def timed(step):
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    for _ in range(2): step()
    ts = []
    for _ in range(reps):
        sync(); t = time.perf_counter()
        for _ in range(10): step()
        sync(); ts.append((time.perf_counter() - t)/10*1e3)
    return statistics.median(ts)

for proj, (i_f, o_f) in dict(gate_up=(H, 2*I), down=(I, H)).items():
    W = torch.randn(E, o_f, i_f, device=dev, dtype=dt)*0.02
    A = (torch.randn(E, r, i_f, device=dev, dtype=dt)*0.02).requires_grad_()
    B = (torch.randn(E, o_f, r, device=dev, dtype=dt)*0.02).requires_grad_()
    xt = torch.randn(T, i_f, device=dev, dtype=dt, requires_grad=True)
    xp = xt.detach()[tok].requires_grad_()                                          # the pair rows, as the dispatch gives them
    g = torch.randn(T*k, o_f, device=dev, dtype=dt)
    def base(): xp.grad = None; F.grouped_mm(xp, W.transpose(1, 2), offs=offs).backward(g)
    def lora(): xp.grad = A.grad = B.grad = None; _low_rank_grouped(xp, A, B, offs).backward(g)
    def lora_dense():
        xt.grad = A.grad = B.grad = None
        U = (xt @ A.reshape(E*r, i_f).t()).view(T, E, r)                             # every expert's A on every token: one GEMM
        u = U[tok, expert]                                                           # each pair's r columns
        F.grouped_mm(u, B.transpose(1, 2), offs=offs).backward(g)
    with torch.no_grad():   # the dense form gives the grouped one's low-rank activations (to the dtype's rounding)
        ref = F.grouped_mm(xp, A.transpose(1, 2), offs=offs); alt = (xt @ A.reshape(E*r, i_f).t()).view(T, E, r)[tok, expert]
        assert torch.allclose(ref.float(), alt.float(), rtol=2e-2, atol=2e-3), (ref - alt).abs().max()
    cases = dict(base=base, lora=lora) | (dict(lora_dense=lora_dense) if proj == 'gate_up' else {})
    for name, step in cases.items():
        print(json.dumps(dict(proj=proj, case=name, tokens=T, experts=E, top_k=k, rank=r, ms=round(timed(step), 4),
                              device=torch.cuda.get_device_name() if cuda else 'cpu')), flush=True)

"""GPU kernel time and wall time per call of a function, for the device scripts"""
import time, torch

def gpu_and_wall_ms(f, reps=20):
    "Kernels' GPU time per call, and wall time per call when calls run back to back (CPU launch overhead shows here)"
    for _ in range(3): f()
    torch.cuda.synchronize()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        for _ in range(reps): f()
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps): f()
    torch.cuda.synchronize()
    return sum(e.self_device_time_total for e in prof.key_averages()) / reps / 1e3, (time.perf_counter() - t0) / reps * 1e3

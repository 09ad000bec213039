#!/usr/bin/env bash
# Download (here, with network) the wheels our own code needs on the device machine (Python 3.12, x86_64, no network
# there) into .whl/, which travels with the working tree (carry it). The device image already has torch, transformers,
# accelerate, safetensors, einops, triton (see KINDS.md); we carry the rest at the versions CI uses (WITH_TRANSFORMERS=1:
# transformers and its newer dependencies too, for code that needs the CI's transformers; too large to carry beside .whl-bench). bitsandbytes' wheel
# holds libraries for every CUDA and ROCm version; only the CUDA 13 ones are kept, to stay under the 64 MiB carry limit.
set -e -o pipefail
D=${1:-.whl}; mkdir -p $D
PLAT="--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64"
v() { python3 -c "import importlib.metadata as m; print(m.version('$1'))"; }
for p in bitsandbytes==$(v bitsandbytes) peft==$(v peft) fastcore==$(v fastcore) termcolor==$(v termcolor); do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp $PLAT -d $D "$p"
done
if [ -n "${WITH_TRANSFORMERS:-}" ]; then   # the CI's transformers (the image's is older) and what it needs beyond the image's packages
  for p in transformers huggingface_hub kernels httpx2 httpcore2 truststore hf_xet click typer tomlkit; do
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp $PLAT -d $D "$p==$(v $p)"
  done
fi
python3 -m pip wheel -q --no-deps -w $D hqq==$(v hqq)   # hqq ships an sdist only; its wheel is pure Python
python3 - $D/bitsandbytes-*.whl <<'PY'
import sys, zipfile, re, os   # drop every native library but the CPU and CUDA 13 ones (no zip command needed)
for w in sys.argv[1:]:
    with zipfile.ZipFile(w) as z, zipfile.ZipFile(w + '.new', 'w', zipfile.ZIP_DEFLATED) as o:
        for i in z.infolist():
            if re.search(r'libbitsandbytes_(?!cpu|cuda13)', i.filename): continue
            o.writestr(i, z.read(i))
    os.replace(w + '.new', w)
PY
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo /.whl/ >> .git/info/exclude
grep -qx '/.whl-bench/' .git/info/exclude 2>/dev/null || echo /.whl-bench/ >> .git/info/exclude
ls -la $D; du -sh $D

#!/usr/bin/env bash
# The preamble every device script sources (from the repo root): NCCL's NVLink multicast off, offline Hugging Face,
# the carried wheels installed into /tmp/site on a GPU machine (once per wheel set), PYTHONPATH, and $OUT.
# WHEELS names the wheel folders (default .whl; bench.sh adds .whl-bench). FSDP_QLORA_SRC (default: the repo root) is where
# `fsdp_qlora` is imported from: e.g. the last commit's package (git archive HEAD fsdp_qlora | tar -x -C .old), carried, to time it beside the tree.
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1 HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 \
       TOKENIZERS_PARALLELISM=false
_W=$(for d in ${WHEELS:-.whl}; do ls $d/*.whl 2>/dev/null; done)
if [ -n "$_W" ] && command -v nvidia-smi > /dev/null && [ "$(cat /tmp/site/.wheels 2>/dev/null)" != "$_W" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site $_W || exit 1
  echo "$_W" > /tmp/site/.wheels
fi
export PYTHONPATH=/tmp/site:${FSDP_QLORA_SRC:-$PWD}   # FSDP_QLORA_SRC: a folder holding another version of the package, for an A/B in one call
OUT=${OUT:-/tmp/out}; mkdir -p $OUT; export OUT

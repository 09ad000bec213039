#!/usr/bin/env bash
# Download (here, with network) the wheels the benchmark's peer stacks need on the device machine (Python 3.12, x86_64,
# no network there) into .whl-bench/, which travels with the working tree (carry it). No dependencies are resolved
# (--no-deps): the list below is unsloth's, unsloth-zoo's, trl's and liger-kernel's requirements minus what the
# device image already has (torch 2.11, transformers, peft, accelerate, triton, numpy, pyarrow, ...; see KINDS.md).
# Versions are pinned where the newest would not work there: trl<=1.15 and datasets 4.x, as unsloth requires. Not carried:
# xformers (unsloth falls back to PyTorch SDPA without it) and diffusers (not used for language models).
# py-spy samples where the host's time goes in a run (hostcost.sh PYSPY=1).
set -e -o pipefail
D=${1:-.whl-bench}; mkdir -p $D
PLAT="--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_31_x86_64 --platform manylinux_2_34_x86_64 --platform manylinux_2_35_x86_64"
PKGS="unsloth unsloth-zoo trl==1.15.0 datasets<5 dill multiprocess tyro docstring-parser shtab typeguard torchao cut-cross-entropy msgspec
      hf-transfer json5 nest-asyncio structlog pydantic pydantic-core annotated-types typing-inspection liger-kernel py-spy"
for p in $PKGS; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp $PLAT -d $D "$p" || echo "FAILED: $p"
done
ls -la $D; du -sh $D

"""Fine-tune large language models with FSDP2 over 4-bit quantized weights (bitsandbytes NF4, HQQ) and LoRA/DoRA adapters

Modules:

- `fsdp_qlora.adapters`: Our LoRA module, its injection into any model, the PEFT route, and the table of train types: how the base is quantized × how it is adapted.
- `fsdp_qlora.benchmark`: `fsdp_qlora_bench`: one run writes a random-weight checkpoint of a real model's shape, trains it for a few steps with our `fsdp_qlora_train` and with the usual alternatives (Hugging Face + PEFT + bitsandbytes, Liger kernels, Unsloth), each in a fresh process on identical data, and reports speed, MFU, memory and losses.
- `fsdp_qlora.checkpoint`: Crash-safe, sharded checkpoints of a running job (`--save_steps`, `--keep_last`), exact resume (`--resume_from DIR|latest`, also on another number of processes), the stop on a signal or a non-finite loss, and fault injection.
- `fsdp_qlora.cli`: `fsdp_qlora_train`: one definition of every flag (with the original script's names and defaults), the typed config derived from it, the checks made before any process starts, and the launcher.
- `fsdp_qlora.convert`: From the state dict `--save_model` writes to a Hugging Face PEFT adapter folder, a merged model folder, or (for full fine-tunes and Llama-Pro) a complete model folder; and the `fsdp_qlora_convert` command.
- `fsdp_qlora.data`: Datasets by name or file, prompt styles that split a record into prompt and response, a tokenizing dataset that masks the prompt out of the loss, padding, and the distributed data loader.
- `fsdp_qlora.expand`: `fsdp_qlora_expand`: write a deeper copy of a checkpoint whose new decoder layers are identities, for the `bnb_llama_pro` / `hqq_llama_pro` train types.
- `fsdp_qlora.fsdp`: The sharding table, the device mesh, `fully_shard` on each decoder layer and the root, and the move of the loaded weights into the sharded model, broadcasting from rank 0 with `--low_memory`.
- `fsdp_qlora.load`: Find a checkpoint (local folder or the local Hugging Face cache), build the model empty on the `meta` device, and stream its weights from safetensors shards, quantizing each tensor as it arrives.
- `fsdp_qlora.memory`: How much GPU memory a run needs, per GPU, from the model's config alone: base weights, adapters, gradients, optimizer state and activations, under each sharding strategy, with and without CPU offload.
- `fsdp_qlora.precision`: One table says, for each `--precision` mode, how parameters and buffers are stored, what dtype the maths runs in, which FSDP mixed-precision policy applies and whether a gradient scaler is needed.
- `fsdp_qlora.quantize`: A frozen `nn.Linear` replacement that holds its weight as packed low-bit codes (bitsandbytes NF4, HQQ 1–8 bit), one table row per quantization backend, and the function that swaps it into any model.
- `fsdp_qlora.speed`: `--compile true` compiles each decoder layer with `torch.compile`; `--loss chunked` computes the output layer and the cross-entropy a few hundred tokens at a time, so the full float32 logits never exist.
- `fsdp_qlora.testing`: Writes small Llama- and Mistral-shaped models with random weights in the exact on-disk layout of a real Hugging Face checkpoint: sharded safetensors, an index, config and the real Llama 2 tokenizer.
- `fsdp_qlora.train`: The run as a chain of named steps (setup → load → adapt → shard → fit → save), the optimizer and schedule tables, and a short, flat train step."""

__version__ = "0.1.0"

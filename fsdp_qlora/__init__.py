"""Fine-tune large language models with FSDP2 over 4-bit quantized weights (bitsandbytes NF4, HQQ) and LoRA/DoRA adapters

Modules:

- `fsdp_qlora.quantize`: A frozen `nn.Linear` replacement that holds its weight as packed 4-bit codes, one table row per quantization backend, and the function that swaps it into any model.
- `fsdp_qlora.testing`: Writes small Llama- and Mistral-shaped models with random weights in the exact on-disk layout of a real Hugging Face checkpoint: sharded safetensors, an index, config and the real Llama 2 tokenizer."""

__version__ = "0.1.0"

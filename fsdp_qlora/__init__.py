"""Fine-tune large language models with FSDP2 over 4-bit quantized weights (bitsandbytes NF4, HQQ) and LoRA/DoRA adapters"""

__version__ = "0.1.0"

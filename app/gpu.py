"""The one entry point of model work, ready for a ZeroGPU Space.

Every model call of the app goes through `run` (app/runtime.py's `compute` submits it to the
model threads). Where the optional `spaces` package is installed (on a Hugging Face ZeroGPU
Space), `run` is decorated with `@spaces.GPU`, which attaches a GPU for the length of the call;
where CUDA is available during the call, the models among the arguments move to it and new
tensors are made there. On a CPU machine `run(fn, *args)` is exactly `fn(*args)`.
"""

from __future__ import annotations

try:  # only on a ZeroGPU Space (pip install spaces); nothing else needs it
    import spaces
except ImportError:
    spaces = None

GPU_SECONDS = 60  # the longest request (a 64-token think at the limits) takes ~20 s on 2 CPUs


def on_gpu(fn):
    """`fn` decorated with `spaces.GPU` where the package is installed, else `fn` itself."""
    return spaces.GPU(duration=GPU_SECONDS)(fn) if spaces is not None else fn


def _to_cuda(value):
    import torch

    return value.to("cuda") if isinstance(value, torch.nn.Module) else value


@on_gpu
def run(fn, *args, **kwargs):
    """Model work `fn(*args, **kwargs)`: a plain call on CPU; on CUDA the models among the
    arguments are moved there and new tensors are created there."""
    import torch  # here, not at import: the app serves its first page before torch is loaded

    if not torch.cuda.is_available():
        return fn(*args, **kwargs)
    args = tuple(_to_cuda(a) for a in args)
    with torch.device("cuda"):
        return fn(*args, **{k: _to_cuda(v) for k, v in kwargs.items()})

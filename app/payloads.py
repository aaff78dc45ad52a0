"""Example requests for every API endpoint, as gradio_client keyword arguments in the endpoint's
parameter order: one place for the tests, scripts/latency.py and scripts/loadtest.py.

    from app.payloads import request
    client.predict(**request("/think", steps=4), api_name="/think")
    client.predict(**request("/denoise", image=handle_file("photo.png")), api_name="/denoise")

The values are small (a request takes well under a second on the tiny test checkpoints and a
few seconds on the shipped ones); `/denoise` and `/denoise_baseline` need an `image`;
`/playground_think` needs a `/playground_train` first in the same client session.
"""

from __future__ import annotations

REQUESTS: dict[str, dict] = {
    "/think": dict(
        prompt="12+35=", checkpoint="arith-ebt", steps=3, step_size=0, langevin=0.0, samples=2,
        select="min", tolerance=0.0, seed=0, max_new_tokens=2, accept_lower_only=False,
    ),
    "/score": dict(prompt="12+35=", answer="47", checkpoint="arith-ebt"),
    "/landscape": dict(
        prompt="12+35=", checkpoint="arith-ebt", token=1, resolution=21, method="pca", steps=3,
        samples=2, seed=0,
    ),
    "/denoise": dict(
        image=None, checkpoint="image-ebt", noise=0.1, steps=2, step_size=0, langevin=0.0, seed=0
    ),
    "/denoise_baseline": dict(image=None, noise=0.1, seed=0, dit_passes=5),
    # a few seconds of training (the defaults train for about a minute); the trained model
    # stays in the client's session, where /playground_think finds it
    "/playground_train": dict(
        task="fork", objective="wta", iters=24, lr=0.01, samples=4, steps_min=1, steps_max=2,
        step_size=1.0, alpha_jitter=2.0, langevin=0.0, replay=0.0, final_only=True,
        detach=False, start_std=0.3, seed=0,
    ),
    "/playground_think": dict(
        context="-0.75, 0; -0.5, 0; -0.25, 0; 0, 0", steps=8, samples=32, seed=0
    ),
}  # fmt: skip


def request(endpoint: str, **change) -> dict:
    """The example request of `endpoint` with some values changed (in parameter order).

    Raises KeyError for an unknown endpoint, ValueError for a parameter it does not have."""
    base = REQUESTS[endpoint]
    unknown = sorted(set(change) - set(base))
    if unknown:
        raise ValueError(f"{endpoint} has no parameter(s) {unknown}; it has {list(base)}")
    return {**base, **change}

"""Update rules of the torch backend: the arithmetic of ``torch.optim``, without its ``Optimizer``.

``torch.optim.Optimizer`` imports ``torch._dynamo`` when it is first built or stepped (seconds
of start-up for a run that compiles nothing) and wraps every step in grad-mode and profiler
bookkeeping. mlpx calls the functional update that ``Optimizer.step`` itself calls
(``torch.optim.adam.adam``, ``torch.optim.sgd.sgd``, ...) with the arguments ``step`` would
pass, so the arithmetic and the fused or foreach kernels are torch's own. The state is kept
per slot, under ``torch.optim``'s names (``step``, ``exp_avg``, ``momentum_buffer``, ...), in
the places ``torch.optim`` puts it: ``step`` on the parameters' device for fused kernels,
on the CPU otherwise (foreach then reads it without a device sync).
"""

from __future__ import annotations

import numpy as np
import torch

from mlpx.errors import BackendError
from mlpx.optimizers import TorchUpdate

KERNELS = ({"fused": True}, {"foreach": True})
"""Implementations in order of preference: one fused kernel per step where this torch has one
for the rule on the device, else a few foreach kernels over all parameters."""


SCALAR_SLOTS = {"step": 0.0, "mu_product": 1.0}
"""0-d slots and their first values (NAdam's ``mu_product`` is a product of factors)."""


def new_slot(
    name: str, param: torch.Tensor, fused: bool, lazy: bool = False
) -> torch.Tensor | None:
    """Parameter ``param``'s fresh state ``name``, as ``torch.optim`` makes it.

    A ``lazy`` slot is None: the update's first step makes it (SGD sets its momentum buffer
    to the gradient itself).
    """
    if lazy:
        return None
    if name in SCALAR_SLOTS:
        device = param.device if fused else "cpu"
        return torch.full((), SCALAR_SLOTS[name], dtype=torch.float32, device=device)
    return torch.zeros_like(param, memory_format=torch.preserve_format)


class UpdateRule:
    """One optimizer over a fixed list of parameters, holding their state.

    Parameters
    ----------
    update : ``torch.optim``'s functional update, from the optimizer's registry entry
        (:func:`mlpx.optimizers.torch_update`).
    params : the leaf parameters, all on one device and of one floating dtype.

    ``slots[name][i]`` is parameter ``i``'s state ``name``, or None before the rule makes
    it. ``lr`` may be changed between steps (the loop's schedule gives every step its rate).
    """

    def __init__(self, update: TorchUpdate, params: list[torch.Tensor]):
        self.function, self._slot_names = update.function, update.slots
        self._lazy = update.made_by_step
        self.hyperparameters = update.hyperparameters
        self.params = params
        self.lr = 0.0
        self.kernel = self._first_kernel_that_runs(params[0])
        self.slots = {
            name: [new_slot(name, p, self.fused, name in self._lazy) for p in params]
            for name in self._slot_names
            if name
        }
        # The lists themselves are passed to every step: SGD fills in its buffers in place.
        self._state_lists = [self.slots[name] if name else [] for name in self._slot_names]
        # what rules must share to step in one step_together call, computed once
        self.together = (self.function, tuple(self.kernel.items()))
        self.together += (repr(sorted(self.hyperparameters.items())),)

    @property
    def fused(self) -> bool:
        """Whether each step is one fused kernel (else foreach kernels)."""
        return "fused" in self.kernel

    def param_state(self, index: int) -> dict[str, torch.Tensor]:
        """Parameter ``index``'s state by slot name, leaving out slots not made yet."""
        return {name: ts[index] for name, ts in self.slots.items() if ts[index] is not None}

    def load_param_state(self, index: int, state: dict[str, np.ndarray]) -> None:
        """Set parameter ``index``'s state from copies of ``state`` (slot name -> array), on
        the device and in the dtype the rule keeps each slot in."""
        for name, value in state.items():
            like = self.slots[name][index]
            like = self.params[index] if like is None else like
            self.slots[name][index] = torch.tensor(value, dtype=like.dtype, device=like.device)

    def step(self, grads: list[torch.Tensor]) -> None:
        """Update every parameter and its state in place, given the gradients (same shapes)."""
        self._run(self.params, grads, self._state_lists, self.kernel)

    def _run(self, params: list, grads: list, state_lists: list, kernel: dict[str, bool]) -> None:
        with torch.no_grad():
            self.function(params, grads, *state_lists, lr=self.lr, **kernel, **self.hyperparameters)

    def _first_kernel_that_runs(self, like: torch.Tensor) -> dict[str, bool]:
        """The first of KERNELS that this torch runs for this rule on ``like``'s device and
        dtype, found by one step on a scratch parameter: kernel support varies with the
        torch version, the device and the dtype, and the functional API raises where it
        lacks one (no such kernel, or no such argument)."""
        for kernel in KERNELS:
            scratch = torch.zeros(1, dtype=like.dtype, device=like.device)
            state_lists = [
                [new_slot(name, scratch, "fused" in kernel, name in self._lazy)] if name else []
                for name in self._slot_names
            ]
            try:
                self._run([scratch], [torch.ones_like(scratch)], state_lists, kernel)
            except (RuntimeError, TypeError):
                continue
            return kernel
        raise BackendError(
            f"torch {torch.__version__} has no fused or foreach {self.function.__name__} "
            f"update for {like.dtype} on {like.device}; use another device, dtype or torch"
        )


def step_together(rules: list[UpdateRule], grads: list[list[torch.Tensor]], lr: float) -> None:
    """Step ``rules`` (a stack's models: the same update and hyperparameters), each with its
    gradients, at rate ``lr`` in one call of the functional update over all their parameters:
    the foreach and fused kernels step each parameter with its own state, so every model
    moves as its own step would move it."""
    first = rules[0]
    params = [p for rule in rules for p in rule.params]
    merged = [
        [slot for rule in rules for slot in rule._state_lists[i]]
        for i in range(len(first._slot_names))
    ]
    with torch.no_grad():
        first.function(
            params,
            [g for own in grads for g in own],
            *merged,
            lr=lr,
            **first.kernel,
            **first.hyperparameters,
        )
    for i, states in enumerate(merged):  # state the step made (SGD's first buffers) goes home
        offset = 0
        for rule in rules:
            own = rule._state_lists[i]
            own[:] = states[offset : offset + len(own)]
            offset += len(own)

"""The optimiser shared by :func:`mixzoo.fit_map` and :func:`mixzoo.fit_svi`, and its one scan loop.

* :func:`preconditioned_adam`: Adam in coordinates standardised by each site's prior spread
  (unit-free), cosine-decayed learning rate. Spread and learning rate may be traced.
* :func:`scan_steps`: ``steps`` optimiser steps of an objective in one ``lax.scan``, global
  step numbers ``offset, offset + 1, ...``; steps past ``num_steps`` leave the state unchanged
  (so that a fit can run as repeated calls of one compiled chunk of steps).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import optax


def preconditioned_adam(spread, learning_rate, num_steps: int) -> optax.GradientTransformation:
    """Adam in coordinates standardised by ``spread`` (a pytree like the parameters): gradients
    are multiplied by the spread before Adam and the step by the spread after it, so that Adam
    (and its eps) sees the same numbers whatever the units of the data. Cosine-decayed
    learning rate over ``num_steps`` (static) steps."""
    return optax.chain(
        _scale_by(spread),
        optax.scale_by_adam(b1=0.8, b2=0.99),
        optax.scale_by_schedule(optax.cosine_decay_schedule(learning_rate, num_steps, alpha=0.01)),
        optax.scale(-1.0),
        _scale_by(spread),
    )


def _scale_by(spread) -> optax.GradientTransformation:
    """Multiply each update by a fixed per-element factor (the prior spread)."""

    def update(updates, state, params=None):
        return jax.tree_util.tree_map(jnp.multiply, updates, spread), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def scan_steps(objective: Callable, optimiser, carry, steps: int, offset, num_steps: int, record: Callable):
    """Run ``steps`` optimiser steps from ``carry = (params, optimiser state)``.

    ``objective(params, i) -> ()`` is minimised (``i``: the global step number, e.g. to fold
    into a random key); ``record(value, grads)`` gives what each step returns. Steps with
    ``offset + i >= num_steps`` change nothing. Returns ``(carry, records)`` with a leading
    (steps,) axis on the records."""

    def step(carry, i):
        params, state = carry
        value, grads = jax.value_and_grad(objective)(params, offset + i)
        updates, new_state = optimiser.update(grads, state, params)
        new = (optax.apply_updates(params, updates), new_state)
        active = offset + i < num_steps
        carry = jax.tree_util.tree_map(lambda a, b: jnp.where(active, a, b), new, carry)
        return carry, record(value, grads)

    return jax.lax.scan(step, carry, jnp.arange(steps))

"""The registry checks itself: rules keyed by live primitives, each once, modules discovered."""

from __future__ import annotations

import ast
import pkgutil
from pathlib import Path

import jax.numpy as jnp
import pytest

import jax2tfjs.lowering as lowering
from jax2tfjs.lowering import NOT_SUPPORTED, RULES, registry
from jax2tfjs.lowering.primitives import ALIASES, UnknownPrimitiveName, is_live, live_primitives, resolve


def test_rules_and_refusals_are_keyed_by_live_primitives():
    live = live_primitives()
    assert sorted(set(RULES) - live) == []
    assert sorted(set(NOT_SUPPORTED) - live) == []


def test_aliases_map_dead_names_to_live_primitives():
    for old, new in ALIASES.items():
        assert not is_live(old), f"{old!r} is live: it is no rename"
        assert is_live(new), f"{old!r} → {new!r}, which the installed JAX lacks"


def test_the_live_set_comes_from_jax_itself():
    # The installed JAX's names for these, and the dead names the registry used to hold.
    assert {"jit", "remat2", "custom_vjp_call", "broadcast_in_dim", "scatter-add"} <= live_primitives()
    assert not {"pjit", "core_call", "checkpoint", "custom_vjp_call_jaxpr", "expand_dims"} & live_primitives()


def test_the_pinned_jax_has_every_name_the_registry_uses():
    # On a newer JAX a renamed primitive lands here instead of breaking the import; on ours, none.
    assert registry.DEAD_NAMES == {}


def test_resolving_a_name_that_is_no_live_primitive_raises():
    with pytest.raises(UnknownPrimitiveName, match="expand_dims"):
        resolve("expand_dims")


def test_registering_a_dead_name_records_it_and_skips_the_rule(monkeypatch):
    monkeypatch.setattr(registry, "DEAD_NAMES", {})
    with pytest.warns(registry.DeadPrimitiveNameWarning, match="expand_dims"):
        registry.rule("expand_dims", tf_ops=("ExpandDims",))(lambda ctx, eqn, x: x)
    assert "expand_dims" not in RULES
    assert list(registry.DEAD_NAMES) == ["expand_dims"]
    assert "lowering rule" in registry.DEAD_NAMES["expand_dims"]


def test_a_dead_refusal_is_recorded_and_dropped(monkeypatch):
    monkeypatch.setattr(registry, "DEAD_NAMES", {})
    refusals = {"scan": "unroll it", "custom_lin_old": "gone", "pjit": "old name of jit"}
    monkeypatch.setattr(registry, "NOT_SUPPORTED", refusals)
    with pytest.warns(registry.DeadPrimitiveNameWarning, match="custom_lin_old"):
        registry._check_refusals()
    assert refusals == {"scan": "unroll it", "jit": "old name of jit"}
    assert list(registry.DEAD_NAMES) == ["custom_lin_old"]


def test_an_alias_lands_on_the_live_primitive():
    assert resolve("pjit") == "jit"
    with pytest.raises(registry.RegistryError, match="'jit' is registered twice"):
        registry.rule("pjit", tf_ops=())(lambda ctx, eqn, *xs: xs)


def test_registering_a_primitive_twice_raises():
    with pytest.raises(ValueError, match="registered twice"):
        registry.rule("add", tf_ops=("AddV2",))(lambda ctx, eqn, x, y: x)


def test_a_primitive_is_either_lowered_or_refused_never_both():
    assert not set(RULES) & set(NOT_SUPPORTED)


def test_every_rule_has_a_parity_case():
    assert sorted(name for name, rule in RULES.items() if not rule.cases) == []


def test_rule_modules_are_discovered_not_listed():
    package = Path(lowering.__file__).parent
    registering = {
        f"jax2tfjs.lowering.{m.name}"
        for m in pkgutil.iter_modules([str(package)])
        if "rule(" in (package / f"{m.name}.py").read_text() and m.name != "registry"
    }
    assert registering == {rule.module for rule in RULES.values()}
    # No hand-kept list: __init__ imports no rule module by name.
    tree = ast.parse((package / "__init__.py").read_text())
    imported = {
        alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names
    }
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert not {m.rsplit(".", 1)[-1] for m in registering} & {i.rsplit(".", 1)[-1] for i in imported}


def _ordinary_programs():
    """What models built from jax.numpy, jax.nn and flax layers trace, control flow included."""
    import jax
    from flax import linen as nn
    from jax import lax

    class Net(nn.Module):
        @nn.compact
        def __call__(self, x, tokens):
            x = nn.Conv(4, (3, 3))(x)
            x = nn.BatchNorm(use_running_average=True)(x)
            x = nn.max_pool(nn.relu(x), (2, 2), strides=(2, 2))
            x = nn.avg_pool(x, (2, 2), strides=(2, 2)).reshape(x.shape[0], -1)
            x = nn.LayerNorm()(nn.gelu(nn.Dense(8)(x)))
            e = nn.Embed(10, 8)(tokens)
            a = nn.MultiHeadDotProductAttention(num_heads=2)(e)
            return jax.nn.log_softmax(x + a.mean(axis=1)) + jnp.argmax(x, -1)[:, None]

    x, tokens = jnp.ones((2, 8, 8, 3)), jnp.ones((2, 5), jnp.int32)
    net = Net()
    variables = jax.eval_shape(net.init, jax.random.key(0), x, tokens)  # shapes only: nothing runs
    yield jax.make_jaxpr(net.apply)(variables, x, tokens)
    yield jax.make_jaxpr(lambda x: lax.fori_loop(0, x.shape[0], lambda i, c: c * 2.0, x))(x)
    yield jax.make_jaxpr(lambda x: lax.scan(lambda c, r: (c + r, c), x[0], x)[0])(x)
    yield jax.make_jaxpr(lambda x: lax.cond(x.sum() > 0, jnp.sin, jnp.cos, x))(x)
    yield jax.make_jaxpr(lambda x: x + jax.random.normal(jax.random.key(0), x.shape))(x)
    yield jax.make_jaxpr(lambda x: x.at[0].add(1.0))(x)


def _first_unlowered(jaxpr):
    """The first primitive conversion would stop at (equations in order, inlined calls entered)."""
    from bench.parity import nested_jaxprs

    for eqn in jaxpr.eqns:
        if eqn.primitive.name not in RULES:
            return eqn.primitive.name
        for param in eqn.params.values():
            for inner in nested_jaxprs(param):
                if (found := _first_unlowered(inner)) is not None:
                    return found
    return None


def test_ordinary_models_lower_or_stop_at_a_primitive_refused_with_a_reason():
    stops = [_first_unlowered(closed.jaxpr) for closed in _ordinary_programs()]
    assert stops[0] is None  # the layers of an ordinary model all lower
    assert stops[1:4] == [None, None, None]  # fori_loop, scan and cond lower (lowering/loops, conditionals)
    assert [s for s in stops if s is not None and s not in NOT_SUPPORTED] == []

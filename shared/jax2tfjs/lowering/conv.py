"""conv_general_dilated → Conv2D / DepthwiseConv2dNative in NHWC, Conv3D in NDHWC.

Padding becomes 'VALID' or 'SAME' when JAX's explicit pads equal what TF would compute, else
Conv2D's explicit paddings (TF.js supports them; stride-2 SAME arrives as ((0, 1), (0, 1))).
NHWC/HWIO inputs (Flax's layout) need no transposes; other layouts are transposed around the op.
1-D convolutions run as 2-D with a unit height; 3-D ones are Conv3D, padded explicitly (it takes
no explicit pads) and split per group. Strides and dilation both > 1 (TF.js refuses them on one conv)
write the dilation into the kernel as zeros. Transposed convolutions (lhs_dilation > 1) are one
Conv2DBackpropInput (every TF.js backend has it) when strides and kernel dilation are 1 and the pads
fit the kernel; otherwise they insert the zeros explicitly (Reshape/Pad) and run a plain Conv2D.
"""

from __future__ import annotations

import tensorflow as tf
from jax import lax

from jax2tfjs.lowering import low_rank_pad
from jax2tfjs.lowering.context import transpose
from jax2tfjs.lowering.registry import Arg, Case, rule

B = 2
NHWC = ("NHWC", "HWIO", "NHWC")
NDHWC = ("NDHWC", "DHWIO", "NDHWC")


def _conv(x, w, strides, padding, lhs_dilation=(1, 1), rhs_dilation=(1, 1), groups=1, dims=NHWC):
    return lax.conv_general_dilated(
        x, w, strides, padding, lhs_dilation, rhs_dilation, dimension_numbers=dims, feature_group_count=groups
    )


def tf_same_pads(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """The (low, high) padding TF's 'SAME' applies on one spatial axis."""
    effective = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def padding_mode(pads, sizes, kernel, strides, dilation):
    """'VALID', 'SAME', or None when only explicit pads express `pads`."""
    if all(lo == 0 and hi == 0 for lo, hi in pads):
        return "VALID"
    same = [tf_same_pads(n, k, s, d) for n, k, s, d in zip(sizes, kernel, strides, dilation, strict=True)]
    if all(tuple(p) == q for p, q in zip(pads, same, strict=True)):
        return "SAME"
    return None


def interleave_zeros(x, axes, factors):
    """Insert factor - 1 zeros between neighbours on each of `axes` (any rank): a transposed conv's
    lhs_dilation on the input, or a kernel's dilation written into the kernel itself. A static shape
    (a kernel) reshapes to constants, so the ops fold into the weights."""
    for axis, factor in zip(axes, factors, strict=True):
        if factor == 1:
            continue
        rank = x.shape.rank
        x = tf.expand_dims(x, axis + 1)
        paddings = [[0, 0]] * (rank + 1)
        paddings[axis + 1] = [0, factor - 1]
        x = low_rank_pad.pad(x, paddings)
        if x.shape.is_fully_defined():
            dims = x.shape.as_list()
            merged = [*dims[:axis], dims[axis] * factor, *dims[axis + 2 :]]
        else:
            shape = tf.shape(x)
            merged = tf.concat([shape[:axis], [shape[axis] * factor], shape[axis + 2 :]], axis=0)
        # n elements and n*(factor-1) zeros; the trailing factor-1 zeros are not part of it.
        x = _crop_end(tf.reshape(x, merged), axis, factor - 1, rank)
    return x


def dilate_input(x, factors):
    """Insert factor-1 zeros between spatial elements of N...C `x` (a transposed conv's lhs_dilation)."""
    return interleave_zeros(x, range(1, len(factors) + 1), factors)


def _crop_end(x, axis, amount, rank):
    end = [0] * rank
    end[axis] = -amount
    return tf.strided_slice(
        x, [0] * rank, end, [1] * rank, end_mask=sum(1 << i for i in range(rank) if i != axis)
    )


@rule(
    "conv_general_dilated",
    tf_ops=(
        "Conv2D",
        "Conv3D",
        "Conv2DBackpropInput",
        "ReverseV2",  # the flipped kernel of a transposed conv (a constant once folded)
        "DepthwiseConv2dNative",
        "Transpose",
        "Pad",
        "Split",
        "ConcatV2",
        "ExpandDims",
        "Squeeze",
        "Reshape",
        # a transposed conv interleaves zeros: the dilated shape is computed from the input's
        "Shape",
        "StridedSlice",
        "Mul",
        "Pack",
    ),
    limits=(
        "1-, 2- and 3-D; strides with dilation > 1 write the dilation into the kernel (TF.js refuses both "
        "on one conv); grouped convs other than 2-D depthwise are split per group; batch_group_count must be 1"
    ),
    cases=[
        Case(
            "conv_same",
            lambda x, w: _conv(x, w, (1, 1), "SAME"),
            [Arg((B, 8, 8, 3)), Arg((3, 3, 3, 4), batched=False)],
            rtol=1e-4,
        ),
        Case(
            "conv_valid",
            lambda x, w: _conv(x, w, (1, 1), "VALID"),
            [Arg((B, 8, 8, 3)), Arg((3, 3, 3, 4), batched=False)],
            rtol=1e-4,
        ),
        Case(
            "conv_stride2_same",
            lambda x, w: _conv(x, w, (2, 2), "SAME"),
            [Arg((B, 8, 8, 3)), Arg((3, 3, 3, 4), batched=False)],
            rtol=1e-4,
        ),
        Case(
            "conv_explicit_pad",
            lambda x, w: _conv(x, w, (1, 1), ((2, 0), (1, 3))),
            [Arg((B, 7, 7, 2)), Arg((3, 3, 2, 4), batched=False)],
            rtol=1e-4,
        ),
        Case(
            "conv_dilated",
            lambda x, w: _conv(x, w, (1, 1), "SAME", rhs_dilation=(2, 2)),
            [Arg((B, 9, 9, 2)), Arg((3, 3, 2, 3), batched=False)],
            rtol=1e-4,
        ),
        Case(
            "depthwise",
            lambda x, w: _conv(x, w, (1, 1), "SAME", groups=4),
            [Arg((B, 6, 6, 4)), Arg((3, 3, 1, 8), batched=False)],
            rtol=1e-4,
        ),
        Case(
            "grouped",
            lambda x, w: _conv(x, w, (1, 1), "VALID", groups=2),
            [Arg((B, 6, 6, 4)), Arg((3, 3, 2, 6), batched=False)],
            rtol=1e-4,
        ),
        Case(
            "transposed",
            lambda x, w: lax.conv_transpose(x, w, (2, 2), "SAME", dimension_numbers=NHWC),
            [Arg((B, 4, 4, 3)), Arg((3, 3, 3, 2), batched=False)],
            rtol=1e-4,
        ),
        Case(  # pads wider than the kernel: no Conv2DBackpropInput form, the zeros are inserted
            "lhs_dilated_wide_pads",
            lambda x, w: lax.conv_general_dilated(x, w, (1, 1), ((3, 3), (3, 2)), lhs_dilation=(2, 2)),
            [Arg((B, 2, 4, 4)), Arg((3, 2, 3, 3), batched=False)],
            rtol=1e-4,
        ),
        Case(
            "nchw",
            lambda x, w: _conv(x, w, (1, 1), "SAME", dims=("NCHW", "OIHW", "NCHW")),
            [Arg((B, 3, 6, 6)), Arg((4, 3, 3, 3), batched=False)],
            rtol=1e-4,
        ),
        Case(  # TF.js refuses strides and dilation both > 1: the kernel is dilated with zeros
            "conv_stride2_dilated",
            lambda x, w: _conv(x, w, (2, 2), ((1, 2), (0, 1)), rhs_dilation=(2, 3)),
            [Arg((B, 9, 10, 2)), Arg((3, 2, 2, 3), batched=False)],
            rtol=1e-4,
        ),
        Case(
            "conv3d_same",
            lambda x, w: _conv(x, w, (1, 1, 1), "SAME", (1, 1, 1), (1, 1, 1), dims=NDHWC),
            [Arg((B, 5, 6, 4, 2)), Arg((3, 3, 2, 2, 4), batched=False)],
            rtol=1e-4,
        ),
        Case(
            "conv3d_strided_explicit_pads",
            lambda x, w: _conv(x, w, (2, 1, 2), ((1, 0), (0, 2), (1, 1)), (1, 1, 1), (1, 1, 1), dims=NDHWC),
            [Arg((B, 6, 5, 7, 3)), Arg((3, 2, 3, 3, 2), batched=False)],
            rtol=1e-4,
        ),
        Case(
            "conv3d_dilated",
            lambda x, w: _conv(x, w, (1, 1, 1), "VALID", (1, 1, 1), (2, 1, 2), dims=NDHWC),
            [Arg((B, 6, 5, 6, 2)), Arg((2, 2, 2, 2, 3), batched=False)],
            rtol=1e-4,
        ),
        Case(
            "conv3d_strided_dilated",
            lambda x, w: _conv(x, w, (2, 2, 1), "SAME", (1, 1, 1), (2, 1, 2), dims=NDHWC),
            [Arg((B, 7, 6, 6, 2)), Arg((2, 3, 2, 2, 3), batched=False)],
            rtol=1e-4,
        ),
        Case(
            "conv3d_grouped",
            lambda x, w: _conv(x, w, (1, 1, 1), "SAME", (1, 1, 1), (1, 1, 1), 2, dims=NDHWC),
            [Arg((B, 4, 4, 4, 4)), Arg((3, 3, 3, 2, 6), batched=False)],
            rtol=1e-4,
        ),
        Case(
            "conv3d_transposed",
            lambda x, w: lax.conv_transpose(x, w, (2, 2, 2), "SAME", dimension_numbers=NDHWC),
            [Arg((B, 3, 3, 3, 2)), Arg((3, 3, 3, 2, 2), batched=False)],
            rtol=1e-4,
        ),
        Case(
            "conv3d_ncdhw",
            lambda x, w: _conv(
                x, w, (1, 2, 1), "SAME", (1, 1, 1), (1, 1, 1), dims=("NCDHW", "OIDHW", "NCDHW")
            ),
            [Arg((B, 2, 4, 5, 4)), Arg((3, 2, 2, 3, 2), batched=False)],
            rtol=1e-4,
        ),
        Case(
            "conv1d",
            lambda x, w: _conv(x, w, (1,), "SAME", (1,), (1,), dims=("NWC", "WIO", "NWC")),
            [Arg((B, 10, 3)), Arg((3, 3, 4), batched=False)],
            rtol=1e-4,
        ),
    ],
)
def lower_conv_general_dilated(ctx, eqn, x, w):
    p = eqn.params
    if p["batch_group_count"] != 1:
        raise NotImplementedError("batch_group_count > 1 (a gradient convolution) is not supported")
    lhs_spec, rhs_spec, out_spec = p["dimension_numbers"]
    spatial = len(lhs_spec) - 2
    if spatial not in (1, 2, 3):
        raise NotImplementedError(f"{spatial}-D convolutions are not supported (1-D, 2-D and 3-D are)")
    # To NHWC / HWIO: lhs_spec = (batch, feature, *spatial) positions, rhs_spec = (out, in, *spatial).
    x = transpose(x, [lhs_spec[0], *lhs_spec[2:], lhs_spec[1]])
    w = transpose(w, [*rhs_spec[2:], rhs_spec[1], rhs_spec[0]])
    strides, pads = list(p["window_strides"]), [tuple(q) for q in p["padding"]]
    lhs_dil, rhs_dil = list(p["lhs_dilation"]), list(p["rhs_dilation"])
    in_shape = [eqn.invars[0].aval.shape[i] for i in lhs_spec[2:]]
    kernel = [eqn.invars[1].aval.shape[i] for i in rhs_spec[2:]]
    if spatial == 1:  # run as 2-D with a unit height
        x, w = tf.expand_dims(x, 1), tf.expand_dims(w, 0)
        strides, pads, lhs_dil, rhs_dil = [1, *strides], [(0, 0), *pads], [1, *lhs_dil], [1, *rhs_dil]
        in_shape, kernel = [1, *in_shape], [1, *kernel]
    groups = p["feature_group_count"]
    pads_back = [(k - 1 - lo, k - 1 - hi) for (lo, hi), k in zip(pads, kernel, strict=True)]
    # 3-D has no such op in TF.js's op list (Conv3DBackpropInputV2 is missing): zeros are inserted.
    if spatial < 3 and any(d > 1 for d in lhs_dil) and _as_backprop(strides, rhs_dil, groups, pads_back):
        out_shape = eqn.outvars[0].aval.shape
        out_dims = [out_shape[out_spec[0]], *(out_shape[i] for i in out_spec[2:]), out_shape[out_spec[1]]]
        if spatial == 1:
            out_dims.insert(1, 1)
        # The gradient of a stride-s conv is a conv over the input dilated by s: one
        # Conv2DBackpropInput, with the kernel flipped and its channels swapped (folded into the
        # constant), where interleaving zeros took about ten ops.
        filters = tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2])
        y = tf.nn.conv2d_transpose(
            x, filters, ctx.shape(out_dims), [1, *lhs_dil, 1], [[0, 0], *map(list, pads_back), [0, 0]]
        )
        return _to_out_spec(y, spatial, out_spec)
    if any(d > 1 for d in lhs_dil):
        x = dilate_input(x, lhs_dil)
        in_shape = [(n - 1) * d + 1 for n, d in zip(in_shape, lhs_dil, strict=True)]
    if any(d > 1 for d in rhs_dil) and (spatial == 3 or any(s > 1 for s in strides)):
        # TF.js's convolutions refuse strides and dilation both > 1, and TF's own CPU Conv3D refuses
        # any dilation without oneDNN ("only supports dilated rates of 1": the SavedModel check then
        # fails on a machine without AVX-512): the dilation is written into the kernel instead
        # (zeros between its taps; exact, and folded into the weights when constant).
        w = interleave_zeros(w, range(len(kernel)), rhs_dil)
        kernel = [(k - 1) * d + 1 for k, d in zip(kernel, rhs_dil, strict=True)]
        rhs_dil = [1] * len(kernel)
    if spatial == 3:
        return _to_out_spec(
            _conv3d(x, w, strides, pads, in_shape, kernel, rhs_dil, groups), spatial, out_spec
        )
    mode = padding_mode(pads, in_shape, kernel, strides, rhs_dil)
    padding = mode if mode else [[0, 0], list(pads[0]), list(pads[1]), [0, 0]]
    in_features = eqn.invars[0].aval.shape[lhs_spec[1]]
    if groups == 1:
        y = tf.nn.conv2d(x, w, strides=strides, padding=padding, dilations=rhs_dil)
    elif groups == in_features:
        y = _depthwise(x, w, in_features, strides, pads, mode, rhs_dil)
    else:
        xs = tf.split(x, groups, axis=3)
        ws = tf.split(w, groups, axis=3)
        y = tf.concat(
            [tf.nn.conv2d(a, b, strides, padding, dilations=rhs_dil) for a, b in zip(xs, ws, strict=True)], 3
        )
    return _to_out_spec(y, spatial, out_spec)


def _conv3d(x, w, strides, pads, in_shape, kernel, dilation, groups):
    """NDHWC x DHWIO → Conv3D (on every TF.js backend); grouped convs run per group (TF.js has no
    depthwise or grouped 3-D op)."""
    if any(lo < 0 or hi < 0 for lo, hi in pads):
        raise NotImplementedError("negative padding (cropping) on a 3-D convolution is not supported")
    mode = padding_mode(pads, in_shape, kernel, strides, dilation)
    if mode is None:  # Conv3D takes no explicit pads: pad first
        x = low_rank_pad.pad(x, [[0, 0], *map(list, pads), [0, 0]])
        mode = "VALID"

    def conv(a, b):
        return tf.nn.conv3d(a, b, [1, *strides, 1], mode, dilations=[1, *dilation, 1])

    if groups == 1:
        return conv(x, w)
    parts = zip(tf.split(x, groups, axis=4), tf.split(w, groups, axis=4), strict=True)
    return tf.concat([conv(a, b) for a, b in parts], 4)


def _as_backprop(strides, rhs_dil, groups, pads_back) -> bool:
    """A transposed conv that one Conv2DBackpropInput computes: unit strides and kernel dilation,
    no groups, and pads no wider than the kernel (the gradient's pads, k - 1 - pad, are >= 0)."""
    return (
        all(s == 1 for s in strides)
        and all(d == 1 for d in rhs_dil)
        and groups == 1
        and all(lo >= 0 and hi >= 0 for lo, hi in pads_back)
    )


def _to_out_spec(y, spatial, out_spec):
    """From NHWC (1-D: N1WC) to the requested out_spec order."""
    if spatial == 1:
        y = tf.squeeze(y, 1)
    current = [out_spec[0], *out_spec[2:], out_spec[1]]
    return transpose(y, [current.index(i) for i in range(spatial + 2)])


def _depthwise(x, w, channels, strides, pads, mode, dilation):
    height, width, _, out = w.shape
    w = tf.reshape(w, [height, width, channels, out // channels])
    if mode is None:  # DepthwiseConv2dNative takes no explicit pads: pad first
        x = low_rank_pad.pad(x, [[0, 0], list(pads[0]), list(pads[1]), [0, 0]])
        mode = "VALID"
    return tf.nn.depthwise_conv2d(x, w, [1, *strides, 1], mode, dilations=dilation)

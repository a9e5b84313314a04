"""What each TF.js 4.22 backend runs of a graph model: data, read by export/legality.py.

Every value below was measured on the real backend, not read off the source: Node 20 with
@tensorflow/tfjs 4.22.0 and @tensorflow/tfjs-backend-wasm 4.22.0 for `cpu` and `wasm`, headless
Chromium 2026-11 (SwiftShader WebGL2, flags of tests/convert_env/test_web.py) for `webgl`; kernel
lists from `tf.getKernelsForBackend` in that Chromium (Node registers the same cpu and wasm lists).
tests/convert_env/test_backend_legality.py runs a one-op graph model per claim on Node's cpu and
wasm and on webgl in headless Chromium, and fails when a backend no longer behaves as written here
(or when an entry names something no graph there probes).

Names are TensorFlow's, as model.json spells them: graph ops (`Einsum`), fused ops (`_FusedMatMul`),
the activations a fused op carries after `BiasAdd` in its `fused_ops` attribute (`Relu`; TF.js reads
them lowercased), dtypes (`DT_INT32`).
"""

from __future__ import annotations

from dataclasses import dataclass

FUSED_OPS = ("_FusedMatMul", "_FusedConv2D", "FusedDepthwiseConv2dNative")
# The backends a conversion is checked for unless told otherwise: the ones measured and claimed.
CLAIMED = ("cpu", "wasm", "webgl")


@dataclass(frozen=True)
class DtypeLimit:
    """A graph op the backend has a kernel for, but not for this dtype (`attr` names the attribute
    holding it). `effect` is "fails" (the kernel throws `message`) or "wrong" (it runs and returns
    wrong values: `message` says how)."""

    ops: tuple[str, ...]
    attr: str
    dtype: str
    effect: str
    message: str


@dataclass(frozen=True)
class BackendLimits:
    name: str
    # False: no TF.js build here offers the backend; nothing below was measured, the pass checks nothing.
    verified: bool
    # TF activation ops a fused op may carry after its BiasAdd on this backend.
    fused_activations: frozenset[str]
    # Fused ops whose bias must be rank 1 (a [1, 1, 1, C] bias fails, even though it broadcasts).
    rank1_bias: frozenset[str]
    # Graph op → the kernel TF.js would call for it that this backend does not register.
    missing_ops: dict[str, str]
    dtype_limits: tuple[DtypeLimit, ...]


# cpu, wasm, webgl: tf.fused.{matMul,conv2d,depthwiseConv2d} with each activation. tanh: "Activation
# tanh has not been implemented for the CPU backend" / "... for the WebGL backend" / "tanh activation
# not yet supported for FusedConv2D in the wasm backend"; geluexact and gelu alike (what grappler's
# oneDNN remapper fuses as GeluExact / GeluApproximate).
_FUSED_EVERYWHERE = frozenset({"Relu", "Relu6", "Elu", "LeakyRelu", "Sigmoid", "Prelu"})

LIMITS: dict[str, BackendLimits] = {
    "cpu": BackendLimits(
        name="cpu",
        verified=True,
        fused_activations=_FUSED_EVERYWHERE,
        rank1_bias=frozenset(),  # measured: [1, 5] and [1, 1, 1, C] biases run
        missing_ops={},  # cpu registers 172 kernels, every one the graph ops below need
        dtype_limits=(),  # int32 reductions, cumsum, FloorDiv, FloorMod, bool casts, int MatMul all right
    ),
    "wasm": BackendLimits(
        name="wasm",
        verified=True,
        fused_activations=_FUSED_EVERYWHERE,
        # "_FusedMatMul only supports rank-1 bias but got rank 2", "FusedConv2D only supports rank-1
        # bias but got rank 4", "FusedDepthwiseConv2D only supports rank-1 bias but got rank 4".
        rank1_bias=frozenset(FUSED_OPS),
        # Kernel lists: wasm registers 157, cpu 172. RFFT and IRFFT build a complex tensor first:
        # measured "Kernel 'Complex' not registered for backend 'wasm'". wasm also lacks the kernels
        # of RaggedGather, RaggedRange, RaggedTensorToTensor and StaticRegexReplace (ragged and string
        # tensors, which nothing in jax2tfjs makes): left out, since no float graph here tests them.
        missing_ops={
            "Einsum": "Einsum",
            "FFT": "FFT",
            "IFFT": "IFFT",
            "RFFT": "Complex",
            "IRFFT": "Complex",
            "Complex": "Complex",
            "ComplexAbs": "ComplexAbs",
            "Real": "Real",
            "Imag": "Imag",
        },
        dtype_limits=(
            DtypeLimit(
                ("MatMul", "BatchMatMul", "BatchMatMulV2"),
                "T",
                "DT_INT32",
                "fails",
                "BatchMatMul for non non-float32 tensors not yet supported.",
            ),
            DtypeLimit(
                ("MaxPool",), "T", "DT_INT32", "fails", "Error in MaxPool: only float32 input is supported."
            ),
            # Measured: int32 [0, 1, -7, 256] → bool [0, 1, 249, 0]; float32 [0, 0.5, 256, -3] →
            # [0, 0, 0, 253]: the wasm Cast copies the low byte instead of testing for zero, so 256
            # reads false and 0.5 false. cpu and webgl give 0/1. Int32 max/min/sum/prod/argmax/
            # cumsum, FloorDiv and FloorMod agree with cpu on wasm (measured).
            DtypeLimit(
                ("Cast",),
                "DstT",
                "DT_BOOL",
                "wrong",
                "a cast to bool keeps the value's low byte instead of testing it for zero (256 → false)",
            ),
        ),
    ),
    "webgl": BackendLimits(
        name="webgl",
        verified=True,
        fused_activations=_FUSED_EVERYWHERE,
        rank1_bias=frozenset(),  # measured in Chromium: [1, 5] and [1, 1, 1, C] biases run
        # webgl lacks only Dilation2DBackprop* and Draw of cpu's kernels, which no graph op calls.
        missing_ops={},
        # int32 runs as float32 in shaders: exact within ±2^24 only (16777217 + 1 gave 16777216).
        # Not a per-op limit the graph shows, so not checked here; measured, noted for users.
        dtype_limits=(),
    ),
    # @tensorflow/tfjs-backend-webgpu is not installed here and this Chromium offers no WebGPU
    # adapter ("Backend name 'webgpu' not found in registry"): nothing measured, nothing claimed.
    "webgpu": BackendLimits(
        name="webgpu",
        verified=False,
        fused_activations=frozenset(),
        rank1_bias=frozenset(),
        missing_ops={},
        dtype_limits=(),
    ),
}
BACKENDS = tuple(LIMITS)

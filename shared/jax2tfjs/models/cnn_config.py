"""The MNIST CNN's configuration, shared by the pure-JAX and the Flax implementation."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CNNConfig:
    conv_features: tuple[int, ...] = (32, 64)
    kernel_size: int = 3
    dense_features: int = 128
    num_classes: int = 10

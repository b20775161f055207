"""Joint embeddings for the action classifier: linear (LFE), 1-D conv (CFE) and Transformer.

Every embedding reads the model input ``joints`` (B x K x 3 = x, y, visible, in input-image
pixels 0..S, K=16) and returns B x 128 features. Its first layer, ``JointPreprocess``, does what
the report did to its classifier input: coordinates shifted by -S/2 (the report's [-112, 112] at
S=224) and invisible or unannotated joints (visible == 0) replaced by zeros, so nothing
downstream can read an invisible joint's coordinates.

- LFE (report): (x, y) flattened to 2K=32 -> Dense 64 -> BatchNorm -> ReLU -> Dense 128.
- CFE (report): the K joints as a length-K sequence of (x, y) "characters"; Conv1D(64, 3) and
  Conv1D(128, 3), ReLU, valid padding (the report's c_1..c_{n-h+1}); max over positions;
  Dense 128.
- ``model.joint_visibility``: LFE and CFE read (x, y, visible) instead (3K=48 flattened, or
  3 channels per position), so "this joint is missing" differs from "this joint is at the
  centre"; the report dropped the flag.
- Pairwise (not in the report): the K(K-1)/2 = 120 distances between visible joints, divided by
  S/2, beside the flattened (x/(S/2), y/(S/2), visible) -> Dense 256 -> BatchNorm -> ReLU ->
  Dense 128. A distance is a norm, which a small MLP fits poorly from coordinates on ~11 k
  examples; the joints beside them keep what distances cannot tell: where the person stands in
  the crop, and left from right.
- Transformer (the report's future work): one token per joint, Dense(x/(S/2), y/(S/2),
  visible) -> d_model, plus a learned joint-identity embedding (attention itself is
  permutation-blind, so the token must say which joint it is); a learned CLS token; pre-norm
  encoder blocks (LayerNorm -> MultiHeadAttention -> residual, LayerNorm -> MLP -> residual)
  whose attention ignores invisible joints as keys; the CLS output -> LayerNorm -> Dense 128.
  Coordinates are rescaled to [-1, 1] for this one because attention logits are dot products
  of the tokens, and raw pixel-sized inputs saturate the softmax at initialisation.

The ``apply_*`` functions add layers to a functional graph (every layer named ``<prefix>_...``);
``build_joint_embedding`` wraps one in its own model (tests, inspection).
"""

from __future__ import annotations

import keras
from keras import ops

from tfpose.core.errors import ConfigError

EMBED_DIM = 128  # the report's joint feature size, fused with the 128 image features
CONV_FILTERS = (64, 128)  # CFE; the report gives the window (3), not the widths
CONV_WINDOW = 3
LFE_HIDDEN = 64
TRANSFORMER_DIM = 64  # d_model: 16 tokens of 3 numbers need little width
TRANSFORMER_MLP_DIM = 128

PAIRWISE_HIDDEN = 256

EMBEDDINGS = ("linear", "conv", "pairwise", "transformer")


def kernel_regularizer(l2: float):
    """The report's "l2 weight decay" as a Keras kernel regulariser, or None when 0.

    The report's value is a PyTorch-style weight decay (gradient += l2 * w), i.e. a loss term
    l2/2 * ||w||^2; Keras' ``L2(f)`` adds f * ||w||^2, hence f = l2 / 2. Configs carry the
    report's number unchanged.
    """
    return keras.regularizers.L2(l2 / 2.0) if l2 > 0 else None


@keras.saving.register_keras_serializable(package="tfpose")
class JointPreprocess(keras.layers.Layer):
    """Centres joint coordinates on the input image and zeroes invisible joints.

    Input:  B x K x 3 (x, y, visible), pixels of the S x S model input, visible in {0, 1}.
    Output: B x K x 3 ((x - S/2) * v, (y - S/2) * v, v) with v = 1 where visible > 0.5, else 0.
    Multiplying (rather than selecting) is enough because v is exactly 0 or 1, and it keeps
    NaN-free inputs NaN-free.
    """

    def __init__(self, input_size: int, **kwargs):
        super().__init__(**kwargs)
        self.input_size = int(input_size)

    def call(self, joints):
        joints = ops.convert_to_tensor(joints, dtype=self.compute_dtype)
        visible = ops.cast(joints[..., 2:3] > 0.5, joints.dtype)
        xy = (joints[..., :2] - self.input_size / 2.0) * visible
        return ops.concatenate([xy, visible], axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "input_size": self.input_size}


@keras.saving.register_keras_serializable(package="tfpose")
class JointIdentityEmbedding(keras.layers.Layer):
    """Adds a learned vector per joint id: B x K x D -> B x K x D."""

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            name="embeddings",
            shape=(input_shape[-2], input_shape[-1]),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
        )

    def call(self, tokens):
        return tokens + ops.cast(self.embeddings, tokens.dtype)[None]

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="tfpose")
class ClassToken(keras.layers.Layer):
    """Prepends one learned token: B x K x D -> B x (1+K) x D. Its output is the pooled feature."""

    def build(self, input_shape):
        self.token = self.add_weight(
            name="token",
            shape=(1, 1, input_shape[-1]),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
        )

    def call(self, tokens):
        batch = ops.shape(tokens)[0]
        cls = ops.broadcast_to(ops.cast(self.token, tokens.dtype), (batch, 1, tokens.shape[-1]))
        return ops.concatenate([cls, tokens], axis=1)

    def compute_output_shape(self, input_shape):
        length = None if input_shape[1] is None else input_shape[1] + 1
        return (input_shape[0], length, input_shape[2])


@keras.saving.register_keras_serializable(package="tfpose")
class VisibilityAttentionMask(keras.layers.Layer):
    """Attention mask that hides invisible joints as keys, for tokens [CLS, joint_1..joint_K].

    Input:  B x K x 3 preprocessed joints (the visible flag is channel 2).
    Output: bool B x (1+K) x (1+K); entry [b, q, k] is True where query q may attend to key k.
    The CLS key is always allowed, so no row is empty even when no joint is visible.
    """

    def call(self, joints):
        visible = joints[..., 2] > 0.5  # B x K
        keys = ops.concatenate([ops.ones_like(visible[:, :1]), visible], axis=1)  # B x (1+K)
        length = keys.shape[1]
        return ops.repeat(keys[:, None, :], length, axis=1)

    def compute_output_shape(self, input_shape):
        length = input_shape[1] + 1
        return (input_shape[0], length, length)

    def compute_output_spec(self, joints):
        length = joints.shape[1] + 1
        return keras.KerasTensor((joints.shape[0], length, length), dtype="bool")


# ----------------------------------------------------------------------------------------------
# Embeddings as functional blocks over the preprocessed B x K x 3 joints.


def _dense(units, l2, name, activation=None):
    return keras.layers.Dense(
        units, activation=activation, kernel_regularizer=kernel_regularizer(l2), name=name
    )


def apply_linear_embedding(
    joints, *, l2: float = 0.0, use_visibility: bool = False, name: str = "joints_lfe"
):
    """LFE: B x K x 3 preprocessed joints -> B x 128. Visibility is dropped, as in the report,
    unless ``use_visibility`` (then all 3K values are flattened)."""
    x = joints if use_visibility else SelectXY(name=f"{name}_xy")(joints)  # B x K x (3 | 2)
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)  # B x 3K | 2K
    x = _dense(LFE_HIDDEN, l2, f"{name}_dense1")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    x = keras.layers.ReLU(name=f"{name}_relu")(x)
    return _dense(EMBED_DIM, l2, f"{name}_dense2", activation="relu")(x)


def apply_conv_embedding(
    joints, *, l2: float = 0.0, use_visibility: bool = False, name: str = "joints_cfe"
):
    """CFE: B x K x 3 preprocessed joints -> B x 128 (two Conv1D, max over positions, Dense).
    Channels per position: (x, y), or (x, y, visible) with ``use_visibility``."""
    x = joints if use_visibility else SelectXY(name=f"{name}_xy")(joints)  # B x K x (3 | 2)
    for i, filters in enumerate(CONV_FILTERS, start=1):
        x = keras.layers.Conv1D(
            filters,
            CONV_WINDOW,
            padding="valid",
            activation="relu",
            kernel_regularizer=kernel_regularizer(l2),
            name=f"{name}_conv{i}",
        )(x)
    x = keras.layers.GlobalMaxPooling1D(name=f"{name}_maxpool")(x)
    return _dense(EMBED_DIM, l2, f"{name}_dense", activation="relu")(x)


def apply_pairwise_embedding(joints, *, input_size: int, l2: float = 0.0,
                             name: str = "joints_pairwise"):
    """Pairwise: B x K x 3 preprocessed joints -> B x 128 from the joints and their distances."""
    distances = PairwiseDistances(input_size, name=f"{name}_distances")(joints)  # B x K(K-1)/2
    # Coordinates to [-1, 1] like the distances; the visible flag stays 0 / 1.
    scaled = keras.layers.Rescaling(
        [2.0 / input_size, 2.0 / input_size, 1.0], name=f"{name}_rescale"
    )(joints)
    flat = keras.layers.Flatten(name=f"{name}_flatten")(scaled)  # B x 3K
    x = keras.layers.Concatenate(name=f"{name}_concat")([flat, distances])
    x = _dense(PAIRWISE_HIDDEN, l2, f"{name}_dense1")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    x = keras.layers.ReLU(name=f"{name}_relu")(x)
    return _dense(EMBED_DIM, l2, f"{name}_dense2", activation="relu")(x)


def apply_transformer_embedding(
    joints,
    *,
    input_size: int,
    num_layers: int = 2,
    num_heads: int = 4,
    dropout: float = 0.0,
    l2: float = 0.0,
    name: str = "joints_transformer",
):
    """Transformer: B x K x 3 preprocessed joints -> B x 128, pooled through a CLS token."""
    if num_layers < 1 or num_heads < 1 or TRANSFORMER_DIM % num_heads:
        raise ConfigError(
            f"transformer joint embedding: need layers >= 1 and heads dividing {TRANSFORMER_DIM}; "
            f"received transformer_layers={num_layers}, transformer_heads={num_heads}"
        )
    reg = kernel_regularizer(l2)
    tokens = keras.layers.Rescaling(
        [2.0 / input_size, 2.0 / input_size, 1.0], name=f"{name}_rescale"
    )(joints)  # coordinates to [-1, 1]; zeros stay zeros
    x = _dense(TRANSFORMER_DIM, l2, f"{name}_token")(tokens)
    x = JointIdentityEmbedding(name=f"{name}_joint_id")(x)
    x = ClassToken(name=f"{name}_cls")(x)
    mask = VisibilityAttentionMask(name=f"{name}_mask")(joints)
    for i in range(1, num_layers + 1):
        block = f"{name}_block{i}"
        h = keras.layers.LayerNormalization(epsilon=1e-6, name=f"{block}_ln1")(x)
        h = keras.layers.MultiHeadAttention(
            num_heads,
            TRANSFORMER_DIM // num_heads,
            dropout=dropout,
            kernel_regularizer=reg,
            name=f"{block}_attention",
        )(h, h, attention_mask=mask)
        h = keras.layers.Dropout(dropout, name=f"{block}_dropout1")(h)
        x = keras.layers.Add(name=f"{block}_add1")([x, h])
        h = keras.layers.LayerNormalization(epsilon=1e-6, name=f"{block}_ln2")(x)
        h = _dense(TRANSFORMER_MLP_DIM, l2, f"{block}_mlp1", activation="gelu")(h)
        h = _dense(TRANSFORMER_DIM, l2, f"{block}_mlp2")(h)
        h = keras.layers.Dropout(dropout, name=f"{block}_dropout2")(h)
        x = keras.layers.Add(name=f"{block}_add2")([x, h])
    x = keras.layers.LayerNormalization(epsilon=1e-6, name=f"{name}_ln")(x)
    x = FirstToken(name=f"{name}_pool")(x)  # the CLS token, B x d_model
    return _dense(EMBED_DIM, l2, f"{name}_dense", activation="relu")(x)


def apply_joint_embedding(joints, cfg):
    """Raw ``joints`` input (B x K x 3, pixels) -> B x 128 for ``cfg.model.joint_embedding``."""
    kind = cfg.model.joint_embedding
    m = cfg.model
    x = JointPreprocess(cfg.data.input_size, name="joints_preprocess")(joints)
    if kind == "linear":
        return apply_linear_embedding(x, l2=m.l2, use_visibility=m.joint_visibility)
    if kind == "conv":
        return apply_conv_embedding(x, l2=m.l2, use_visibility=m.joint_visibility)
    if kind == "pairwise":
        return apply_pairwise_embedding(x, input_size=cfg.data.input_size, l2=m.l2)
    if kind == "transformer":
        return apply_transformer_embedding(
            x,
            input_size=cfg.data.input_size,
            num_layers=m.transformer_layers,
            num_heads=m.transformer_heads,
            dropout=m.dropout,
            l2=m.l2,
        )
    raise ConfigError(
        f"model.joint_embedding: expected one of {', '.join(EMBEDDINGS)}; received {kind!r}"
    )


def joints_input(cfg) -> keras.KerasTensor:
    """The ``joints`` model input: float32 B x K x 3 (x, y, visible) in input-image pixels."""
    return keras.Input((cfg.model.num_joints, 3), dtype="float32", name="joints")


def build_joint_embedding(cfg) -> keras.Model:
    """``joints`` (B x K x 3) -> B x 128 features, as a standalone model."""
    joints = joints_input(cfg)
    features = apply_joint_embedding(joints, cfg)
    return keras.Model(
        {"joints": joints}, features, name=f"joint_embedding_{cfg.model.joint_embedding}"
    )


# ----------------------------------------------------------------------------------------------
# Small slicing layers (named and serialisable, unlike raw ops in a functional graph).


@keras.saving.register_keras_serializable(package="tfpose")
class SelectXY(keras.layers.Layer):
    """B x K x 3 -> B x K x 2: the (x, y) channels."""

    def call(self, joints):
        return joints[..., :2]

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 2)


@keras.saving.register_keras_serializable(package="tfpose")
class PairwiseDistances(keras.layers.Layer):
    """Distances between every pair of joints i < j, 0 unless both are visible.

    Input:  B x K x 3 preprocessed joints (x, y in pixels, visible in {0, 1}).
    Output: B x K(K-1)/2, in units of half the input side (S/2), pairs in row-major order of
    the upper triangle ((0, 1), (0, 2), ..., (K-2, K-1)).
    """

    def __init__(self, input_size: int, **kwargs):
        super().__init__(**kwargs)
        self.input_size = int(input_size)

    def call(self, joints):
        k = joints.shape[1]
        rows, cols = zip(*[(i, j) for i in range(k) for j in range(i + 1, k)])
        first = ops.take(joints, list(rows), axis=1)  # B x P x 3
        second = ops.take(joints, list(cols), axis=1)
        delta = (first[..., :2] - second[..., :2]) / (self.input_size / 2.0)
        both = first[..., 2] * second[..., 2]
        # sqrt(d^2 + eps): a finite gradient where two joints coincide (or both are zeroed).
        return ops.sqrt(ops.sum(ops.square(delta), axis=-1) + 1e-12) * both

    def compute_output_shape(self, input_shape):
        k = input_shape[1]
        return (input_shape[0], k * (k - 1) // 2)

    def get_config(self):
        return {**super().get_config(), "input_size": self.input_size}


@keras.saving.register_keras_serializable(package="tfpose")
class FirstToken(keras.layers.Layer):
    """B x T x D -> B x D: the first (CLS) token."""

    def call(self, tokens):
        return tokens[:, 0]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

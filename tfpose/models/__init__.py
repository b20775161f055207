"""Functional Keras 3 model builders: pose networks, joint embeddings, classifiers."""


def register_custom_objects() -> None:
    """Imports every module that registers a Keras serialisable (``package="tfpose"``), so
    ``keras.models.load_model`` can rebuild any tfpose model in a fresh process."""
    from tfpose.models import losses  # noqa: F401
    from tfpose.models import (  # noqa: F401
        classifier, decode, detection_losses, hourglass, joint_embeddings, two_stage,
    )

"""tfpose: the two-stage "double CNN" for MPII joint localisation and action classification.

From Python: ``model = tfpose.load("lspet")``, then ``model("photo.jpg")`` (``tfpose.api``).
"""

__version__ = "0.1.0"

# After __version__: the API's modules import only numpy and tfpose.core at start-up
# (TensorFlow or LiteRT load when a model does).
from tfpose.api import Model, Result, load  # noqa: E402

__all__ = ["Model", "Result", "load", "__version__"]

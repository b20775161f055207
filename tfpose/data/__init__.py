"""MPII readers, the synthetic generator, the TFRecord converter and the tf.data pipelines."""

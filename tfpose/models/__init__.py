"""Functional Keras 3 model builders: pose networks, joint embeddings, classifiers."""

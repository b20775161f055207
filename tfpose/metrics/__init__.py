"""Pure metric functions (PCKh, classification) and their Keras metric wrappers."""

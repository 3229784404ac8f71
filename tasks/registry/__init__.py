"""The model registry: versions, champion, history and lock; the gate and
champion re-score; staging; model files; run folders; the model card."""

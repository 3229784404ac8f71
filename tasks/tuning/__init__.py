"""The search engine: the hypermodel, the one tuner class, budget, trial
callbacks, resume, devices, progress and library workarounds (compat)."""

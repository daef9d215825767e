"""`edgegen study`: real / synthetic / hybrid classifier training as one resumable experiment —
spec (study.yaml schema), sources (synthetic folders or generated on demand), arms (the training
sets), runner (resumable units), statistics (intervals, paired deltas, DeLong) and report."""

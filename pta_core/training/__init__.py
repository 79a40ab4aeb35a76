"""Training: the loop (`train.py`) and what it is made of — checkpoints of the run (`runstate`), the
learning-rate schedule, modality presence sampling, Purify's meta steps, batching, multi-process
set-up, seeding, evaluation over every modality combination, late fusion and the activity stage."""

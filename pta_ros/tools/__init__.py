"""Offline tools around the node (not needed on the robot): MM-Fi → bag, bag replay, the online
evaluator, the one-process bring-up and the demo."""

"""Error types shared by the data layer, the model and the ROS node."""
from __future__ import annotations


class DataFormatError(ValueError):
    """A dataset file that cannot be read as its format says (the message names the file)."""

    def __init__(self, path: object, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem

    def __reduce__(self):  # picklable across processes (parallel packing)
        return type(self), (self.path, self.problem)


class InvalidInput(ValueError):
    """A raw sample that must not reach the model (empty, non-finite, wrong shape, too large).

    ``reason`` is a short stable code that callers count (e.g. in the node's diagnostics).
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.detail = message


class CheckpointError(ValueError):
    """A model file that is missing, corrupt, truncated, of a foreign format or of another version."""

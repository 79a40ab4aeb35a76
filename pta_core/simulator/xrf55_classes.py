"""The 55 XRF55 classes (docs/datasets.md §2.5): class id 1-55 → motion. Label = id - 1."""

from pta_core.simulator.actions_mmfi import ActionDef
from pta_core.simulator.actions_xrf55 import XRF55_DAILY
from pta_core.simulator.actions_xrf55_body import XRF55_BODY
from pta_core.simulator.actions_xrf55_gestures import XRF55_GESTURES

XRF55_ACTIONS: dict[int, ActionDef] = {**XRF55_DAILY, **XRF55_BODY, **XRF55_GESTURES}
assert sorted(XRF55_ACTIONS) == list(range(1, 56)), "every XRF55 class needs exactly one motion"

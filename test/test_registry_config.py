from __future__ import annotations

import pytest

from pta_core.config import Config, ConfigError, apply_overrides, from_dict, load_config, to_dict
from pta_core.registry import Registry


def test_registry_refuses_duplicates_and_lists_known_names():
    reg: Registry[int] = Registry("thing")
    reg.register("a", 1)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a", 2)
    with pytest.raises(KeyError, match="known: a"):
        reg.get("b")
    assert reg.get("a") == 1 and "a" in reg and list(reg) == ["a"]


def test_config_round_trip_and_overrides(tmp_path):
    cfg = load_config(None, ["train.lr=0.001", "data.modalities=[depth, lidar]", "purify.mode=lookahead"])
    assert cfg.train.lr == 0.001
    assert cfg.data.modalities == ("depth", "lidar")
    assert cfg.purify.mode == "lookahead"
    assert from_dict(Config, to_dict(cfg)) == cfg
    path = tmp_path / "c.yaml"
    from pta_core.config import dump_config

    dump_config(cfg, path)
    assert load_config(path) == cfg


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.lrr=1", "unknown key"),
        ("train.lr=fast", "expected a number"),
        ("train.epochs=1.5", "expected an integer"),
        ("purify.mode=magic", "not one of"),
        ("data.preprocess.depth_size=[1,2,3]", "expected 2 items"),
        ("train.amp=1", "expected true/false"),
        ("nonsense", "not of the form"),
    ],
)
def test_config_rejects_bad_values(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_overrides_do_not_mutate_input():
    data = {"train": {"lr": 1.0}}
    out = apply_overrides(data, ["train.lr=2"])
    assert data["train"]["lr"] == 1.0 and out["train"]["lr"] == 2


def test_atomic_writes_get_the_usual_permissions(tmp_path):
    import os
    import stat

    from pta_core.io import atomic_write_text

    atomic_write_text(tmp_path / "a.txt", "x")
    plain = tmp_path / "b.txt"
    plain.write_text("x")
    mode = stat.S_IMODE(os.stat(tmp_path / "a.txt").st_mode)
    assert mode == stat.S_IMODE(os.stat(plain).st_mode)

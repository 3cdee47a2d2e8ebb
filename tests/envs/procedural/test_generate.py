from dataclasses import replace

from sole.envs.procedural.generate import attempt, check_world, generate
from sole.envs.procedural.layouts import sample_world


def test_generation_is_deterministic_and_records_rejections(tmp_path, monkeypatch):
    monkeypatch.setenv("SOLE_CACHE", str(tmp_path / "first"))
    generate.cache_clear()
    a = generate(3)
    monkeypatch.setenv("SOLE_CACHE", str(tmp_path / "second"))  # a fresh disk cache: searched again
    generate.cache_clear()
    b = generate(3)
    assert a.world == b.world and a.rejected == b.rejected and a.world is not None


def test_a_seed_is_read_back_from_the_disk_cache_without_searching(tmp_path, monkeypatch):
    from sole.envs.procedural import generate as gen

    monkeypatch.setenv("SOLE_CACHE", str(tmp_path))
    generate.cache_clear()
    made = generate(5)
    generate.cache_clear()
    monkeypatch.setattr(gen, "attempt", lambda *a: (_ for _ in ()).throw(AssertionError("searched again")))
    assert generate(5) == made


def test_an_unreadable_cache_entry_is_generated_again(tmp_path, monkeypatch):
    from sole.envs.procedural import generate as gen

    monkeypatch.setenv("SOLE_CACHE", str(tmp_path))
    generate.cache_clear()
    made = generate(5)
    entry = next((tmp_path / "procedural" / "worlds").rglob("5.json"))
    entry.write_text("{not json")
    generate.cache_clear()
    assert generate(5) == made and gen._read(entry, 5) == made


def test_interpenetrating_layout_is_rejected():
    w = sample_world(1, 0, ("pick-place",))
    overlapping = replace(w, prims=(w.prims[0], replace(w.prims[0], name="obj1", colour="black")))
    assert check_world(overlapping) == "interpenetrates"


def test_unreachable_layout_is_rejected():
    w = sample_world(1, 0, ("touch",))
    far = replace(w, prims=(replace(w.prims[0], xy=(0.6, 0.6)),))
    assert check_world(far) == "unreachable"


def test_a_layout_whose_expert_fails_is_rejected():
    w = sample_world(0, 0, ("lift",))
    assert check_world(replace(w, offset=(0.0, 0.0, 0.5))) in ("expert fails", "unreachable")


def test_a_model_mujoco_cannot_build_is_recorded_not_raised(monkeypatch):
    from sole.envs.procedural import generate as gen

    monkeypatch.setattr(gen, "check_world", lambda world: (_ for _ in ()).throw(ValueError("XML Error")))
    assert attempt(1, 0) == "build error: ValueError"

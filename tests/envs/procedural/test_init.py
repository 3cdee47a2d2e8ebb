import pytest

from sole.envs.procedural import parse, task_spec
from sole.envs.tasks import TASK_GROUPS, get_task, resolve_tasks, scene_goals


@pytest.mark.parametrize("name", ["proc:abc", "proc:-1", "proc:", "proc:1:reverse", "proc:1.5", "proc: 3"])
def test_malformed_names_fail_with_one_clear_message(name):
    with pytest.raises(ValueError, match="malformed procedural task name .*proc:<seed>"):
        get_task(name)


def test_names_parse_and_normalise():
    assert parse("proc:007") == (7, False) and parse("proc:12:opposite") == (12, True)
    assert task_spec("proc:001").name == "proc:1"


def test_a_proc_task_is_a_task_everywhere_but_in_no_meta_world_fold():
    spec = get_task("proc:1")
    assert spec.fold == "proc" and len(spec.goals) >= 5 and len(set(spec.goals)) == len(spec.goals)
    assert resolve_tasks("proc:1,reach") == ("proc:1", "reach")
    assert not any(n.startswith("proc:") for group in TASK_GROUPS.values() for n in group)


def test_a_range_names_consecutive_generated_tasks():
    assert resolve_tasks("proc:0-2,reach") == ("proc:0", "proc:1", "proc:2", "reach")
    with pytest.raises(ValueError, match="empty task range"):
        resolve_tasks("proc:3-1")


def test_opposites_share_the_scene_and_point_at_each_other():
    spec = get_task("proc:0")  # a slider: it has an opposite
    other = get_task(spec.opposite)
    assert other.opposite == spec.name and other.scene == spec.scene
    assert scene_goals(spec.name) == (spec.name, other.name)
    assert set(spec.goals).isdisjoint(other.goals)


def test_a_task_without_an_opposite_says_so():
    assert get_task("proc:1").opposite is None  # stack
    with pytest.raises(ValueError, match="has no opposite"):
        get_task("proc:1:opposite")


def test_a_seed_the_generator_cannot_build_is_a_clear_error(monkeypatch, tmp_path):
    from sole.envs.procedural import generate as gen
    from sole.envs.procedural.layouts import LayoutError

    def crowded(seed, k, verbs):
        raise LayoutError("crowded: no free spot")

    monkeypatch.setattr(gen, "sample_world", crowded)
    monkeypatch.setenv("SOLE_CACHE", str(tmp_path))  # the broken generator's outcome stays out of the shared cache
    gen.generate.cache_clear()
    try:
        with pytest.raises(ValueError, match=r"proc:999: the generator built no sound task in 12 attempts \(crowded\)"):
            get_task("proc:999")
    finally:
        gen.generate.cache_clear()


def test_describe_lists_verb_parts_goals_and_the_opposite():
    from sole.envs.procedural import describe

    row = describe(0)
    assert row["task"] == "proc:0" and row["verb"] == "slide" and "slider" in row["objects"]
    assert "opposite: slide the slider to the left" in row["goals"]

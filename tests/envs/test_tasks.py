import pytest

from sole.envs.tasks import TASK_GROUPS, TASKS, get_task, resolve_tasks, scene_goals

REWIND = ["window-close", "reach-wall", "faucet-close", "coffee-button", "button-press-wall", "door-lock",
          "handle-press-side", "sweep-into"]


def test_fifty_tasks_in_two_folds_of_25():
    assert len(TASKS) == 50
    assert len(TASK_GROUPS["fold-a"]) == len(TASK_GROUPS["fold-b"]) == 25


def test_every_task_has_three_goals():
    assert all(len(s.goals) >= 3 and len(set(s.goals)) == len(s.goals) for s in TASKS.values())


def test_opposites_share_a_scene_and_sit_in_opposite_folds():
    for spec in TASKS.values():
        if spec.opposite:
            other = TASKS[spec.opposite]
            assert other.opposite == spec.name and other.scene == spec.scene
            assert other.fold != spec.fold


def test_rewind_tasks_split_evenly():
    assert sorted(get_task(n).fold for n in REWIND) == ["a"] * 4 + ["b"] * 4


def test_resolve_groups_and_names():
    assert resolve_tasks("fold-a,window-open-v3")[-1] == "window-open"
    assert scene_goals("window-close") == ("window-close", "window-open")


def test_unknown_task_names_valid_choices():
    with pytest.raises(ValueError, match="valid tasks: .*window-close"):
        get_task("window-shut")


def test_task_index_is_stable_for_meta_world_and_generated_tasks():
    from sole.envs.tasks import task_index

    assert [task_index(n) for n in TASKS] == list(range(50))
    assert task_index("proc:1") == 52 and task_index("proc:0:opposite") == 51
